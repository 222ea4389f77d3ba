"""The email body: an HTML table that fits 800 px, a plain-text alternative, and the CSV.

Rendered from the domain objects `documents.parse` reads; the rows below are the email's own
view of them (age in days, marks), built in one place for both bodies and the subject.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from .. import serialize
from ..documents import Document
from ..findings import age_days
from ..model import Inventory, InventoryError, Listing
from ..params import CONTROL_RE
from ..render.tabular import csv_text

if TYPE_CHECKING:
    import jinja2

OLD_KEY_DAYS = 90  # the usual rotation period (CIS AWS Foundations Benchmark, IAM.3)


@dataclass(frozen=True, slots=True)
class KeyRow:
    """One access key as the email shows it; inventory-only fields stay empty for a listing."""

    user_name: str
    access_key_id: str
    status: str
    create_date: datetime
    age_days: int
    partition: str = ""
    account_id: str = ""
    last_used_date: datetime | None = None
    findings: tuple[str, ...] = ()

    @property
    def active(self) -> bool:
        """Whether the key can sign requests."""
        return self.status == "Active"

    @property
    def old(self) -> bool:
        """Whether the key is older than the rotation period."""
        return self.age_days > OLD_KEY_DAYS


@dataclass(frozen=True, slots=True)
class ResultRows:
    """A result as rows: its kind ("listing" or "inventory"), its keys and what it warns about."""

    kind: str
    rows: tuple[KeyRow, ...]
    partitions: tuple[str, ...] = ()
    truncated: tuple[str, ...] = ()
    errors: tuple[str, ...] = ()
    # The inventory's own counts, which include users without keys and account findings.
    inventory_users: int | None = None
    inventory_findings: int | None = None

    @property
    def users(self) -> int:
        """Users: the inventory's count, or the distinct users that have a key."""
        if self.inventory_users is not None:
            return self.inventory_users
        return len({(r.partition, r.account_id, r.user_name) for r in self.rows})

    @property
    def inactive(self) -> int:
        """Keys that are not Active."""
        return sum(not r.active for r in self.rows)

    @property
    def old(self) -> int:
        """Keys older than the rotation period."""
        return sum(r.old for r in self.rows)

    @property
    def findings(self) -> int:
        """Findings (inventory only)."""
        return self.inventory_findings or 0


def rows(document: Document, *, now: datetime) -> ResultRows:
    """The rows of a result; a listing's ages are counted to `now`, an inventory's to its run."""
    if isinstance(document, Inventory):
        return _inventory_rows(document)
    keyed = any(listing.partition for listing in document)
    return ResultRows(
        kind="listing",
        rows=tuple(_listing_row(listing, key, now) for listing in document for key in listing.keys),
        partitions=tuple(listing.partition for listing in document) if keyed else (),
        truncated=tuple(_truncated(listing) for listing in document if listing.is_truncated))


def _listing_row(listing: Listing, key: Any, now: datetime) -> KeyRow:
    """One AccessKeyMetadata member."""
    return KeyRow(user_name=key.user_name, access_key_id=key.access_key_id, status=key.status,
                  create_date=key.create_date, age_days=age_days(key.create_date, now),
                  partition=listing.partition)


def _truncated(listing: Listing) -> str:
    """The note of a truncated listing: where more keys follow."""
    return (f"{listing.partition or 'result'} truncated: more keys follow Marker "
            f"{listing.marker!r}")


def _inventory_rows(inv: Inventory) -> ResultRows:
    """An inventory's key records, with last use and findings, and its errors as lines."""
    return ResultRows(
        kind="inventory",
        rows=tuple(KeyRow(user_name=k.user_name, access_key_id=k.access_key_id,
                          status=k.status, create_date=k.create_date,
                          age_days=age_days(k.create_date, inv.generated_at),
                          account_id=k.account_id,
                          last_used_date=k.last_used.date if k.last_used else None,
                          findings=tuple(f.rule for f in k.findings))
                   for k in inv.keys),
        errors=tuple(_error_line(error) for error in inv.errors),
        inventory_users=inv.users, inventory_findings=inv.findings)


def _error_line(error: InventoryError) -> str:
    """One inventory error as a line of text: account, user, key, operation, code, message."""
    parts = [("AccountId", error.account_id), ("UserName", error.user_name),
             ("AccessKeyId", error.access_key_id), ("Operation", error.operation),
             ("Code", error.code), ("Message", error.message)]
    return "; ".join(f"{name}: {value}" for name, value in parts if value)


def html(result: ResultRows, *, title: str, generated: datetime) -> str:
    """The HTML part: summary, legend and one table row per key (or "No access keys found")."""
    return _environment().get_template("email.html.j2").render(
        _context(result, title, generated))


def text(result: ResultRows, *, title: str, generated: datetime) -> str:
    """The text/plain alternative: the same content as aligned columns."""
    context = _context(result, title, generated)
    context["table"] = _aligned(_text_header(result), [_text_row(result, r) for r in result.rows])
    return _environment().get_template("email.txt.j2").render(context)


def csv_attachment(document: Document) -> str:
    """The CSV attachment: one row per key, in the JSON's field names."""
    if isinstance(document, Inventory):
        return csv_text(serialize.INVENTORY_COLUMNS, serialize.inventory_rows(document))
    cells = [[serialize.key_metadata(key)[name] for name in serialize.KEY_FIELDS]
             for listing in document for key in listing.keys]
    if any(listing.partition for listing in document):
        partitions = [listing.partition for listing in document for _ in listing.keys]
        return csv_text(("Partition", *serialize.KEY_FIELDS),
                        [[p, *row] for p, row in zip(partitions, cells, strict=True)])
    return csv_text(serialize.KEY_FIELDS, cells)


def _context(result: ResultRows, title: str, generated: datetime) -> dict[str, Any]:
    """What both templates see."""
    return {"title": title, "generated": generated, "result": result, "old_days": OLD_KEY_DAYS,
            "inventory": result.kind == "inventory",
            "partitions": result.partitions if len(result.partitions) > 1 else ()}


def _text_header(result: ResultRows) -> list[str]:
    """Column names of the plain-text table."""
    header = ["User", "Access key ID", "Status", "Created", "Age"]
    if result.kind == "inventory":
        return ["Account", *header, "Last used", "Findings", "Marks"]
    if len(result.partitions) > 1:
        return ["Partition", *header, "Marks"]
    return [*header, "Marks"]


def _text_row(result: ResultRows, row: KeyRow) -> list[str]:
    """One key as plain-text cells, control characters made visible."""
    marks = " ".join(m for m, on in (("[INACTIVE]", not row.active), ("[OLD]", row.old)) if on)
    cells = [row.user_name, row.access_key_id, row.status, _day(row.create_date),
             str(row.age_days)]
    if result.kind == "inventory":
        used = _day(row.last_used_date) if row.last_used_date else "never"
        cells = [row.account_id, *cells, used, " ".join(row.findings) or "-", marks]
    elif len(result.partitions) > 1:
        cells = [row.partition, *cells, marks]
    else:
        cells = [*cells, marks]
    return [CONTROL_RE.sub("\ufffd", cell) for cell in cells]


def _aligned(header: list[str], rows: list[list[str]]) -> list[str]:
    """Rows padded into left-aligned columns two spaces apart."""
    widths = [max(len(line[i]) for line in [header, *rows]) for i in range(len(header))]
    rule = ["-" * w for w in widths]
    return ["  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)).rstrip()
            for line in [header, rule, *rows]]


def _day(value: datetime | None) -> str:
    """A UTC date as YYYY-MM-DD."""
    return value.strftime("%Y-%m-%d") if value else ""


def _when(value: datetime) -> str:
    """A UTC time to the minute."""
    return value.strftime("%Y-%m-%d %H:%M UTC")


def _plural(word: str, count: int) -> str:
    """`word` or `word`s for `count`."""
    return word if count == 1 else word + "s"


@functools.cache
def _environment() -> jinja2.Environment:
    """The Jinja2 environment: autoescape for .html.j2 (and any unknown name), strict undefined."""
    import jinja2

    environment = jinja2.Environment(
        loader=jinja2.PackageLoader("iamkeys", "mail/templates"),
        autoescape=jinja2.select_autoescape(enabled_extensions=("html.j2",),
                                            disabled_extensions=("txt.j2",), default=True),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    environment.filters.update(day=_day, when=_when, plural=_plural)
    return environment

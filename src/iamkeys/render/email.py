"""The email body: an HTML table that fits 800 px, a plain-text alternative, and the CSV."""

from __future__ import annotations

import functools
from datetime import datetime
from typing import TYPE_CHECKING, Any

from ..mail_document import OLD_KEY_DAYS, KeyRow, ResultRows
from ..params import CONTROL_RE
from ..serialize import KEY_FIELDS, timestamp
from .tabular import csv_text

if TYPE_CHECKING:
    import jinja2

INVENTORY_FIELDS = ("AccountId", "UserName", "UserCreateDate", "AccessKeyId", "Status",
                    "CreateDate", "AgeDays", "LastUsedDate", "LastUsedService", "LastUsedRegion",
                    "Findings")


def html(result: ResultRows, *, title: str, generated: datetime) -> str:
    """The HTML part: summary, legend and one table row per key (or "No access keys found")."""
    return _environment().get_template("email.html.j2").render(
        _context(result, title, generated))


def text(result: ResultRows, *, title: str, generated: datetime) -> str:
    """The text/plain alternative: the same content as aligned columns."""
    context = _context(result, title, generated)
    context["table"] = _aligned(_text_header(result), [_text_row(result, r) for r in result.rows])
    return _environment().get_template("email.txt.j2").render(context)


def csv_attachment(result: ResultRows) -> str:
    """The CSV attachment: one row per key, in the JSON's field names."""
    if result.kind == "inventory":
        return csv_text(INVENTORY_FIELDS, [_inventory_cells(r) for r in result.rows])
    if result.partitions:
        return csv_text(("Partition", *KEY_FIELDS),
                        [(r.partition, *_listing_cells(r)) for r in result.rows])
    return csv_text(KEY_FIELDS, [_listing_cells(r) for r in result.rows])


def _listing_cells(row: KeyRow) -> tuple[object, ...]:
    """A listing row in KEY_FIELDS order."""
    return (row.access_key_id, timestamp(row.create_date), row.status, row.user_name)


def _inventory_cells(row: KeyRow) -> tuple[object, ...]:
    """An inventory row in INVENTORY_FIELDS order."""
    return (row.account_id, row.user_name, timestamp(row.user_create_date), row.access_key_id,
            row.status, timestamp(row.create_date), row.age_days, timestamp(row.last_used_date),
            row.last_used_service, row.last_used_region, " ".join(row.findings))


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
        loader=jinja2.PackageLoader("iamkeys", "render/templates"),
        autoescape=jinja2.select_autoescape(enabled_extensions=("html.j2",),
                                            disabled_extensions=("txt.j2",), default=True),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    environment.filters.update(day=_day, when=_when, plural=_plural)
    return environment

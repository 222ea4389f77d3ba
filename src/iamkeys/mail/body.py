"""The email bodies: HTML that survives clients which strip `<style>`, text at 78 columns, the CSV.

The HTML is table markup whose words are separated by the markup itself (cells, spaces, `<br>`,
" · "), with every style inlined by css-inline: Outlook for Windows and the Gmail app with
non-Google accounts drop `<style>` blocks. Gmail clips an HTML part past ~102 KB, so the body
shows the riskiest keys up to a cap (and fewer if long values need it) and says how many more
the attachments hold. The text part wraps at 78 columns and has a legend of the marks and rules.
"""

from __future__ import annotations

import functools
import textwrap
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from .. import serialize
from ..documents import Document
from ..model import Inventory
from ..params import CONTROL_RE
from ..render.tabular import csv_text
from .settings import CSV_ATTACHMENT, JSON_ATTACHMENT
from .views import OLD_KEY_DAYS, InventoryView, ResultRows, error_line

if TYPE_CHECKING:
    import jinja2

# Gmail clips an HTML part larger than about 102 KB ("[Message clipped] View entire message");
# the body stays under this many bytes, quoted-printable overhead included.
HTML_LIMIT = 100_000
# The keys a body shows at most. Measured on generated inventories (tests/mail_samples.py), the
# riskiest rows take ~600 bytes each once inlined: 100 of 1,000 keys make 64 KB of HTML, 78 KB
# with 128-character user names (the longest IAM allows); rows longer still (crafted documents)
# are cut further to stay under HTML_LIMIT. tests/test_mail.py checks both.
MAX_KEYS_SHOWN = 100
MAX_ERRORS_SHOWN = 20  # the rest of the errors are in the JSON attachment
WIDTH = 78  # the text part's columns (RFC 5322 §2.1.1)


def bodies(shown: ResultRows | InventoryView, *, title: str,
           generated: datetime) -> tuple[str, str]:
    """The text and HTML parts, showing the same keys: at most MAX_KEYS_SHOWN, and no more
    than keep the HTML (styles inlined) under HTML_LIMIT bytes as sent."""
    if isinstance(shown, InventoryView):
        count, page = _fitted(lambda n: _inventory_html(shown.shown(n), title), len(shown.rows))
        return _inventory_text(shown.shown(count), title), page
    count, page = _fitted(lambda n: _listing_html(shown, title, generated, n), len(shown.rows))
    return _listing_text(shown, title, generated, count), page


def _fitted(render: Callable[[int], str], rows: int) -> tuple[int, str]:
    """The most rows (at most MAX_KEYS_SHOWN) whose `render(count)` stays under HTML_LIMIT."""
    count = min(rows, MAX_KEYS_SHOWN)
    page = render(count)
    if _encoded_size(page) <= HTML_LIMIT:
        return count, page
    low, high = 0, count  # the largest count that fits is in [low, high)
    while high - low > 1:
        middle = (low + high) // 2
        if _encoded_size(render(middle)) <= HTML_LIMIT:
            low = middle
        else:
            high = middle
    return low, render(low)


def _encoded_size(page: str) -> int:
    """The size of the HTML part as sent: quoted-printable, 76-column lines, CRLF."""
    import quopri

    return len(quopri.encodestring(page.replace("\n", "\r\n").encode()))


def _inline(page: str) -> str:
    """The page with every <style> rule moved into style attributes, the <style> block gone."""
    import css_inline

    return str(css_inline.inline(page, keep_style_tags=False, load_remote_stylesheets=False,
                                 minify_css=True))


def _listing_html(result: ResultRows, title: str, generated: datetime, count: int) -> str:
    """The listing's HTML part showing its first `count` keys."""
    return _inline(_environment().get_template("email.html.j2").render(
        _listing_context(result, title, generated, count)))


def _inventory_html(view: InventoryView, title: str) -> str:
    """The inventory's HTML part for a view (already cut to the keys it shows)."""
    return _inline(_environment().get_template("inventory.html.j2").render(
        _inventory_context(view, title)))


def _inventory_text(view: InventoryView, title: str) -> str:
    """The inventory's text part for a view (already cut to the keys it shows)."""
    return _environment().get_template("inventory.txt.j2").render(
        _inventory_context(view, title))


def _listing_text(result: ResultRows, title: str, generated: datetime, count: int) -> str:
    """The listing's text part showing its first `count` keys."""
    context = _listing_context(result, title, generated, count)
    context["table"] = _listing_table(result, count)
    return _environment().get_template("email.txt.j2").render(context)


def _common(title: str) -> dict[str, Any]:
    """What every template sees."""
    return {"title": title, "json_name": JSON_ATTACHMENT, "csv_name": CSV_ATTACHMENT,
            "width": WIDTH}


def _listing_context(result: ResultRows, title: str, generated: datetime,
                     count: int) -> dict[str, Any]:
    """The listing templates' context; `count` of its keys are shown."""
    return {**_common(title), "generated": generated, "result": result, "old_days": OLD_KEY_DAYS,
            "rows": result.rows[:count], "hidden": len(result.rows) - count,
            "partitions": result.partitions if len(result.partitions) > 1 else ()}


def _inventory_context(view: InventoryView, title: str) -> dict[str, Any]:
    """The inventory templates' context."""
    errors = view.errors[:MAX_ERRORS_SHOWN]
    return {**_common(title), "view": view, "errors": errors,
            "error_lines": [error_line(e) for e in errors],
            "hidden_errors": len(view.errors) - len(errors),
            "several_accounts": view.accounts > 1}


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


# --- the text part -----------------------------------------------------------------------------


def _listing_table(result: ResultRows, count: int) -> list[str]:
    """The listing's keys as aligned columns when they fit in 78 columns, else one block each
    (the user on its own lines, then the key's fields)."""
    several = len(result.partitions) > 1
    header = ["Partition"] * several + ["User", "Access key ID", "Status", "Created", "Age"]
    rows = [[r.partition] * several + [r.user_name, r.access_key_id, r.status,
                                       _day(r.create_date), _age(r.age_days, r.old)]
            for r in result.rows[:count]]
    table = _aligned(header, [[_visible(c) for c in row] for row in rows])
    if all(len(line) <= WIDTH for line in table):
        return table
    lines: list[str] = []
    for r in result.rows[:count]:
        lines += _wrap(r.user_name + (f" ({r.partition})" if several else ""), indent="")
        lines += _wrap(f"{r.access_key_id}  {r.status}  created {_day(r.create_date)}  "
                       f"{_age(r.age_days, r.old, unit=' days')}", indent="    ")
    return lines


def _age(days: int, old: bool, unit: str = "") -> str:
    """An age in days, marked [OLD] past the rotation period."""
    return f"{days}{unit}" + " [OLD]" * old


def _aligned(header: list[str], rows: list[list[str]]) -> list[str]:
    """Rows padded into left-aligned columns two spaces apart."""
    widths = [max(len(line[i]) for line in [header, *rows]) for i in range(len(header))]
    rule = ["-" * w for w in widths]
    return ["  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)).rstrip()
            for line in [header, rule, *rows]]


def _wrap(value: str, indent: str = "   ", first: str | None = None) -> list[str]:
    """`value` in lines of at most 78 columns; words longer than a line are cut."""
    return textwrap.wrap(_visible(value), WIDTH, initial_indent=indent if first is None else first,
                         subsequent_indent=indent, break_long_words=True,
                         break_on_hyphens=False) or [indent.rstrip()]


def _wrap_filter(value: Any, indent: str = "   ", first: str | None = None) -> str:
    """The `wrap` filter of the text templates: wrapped lines joined by newlines."""
    return "\n".join(_wrap(str(value), indent, first))


def _visible(value: str) -> str:
    """Control characters (a crafted document's) shown as U+FFFD: no line can be added."""
    return CONTROL_RE.sub("\ufffd", value)


# --- templates ---------------------------------------------------------------------------------


def _day(value: datetime | None) -> str:
    """A UTC date as YYYY-MM-DD."""
    return value.strftime("%Y-%m-%d") if value else ""


def _when(value: datetime) -> str:
    """A UTC time to the minute."""
    return value.strftime("%Y-%m-%d %H:%M UTC")


def _plural(word: str, count: int) -> str:
    """`word` or `word`s for `count`."""
    return word if count == 1 else word + "s"


def _count(count: int, word: str) -> str:
    """`1 key`, `1000 keys`."""
    return f"{count} {_plural(word, count)}"


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
    environment.filters.update(day=_day, when=_when, plural=_plural, count=_count,
                               wrap=_wrap_filter)
    return environment

"""CSV and terminal-table renderers for rows of plain strings."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from typing import IO

# Spreadsheet programs evaluate cells that begin with these (OWASP, "CSV Injection").
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: object) -> str:
    """A CSV cell that a spreadsheet will not run as a formula."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def csv_text(header: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    """RFC 4180 CSV with a header row; every cell neutralised against formula injection."""
    out = io.StringIO()
    write_csv(header, rows, out)
    return out.getvalue()


def write_csv(header: Sequence[str], rows: Iterable[Sequence[object]], stream: IO[str]) -> None:
    """The same CSV as `csv_text`, written row by row as `rows` yields them."""
    writer = csv.writer(stream, lineterminator="\r\n")
    writer.writerow([safe_cell(h) for h in header])
    writer.writerows([safe_cell(c) for c in row] for row in rows)


def table_text(header: Sequence[str], rows: Iterable[Sequence[object]], *, title: str = "",
               width: int | None = None) -> str:
    """A boxed text table (rich), rendered without colour so it pipes cleanly."""
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    table = Table(title=title or None, show_lines=False)
    for name in header:
        table.add_column(name, overflow="fold")
    for row in rows:
        # Text() keeps user-controlled values (user names, tags) from being read as markup.
        table.add_row(*(Text("" if c is None else str(c)) for c in row))
    console = Console(file=io.StringIO(), width=width or 200, color_system=None,
                      force_terminal=False, legacy_windows=False)
    console.print(table)
    buffer = console.file
    assert isinstance(buffer, io.StringIO)
    return buffer.getvalue()

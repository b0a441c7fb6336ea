"""Documents the site hands out: one CSV writer for every export.

A cell that starts with ``=``, ``+``, ``-``, ``@`` (or a tab or carriage return) is a
formula to a spreadsheet; such a cell gets a leading apostrophe so it stays text (OWASP's
advice for CSV injection). Every CSV export writes its lines through ``csv_line``.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: object) -> str:
    """``value`` as text a spreadsheet will not evaluate."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def csv_line(values: Iterable[object]) -> str:
    """One CSV line (with its line ending) of neutralised cells."""
    buffer = io.StringIO()
    csv.writer(buffer).writerow([safe_cell(v) for v in values])
    return buffer.getvalue()

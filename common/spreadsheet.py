"""CSV cells that a spreadsheet shows as text: a cell starting with = + - @ (or a tab or carriage
return) would be read as a formula (CSV injection), so such text gets a leading apostrophe."""

from __future__ import annotations

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def text_cell(value) -> str:
    """`value` as CSV text that no spreadsheet evaluates; numbers are left to the caller."""
    text = str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text

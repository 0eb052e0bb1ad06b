"""argparse `type=` functions for numeric options with a range: a value out of range (NaN and
infinity included) is argparse's own one-line usage error, exit 2, before anything runs."""

from __future__ import annotations

import argparse
import math


def int_at_least(minimum: int):
    """An integer >= `minimum`."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"{text!r}: must be at least {minimum}")
        return value

    parse.__name__ = f"integer >= {minimum}"
    return parse


def int_in(low: int, high: int):
    """An integer in [low, high]."""
    at_least = int_at_least(low)

    def parse(text: str) -> int:
        value = at_least(text)
        if value > high:
            raise argparse.ArgumentTypeError(f"{text!r}: must be at most {high}")
        return value

    parse.__name__ = f"integer in [{low}, {high}]"
    return parse


def float_in(low: float, high: float, open_low: bool = False, open_high: bool = False, what: str = "a number"):
    """A finite float in [low, high]; `open_low` / `open_high` exclude the ends; `what` names
    the value in the error."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
        inside = (
            math.isfinite(value)
            and (low < value if open_low else low <= value)
            and (value < high if open_high else value <= high)
        )
        if not inside:
            raise argparse.ArgumentTypeError(
                f"{text!r}: must be {what} in {'(' if open_low else '['}{low:g}, {high:g}{')' if open_high else ']'}"
            )
        return value

    parse.__name__ = "number"
    return parse

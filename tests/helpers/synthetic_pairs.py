"""A synthetic View 2 style pairs file shared by the protocol tests."""

from __future__ import annotations


def pairs_lines(folds: int, per_class: int) -> tuple[list[str], int]:
    """Lines of a pairs file (header first) over people P0, P1, ...; returns (lines, people)."""
    lines, person = [f"{folds} {per_class}"], 0
    for _ in range(folds):
        for _ in range(per_class):
            lines.append(f"P{person} 1 2")
            person += 1
        for _ in range(per_class):
            lines.append(f"P{person} 1 P{person + 1} 1")
            person += 2
    return lines, person

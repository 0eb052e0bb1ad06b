"""A collapsed run: the logged loss holds one value, so the network gives every face the same output.

Random batches never log one loss twice otherwise. Seen without BN at LR 0.1 (regime set, seed 1):
from step 250 every batch's AM-softmax loss was ln(1118 + e^-10.5) + 10.5 = 17.5193, every class
cosine 0 among 1,119 classes, and nothing more was learnt in the 1,190 steps left. A loss held at
0 is a solved batch, not a collapse. The rule is read during training (`CollapseWatch`, a warning
in the run's log) and after it (experiments/convergence.py, the table's verdict).
"""

from __future__ import annotations

import collections
import logging

import numpy as np

COLLAPSE_LOGS = 10  # logged points in a row at one value
LOGGED_DIGITS = 6  # significant digits of a logged value, as TensorBoard shows it and run records keep it
COLLAPSE_TOLERANCE = 2e-5  # relative, between values at LOGGED_DIGITS: a rounding step or two apart


def at_logged_digits(values) -> np.ndarray:
    """The values rounded to LOGGED_DIGITS significant digits."""
    return np.array([float(f"{value:.{LOGGED_DIGITS}g}") for value in values], dtype=float)


def frozen_since(steps, losses) -> int | None:
    """The first step of the constant stretch that ends the curve when it spans COLLAPSE_LOGS or
    more logged points, else None. The losses are compared at LOGGED_DIGITS, so a run's curve and
    its record's rounded copy get the same answer."""
    losses = at_logged_digits(losses)
    if len(losses) == 0 or not np.isfinite(losses[-1]) or abs(losses[-1]) <= COLLAPSE_TOLERANCE:
        return None
    same = np.abs(losses - losses[-1]) <= COLLAPSE_TOLERANCE * abs(losses[-1])
    length = len(same) if same.all() else int(np.argmin(same[::-1]))
    return int(steps[len(steps) - length]) if length >= COLLAPSE_LOGS else None


class CollapseWatch:
    """Warns once in the run's log when the logged loss freezes. The run goes on: a set's row must
    keep its length to be compared, and the verdict says "collapses" afterwards."""

    def __init__(self, log: logging.Logger):
        self.log = log
        self.recent = collections.deque(maxlen=COLLAPSE_LOGS)
        self.warned = False

    def add(self, step: int, loss: float) -> None:
        self.recent.append((step, loss))
        if self.warned:
            return
        steps, losses = zip(*self.recent, strict=True)
        since = frozen_since(steps, losses)
        if since is not None:
            self.warned = True
            self.log.warning(
                f"step {step}: the loss has been {loss:.6g} at every log since step {since}: "
                "the network gives every face the same output (a collapse) and is unlikely "
                "to learn more; stop it (Ctrl-C keeps a checkpoint) and lower the learning "
                "rate or turn batch norm on"
            )

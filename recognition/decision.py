"""The one match rule of verify.py and identify.py, and the checks that keep it fail-closed.

A score matches when it is >= the threshold (the rule eval_lfw.py's thresholds were chosen for).
A NaN score or threshold never matches; thresholds are finite cosines in [-1, 1]; non-finite
embeddings (a broken model or a damaged gallery) are an error, never a comparison.
"""

from __future__ import annotations

import math

import numpy as np

from common.errors import UserValueError


def is_match(score: float, threshold: float) -> bool:
    """True only for finite `score` >= finite `threshold`."""
    return math.isfinite(score) and math.isfinite(threshold) and score >= threshold


def check_threshold(value: float, source: str) -> float:
    """`value` as a float when it is a finite cosine similarity in [-1, 1]; `source` names it."""
    value = float(value)
    if not (math.isfinite(value) and -1.0 <= value <= 1.0):
        raise UserValueError(f"{source}: threshold {value!r} is not a cosine similarity in [-1, 1]")
    return value


def require_finite(vectors: np.ndarray, what: str) -> np.ndarray:
    """`vectors` unchanged when every value is finite, else an error naming `what`."""
    vectors = np.asarray(vectors)
    if not np.all(np.isfinite(vectors)):
        bad = int(np.count_nonzero(~np.isfinite(vectors).all(axis=-1))) if vectors.ndim else 1
        raise UserValueError(
            f"{what}: {bad} embedding(s) hold NaN or infinity (a broken model "
            f"or a damaged file); nothing can be matched against them"
        )
    return vectors

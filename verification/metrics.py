"""Verification metrics on pair scores (NumPy only; higher score = more likely the same person).

Every decision rule is `same if score >= threshold`. All functions take `scores` (float [N]) and
`is_same` (bool [N]) and are exact (no threshold grid), so results do not depend on a step size.
"""

from __future__ import annotations

import numpy as np


def _check(scores, is_same) -> tuple[np.ndarray, np.ndarray]:
    scores = np.asarray(scores, dtype=np.float64).ravel()
    is_same = np.asarray(is_same, dtype=bool).ravel()
    if scores.shape != is_same.shape:
        raise ValueError(f"{scores.size} scores but {is_same.size} labels")
    if scores.size == 0:
        raise ValueError("no pairs to evaluate")
    if not np.all(np.isfinite(scores)):
        raise ValueError(f"{np.count_nonzero(~np.isfinite(scores))} scores are NaN or infinite")
    return scores, is_same


def accuracy(scores, is_same, threshold: float) -> float:
    """Fraction of pairs classified correctly by `same if score >= threshold`."""
    scores, is_same = _check(scores, is_same)
    return float(np.mean((scores >= threshold) == is_same))


def best_threshold(scores, is_same) -> tuple[float, float]:
    """The threshold maximising accuracy, and that accuracy.

    Candidates are the midpoints between consecutive distinct scores plus one value below the
    lowest and one above the highest score (distance 1, i.e. "all same" / "all different").
    Ties go to the smallest candidate, so the rule is deterministic.
    """
    scores, is_same = _check(scores, is_same)
    distinct = np.unique(scores)
    candidates = np.concatenate([[distinct[0] - 1.0], (distinct[:-1] + distinct[1:]) / 2, [distinct[-1] + 1.0]])
    same_sorted = np.sort(scores[is_same])
    diff_sorted = np.sort(scores[~is_same])
    # Candidate j separates distinct[:j] (called different) from distinct[j:] (called same).
    upper_of_rejected = np.concatenate([[-np.inf], distinct])
    same_rejected = np.searchsorted(same_sorted, upper_of_rejected, side="right")
    diff_rejected = np.searchsorted(diff_sorted, upper_of_rejected, side="right")
    correct = (same_sorted.size - same_rejected) + diff_rejected
    best = int(np.argmax(correct))
    return float(candidates[best]), float(correct[best] / scores.size)


def val_far(scores, is_same, threshold: float) -> tuple[float, float]:
    """(VAL, FAR): fractions of same pairs and of different pairs accepted at `threshold`."""
    scores, is_same = _check(scores, is_same)
    if not is_same.any() or is_same.all():
        raise ValueError("VAL/FAR need both same and different pairs")
    accepted = scores >= threshold
    return float(accepted[is_same].mean()), float(accepted[~is_same].mean())


def threshold_at_far(scores, is_same, far_target: float) -> float:
    """The threshold whose false-accept rate is `far_target`, linearly interpolated.

    FAR(t) is a step function. Its corners are taken at the distinct different-pair scores v
    (FAR = share of different pairs >= v, strictly increasing as v decreases, so duplicate FAR
    values cannot occur) plus FAR = 0 just above the highest one; the threshold is interpolated
    between the two corners around `far_target`. No fallback value: any target in [0, 1] has one.
    """
    scores, is_same = _check(scores, is_same)
    if not 0.0 <= far_target <= 1.0:
        raise ValueError(f"far_target must be in [0, 1], got {far_target}")
    negatives = scores[~is_same]
    if negatives.size == 0:
        raise ValueError("threshold_at_far needs different-person pairs")
    distinct_desc = np.unique(negatives)[::-1]
    accepted_at = np.searchsorted(np.sort(negatives), distinct_desc, side="left")
    fars = (negatives.size - accepted_at) / negatives.size
    far_points = np.concatenate([[0.0], fars])
    thresholds = np.concatenate([[np.nextafter(distinct_desc[0], np.inf)], distinct_desc])
    return float(np.interp(far_target, far_points, thresholds))


def roc_curve(scores, is_same) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(fpr, tpr, thresholds), one point per distinct score (descending) after the (0, 0) corner."""
    scores, is_same = _check(scores, is_same)
    if not is_same.any() or is_same.all():
        raise ValueError("a ROC curve needs both same and different pairs")
    thresholds = np.unique(scores)[::-1]
    same_sorted = np.sort(scores[is_same])
    diff_sorted = np.sort(scores[~is_same])
    tpr = 1.0 - np.searchsorted(same_sorted, thresholds, side="left") / same_sorted.size
    fpr = 1.0 - np.searchsorted(diff_sorted, thresholds, side="left") / diff_sorted.size
    return (np.concatenate([[0.0], fpr]), np.concatenate([[0.0], tpr]), np.concatenate([[np.inf], thresholds]))


def roc_auc(scores, is_same) -> float:
    """Area under the ROC curve (trapezoids; equals P(same score > different score), ties 1/2)."""
    fpr, tpr, _ = roc_curve(scores, is_same)
    return float(np.sum(np.diff(fpr) * (tpr[1:] + tpr[:-1]) / 2))


def equal_error_rate(scores, is_same) -> float:
    """The rate where FAR = FRR, linearly interpolated between the two ROC points around it."""
    fpr, tpr, _ = roc_curve(scores, is_same)
    gap = fpr - (1.0 - tpr)  # rises from -1 at the (0, 0) corner to +1 at (1, 1)
    k = int(np.argmax(gap >= 0))
    if gap[k] == 0:
        return float(fpr[k])
    share = -gap[k - 1] / (gap[k] - gap[k - 1])
    return float(fpr[k - 1] + share * (fpr[k] - fpr[k - 1]))

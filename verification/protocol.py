"""The k-fold LFW verification protocol on embeddings (one implementation for eval and training).

For each fold: optionally subtract the mean feature of the other folds (SphereFace), normalise,
score every pair, choose the accuracy-maximising threshold and the FAR-target threshold on the
other folds, and measure accuracy, VAL and FAR on the held-out fold.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from common.choices import FLIP_MODES
from common.vectors import l2_normalize
from verification import metrics

SIMILARITIES = ("cosine", "euclidean")


def combine_flip(embeddings: np.ndarray, flipped: np.ndarray | None, mode: str) -> np.ndarray:
    """Merge features of the images and of their mirror images: `none`, `concat` or `sum`."""
    if mode not in FLIP_MODES:
        raise ValueError(f"flip mode must be one of {FLIP_MODES}, got {mode!r}")
    if mode == "none":
        return np.asarray(embeddings)
    if flipped is None:
        raise ValueError(f"flip mode {mode!r} needs the flipped-image embeddings")
    if flipped.shape != embeddings.shape:
        raise ValueError(f"flipped embeddings {flipped.shape} differ from {embeddings.shape}")
    if mode == "concat":
        return np.concatenate([embeddings, flipped], axis=1)
    return embeddings + flipped


def pair_scores(left: np.ndarray, right: np.ndarray, similarity: str = "cosine") -> np.ndarray:
    """Scores of normalised pairs, higher = more similar.

    `cosine`: the cosine similarity. `euclidean`: minus the squared distance of the normalised
    features (= 2 cos - 2, same ranking as cosine; thresholds reported as distances).
    """
    if similarity not in SIMILARITIES:
        raise ValueError(f"similarity must be one of {SIMILARITIES}, got {similarity!r}")
    left, right = l2_normalize(left), l2_normalize(right)
    if similarity == "cosine":
        return np.sum(left * right, axis=1)
    return -np.sum((left - right) ** 2, axis=1)


def threshold_in_units(threshold: float, similarity: str) -> float:
    """A score threshold in the similarity's own units (squared distance for `euclidean`)."""
    return -threshold if similarity == "euclidean" else threshold


@dataclass
class VerificationResult:
    """Per-fold and summary numbers; `scores` are the held-out scores of every pair."""

    similarity: str
    subtract_mean: bool
    far_target: float
    is_same: np.ndarray
    fold_ids: np.ndarray
    scores: np.ndarray
    fold_accuracies: list[float] = field(default_factory=list)
    fold_thresholds: list[float] = field(default_factory=list)
    fold_vals: list[float] = field(default_factory=list)
    fold_fars: list[float] = field(default_factory=list)
    fold_val_thresholds: list[float] = field(default_factory=list)

    def fold_threshold_of(self, index: int) -> float:
        """The accuracy threshold (score units) that was applied to pair `index`."""
        return self.fold_thresholds[int(self.fold_ids[index])]

    def to_dict(self) -> dict:
        """JSON-ready summary; thresholds in the similarity's units (see `threshold_rule`)."""
        units = lambda values: [threshold_in_units(t, self.similarity) for t in values]
        rule = (
            "same if cosine >= threshold"
            if self.similarity == "cosine"
            else "same if squared distance of normalised features <= threshold"
        )
        return {
            "accuracy_mean": float(np.mean(self.fold_accuracies)),
            "accuracy_std": float(np.std(self.fold_accuracies)),
            "val_mean": float(np.mean(self.fold_vals)),
            "val_std": float(np.std(self.fold_vals)),
            "far_mean": float(np.mean(self.fold_fars)),
            "far_target": self.far_target,
            "auc": metrics.roc_auc(self.scores, self.is_same),
            "eer": metrics.equal_error_rate(self.scores, self.is_same),
            "num_pairs": int(self.is_same.size),
            "num_folds": len(self.fold_accuracies),
            "similarity": self.similarity,
            "subtract_mean": self.subtract_mean,
            "threshold_rule": rule,
            "fold_accuracies": list(self.fold_accuracies),
            "fold_thresholds": units(self.fold_thresholds),
            "fold_vals": list(self.fold_vals),
            "fold_fars": list(self.fold_fars),
            "fold_val_thresholds": units(self.fold_val_thresholds),
        }


def evaluate_pairs(
    left: np.ndarray,
    right: np.ndarray,
    is_same,
    fold_ids,
    similarity: str = "cosine",
    subtract_mean: bool = False,
    far_target: float = 1e-3,
) -> VerificationResult:
    """Cross-validated verification of pair features `left[i]` vs `right[i]`.

    Each fold is scored with thresholds chosen on all the other folds; with `subtract_mean`,
    the mean feature of the other folds' images (both sides of every pair) is subtracted from
    every feature before normalising, as in SphereFace's evaluation.
    """
    left, right = np.asarray(left, np.float64), np.asarray(right, np.float64)
    is_same, fold_ids = np.asarray(is_same, bool), np.asarray(fold_ids)
    if left.shape != right.shape or left.ndim != 2 or left.shape[0] != is_same.size:
        raise ValueError(f"left {left.shape} / right {right.shape} features do not match {is_same.size} pairs")
    if fold_ids.shape != is_same.shape:
        raise ValueError(f"{fold_ids.size} fold ids for {is_same.size} pairs")
    folds = np.unique(fold_ids)
    if folds.size < 2:
        raise ValueError("cross-validation needs at least 2 folds")

    result = VerificationResult(similarity, subtract_mean, far_target, is_same, fold_ids, np.zeros(is_same.size))
    shared_scores = None if subtract_mean else pair_scores(left, right, similarity)
    for fold in folds:
        test = fold_ids == fold
        train = ~test
        if shared_scores is None:
            mean = np.concatenate([left[train], right[train]]).mean(axis=0)
            scores = pair_scores(left - mean, right - mean, similarity)
        else:
            scores = shared_scores
        threshold, _ = metrics.best_threshold(scores[train], is_same[train])
        val_threshold = metrics.threshold_at_far(scores[train], is_same[train], far_target)
        val, far = metrics.val_far(scores[test], is_same[test], val_threshold)
        result.scores[test] = scores[test]
        result.fold_accuracies.append(metrics.accuracy(scores[test], is_same[test], threshold))
        result.fold_thresholds.append(threshold)
        result.fold_vals.append(val)
        result.fold_fars.append(far)
        result.fold_val_thresholds.append(val_threshold)
    return result

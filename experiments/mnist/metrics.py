"""Numbers that summarise a feature cloud: norms (radial spread) and angular compactness."""

from __future__ import annotations

import numpy as np


def unit_rows(features: np.ndarray, eps: float = 1e-12) -> np.ndarray:
    """Each row divided by its L2 norm."""
    return features / np.maximum(np.linalg.norm(features, axis=1, keepdims=True), eps)


def angle_to_class_mean(features: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Per-sample angle (degrees) between a feature and the mean direction of its class."""
    directions = unit_rows(features)
    angles = np.empty(len(labels))
    for cls in np.unique(labels):
        members = labels == cls
        centre = unit_rows(directions[members].mean(axis=0, keepdims=True))[0]
        cosines = np.clip(directions[members] @ centre, -1.0, 1.0)
        angles[members] = np.degrees(np.arccos(cosines))
    return angles


def radial_elongation(features: np.ndarray, labels: np.ndarray) -> float:
    """Mean over classes of (relative radial spread) / (angular spread).

    Radial spread is std(norm) / mean(norm); angular spread is the std (radians) of the angle to
    the class's mean direction, i.e. tangential spread per unit radius. Both are dimensionless, so
    a value well above 1 means a class forms a thin wedge stretched along its radius (the
    article's observation for SphereFace), about 1 a round blob.
    """
    norms = np.linalg.norm(features, axis=1)
    angles = np.radians(angle_to_class_mean(features, labels))
    ratios = []
    for cls in np.unique(labels):
        members = labels == cls
        radial = norms[members].std() / norms[members].mean()
        # RMS angle rather than std: the angle is measured from the class direction, its "centre".
        angular = np.sqrt(np.mean(angles[members] ** 2))
        ratios.append(radial / max(angular, 1e-12))
    return float(np.mean(ratios))


def feature_stats(features: np.ndarray, labels: np.ndarray, predictions: np.ndarray) -> dict[str, float]:
    """Norm statistics and angular spread of a feature cloud.

    `norm_cv` (std / mean) is the scale-free measure of radial spread: features that keep growing
    along their class direction (the article's SphereFace observation) give a large value.
    Comparing the mean norm of correctly and wrongly classified samples shows that the norm tracks
    how easy a sample is.
    """
    if features.ndim != 2 or len(features) != len(labels) or len(labels) != len(predictions):
        raise ValueError(
            f"features {features.shape}, labels {labels.shape}, predictions "
            f"{predictions.shape}: expected [N, D], [N], [N]"
        )
    norms = np.linalg.norm(features, axis=1)
    correct = predictions == labels
    return {
        "accuracy": float(np.mean(correct)),
        "norm_mean": float(norms.mean()),
        "norm_std": float(norms.std()),
        "norm_cv": float(norms.std() / norms.mean()),
        "norm_p05": float(np.percentile(norms, 5)),
        "norm_p95": float(np.percentile(norms, 95)),
        "norm_mean_correct": float(norms[correct].mean()) if correct.any() else float("nan"),
        "norm_mean_wrong": float(norms[~correct].mean()) if (~correct).any() else float("nan"),
        "angle_to_class_mean_deg": float(angle_to_class_mean(features, labels).mean()),
        "radial_elongation": radial_elongation(features, labels),
    }

"""Least-squares similarity transform between point sets (Umeyama 1991)."""

from __future__ import annotations

import numpy as np


def similarity_transform(src_pts, dst_pts) -> np.ndarray:
    """The (2, 3) matrix M minimising sum ||s R src + t - dst||^2 over rotation R, scale s > 0, t.

    Reflections are excluded (det R = +1), so a mirrored face is never "aligned" by flipping it.
    Apply as dst ~= M[:, :2] @ src + M[:, 2] (the convention of cv2.warpAffine).
    """
    src = np.asarray(src_pts, dtype=np.float64)
    dst = np.asarray(dst_pts, dtype=np.float64)
    if src.ndim != 2 or src.shape[1] != 2 or src.shape != dst.shape:
        raise ValueError(f"expected two (N, 2) point arrays of equal shape, got {src.shape} and {dst.shape}")
    if src.shape[0] < 2:
        raise ValueError("a similarity transform needs at least 2 points")
    if not (np.isfinite(src).all() and np.isfinite(dst).all()):
        raise ValueError("points contain NaN or infinity")

    src_mean, dst_mean = src.mean(axis=0), dst.mean(axis=0)
    src_c, dst_c = src - src_mean, dst - dst_mean
    src_var = (src_c**2).sum() / len(src)
    if src_var <= 1e-12:
        raise ValueError("source points are all identical: the transform is undefined")

    covariance = dst_c.T @ src_c / len(src)
    u, singular, vt = np.linalg.svd(covariance)
    # Umeyama's sign correction: flip the weakest axis when the best orthogonal map is a reflection.
    sign = np.ones(2)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        sign[-1] = -1.0
    rotation = u @ np.diag(sign) @ vt
    scale = (singular * sign).sum() / src_var
    translation = dst_mean - scale * rotation @ src_mean
    return np.hstack([scale * rotation, translation[:, None]])


def apply_transform(matrix: np.ndarray, points) -> np.ndarray:
    """Map (N, 2) points through a (2, 3) affine matrix."""
    points = np.asarray(points, dtype=np.float64)
    return points @ matrix[:, :2].T + matrix[:, 2]

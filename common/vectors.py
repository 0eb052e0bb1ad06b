"""Embedding arithmetic shared by verification (pair scores) and recognition (galleries): NumPy
only, below both."""

from __future__ import annotations

import numpy as np


def l2_normalize(features: np.ndarray, eps: float = 1e-12) -> np.ndarray:
    """Rows scaled to unit length (all-zero rows stay zero instead of becoming NaN)."""
    norms = np.linalg.norm(features, axis=1, keepdims=True)
    return features / np.maximum(norms, eps)

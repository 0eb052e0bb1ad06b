"""Standard 5-point landmark templates (SphereFace 112x96, ArcFace 112x112).

Landmark order everywhere in align/: left eye, right eye, nose tip, left mouth corner, right mouth
corner; coordinates are (x, y) pixels in the output crop.
"""
from __future__ import annotations

import numpy as np

# SphereFace's template for a 112 (rows) x 96 (cols) crop.
_TEMPLATE_112x96 = np.array([
    [30.2946, 51.6963],
    [65.5318, 51.5014],
    [48.0252, 71.7366],
    [33.5493, 92.3655],
    [62.7299, 92.2041],
], dtype=np.float64)

SUPPORTED_SIZES = ((112, 96), (112, 112))
DEFAULT_IMAGE_SIZE = (112, 96)


def parse_image_size(text: str) -> tuple[int, int]:
    """'112x96' -> (112, 96): height x width, the form used on every command line."""
    parts = str(text).lower().strip().split("x")
    try:
        height, width = (int(p) for p in parts)
    except ValueError:
        raise ValueError(f"image size {text!r} is not of the form HxW (e.g. 112x96)") from None
    if (height, width) not in SUPPORTED_SIZES:
        raise ValueError(f"image size {text!r} not supported; use one of "
                         + ", ".join(f"{h}x{w}" for h, w in SUPPORTED_SIZES))
    return height, width


def format_image_size(image_size: tuple[int, int]) -> str:
    """(112, 96) -> '112x96'."""
    return f"{image_size[0]}x{image_size[1]}"


def template(image_size: tuple[int, int] = DEFAULT_IMAGE_SIZE) -> np.ndarray:
    """The (5, 2) float64 (x, y) template for `image_size` = (height, width).

    The 112x112 (ArcFace) template is the 112x96 one shifted right by 8 px, i.e. centred in the
    wider crop.
    """
    image_size = tuple(int(v) for v in image_size)
    if image_size not in SUPPORTED_SIZES:
        raise ValueError(f"no template for image size {image_size}; supported: {SUPPORTED_SIZES}")
    points = _TEMPLATE_112x96.copy()
    points[:, 0] += (image_size[1] - 96) / 2.0
    return points

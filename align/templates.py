"""Standard 5-point landmark templates (SphereFace 112x96, ArcFace 112x112).

Landmark order everywhere in align/: left eye, right eye, nose tip, left mouth corner, right mouth
corner; coordinates are (x, y) pixels in the output crop.
"""

from __future__ import annotations

import numpy as np

from common.choices import DEFAULT_IMAGE_SIZE, IMAGE_SIZES

# SphereFace's template for a 112 (rows) x 96 (cols) crop.
_TEMPLATE_112x96 = np.array(
    [
        [30.2946, 51.6963],
        [65.5318, 51.5014],
        [48.0252, 71.7366],
        [33.5493, 92.3655],
        [62.7299, 92.2041],
    ],
    dtype=np.float64,
)


def template(image_size: tuple[int, int] = DEFAULT_IMAGE_SIZE) -> np.ndarray:
    """The (5, 2) float64 (x, y) template for `image_size` = (height, width).

    The 112x112 (ArcFace) template is the 112x96 one shifted right by 8 px, i.e. centred in the
    wider crop.
    """
    image_size = tuple(int(v) for v in image_size)
    if image_size not in IMAGE_SIZES:
        raise ValueError(f"no template for image size {image_size}; supported: {IMAGE_SIZES}")
    points = _TEMPLATE_112x96.copy()
    points[:, 0] += (image_size[1] - 96) / 2.0
    return points

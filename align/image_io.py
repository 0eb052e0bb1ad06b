"""Robust image reading: every input becomes uint8 H x W x 3 RGB, or a one-line ImageReadError."""
from __future__ import annotations

import os

import numpy as np
from PIL import Image, ImageOps

from common.errors import UserError


class ImageReadError(UserError):
    """An image that cannot be decoded; the message names the file and the reason on one line."""

    def __init__(self, path, reason: str):
        self.path = str(path)
        self.reason = " ".join(str(reason).split())  # one line, whatever the decoder said
        super().__init__(f"{self.path}: {self.reason}")


def load_rgb(path) -> np.ndarray:
    """Read `path` as uint8 H x W x 3 RGB.

    EXIF orientation is applied (phones store rotated pixels plus a tag); grayscale, palette, RGBA
    (composited over black, the warp's border colour), CMYK and 16-bit images are converted.
    Truncated, empty or non-image files raise ImageReadError.
    """
    try:
        if os.path.getsize(path) == 0:
            raise ImageReadError(path, "empty file (0 bytes)")
        with Image.open(path) as image:
            image.load()  # decode now so truncation errors surface here, inside the try
            image = ImageOps.exif_transpose(image)
            rgb = _to_rgb_array(image)
    except ImageReadError:
        raise
    except Exception as error:  # PIL raises many types (OSError, SyntaxError, ValueError, ...)
        raise ImageReadError(path, f"{type(error).__name__}: {error}") from error
    if rgb.shape[0] == 0 or rgb.shape[1] == 0:
        raise ImageReadError(path, f"image has no pixels (shape {rgb.shape})")
    return rgb


def _to_rgb_array(image: Image.Image) -> np.ndarray:
    """Convert any PIL mode to a contiguous uint8 RGB array."""
    mode = image.mode
    if mode in ("I;16", "I;16B", "I;16L", "I;16N", "I"):
        # 16/32-bit grayscale: keep the top 8 bits of a 16-bit range rather than clipping at 255.
        values = np.asarray(image, dtype=np.float64)
        scale = 257.0 if values.max(initial=0) > 255 else 1.0
        gray = np.clip(np.rint(values / scale), 0, 255).astype(np.uint8)
        return np.ascontiguousarray(np.repeat(gray[:, :, None], 3, axis=2))
    if mode == "F":
        gray = np.clip(np.rint(np.asarray(image, dtype=np.float64)), 0, 255).astype(np.uint8)
        return np.ascontiguousarray(np.repeat(gray[:, :, None], 3, axis=2))
    if mode in ("RGBA", "LA", "PA") or (mode == "P" and "transparency" in image.info):
        rgba = np.asarray(image.convert("RGBA"), dtype=np.float64)
        alpha = rgba[:, :, 3:4] / 255.0
        return np.clip(np.rint(rgba[:, :, :3] * alpha), 0, 255).astype(np.uint8)
    if mode != "RGB":
        image = image.convert("RGB")  # L, 1, P, CMYK (PIL undoes Adobe's inverted CMYK), YCbCr, ...
    return np.ascontiguousarray(np.asarray(image, dtype=np.uint8))

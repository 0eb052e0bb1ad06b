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


# Largest image decoded, in pixels: 40 Mpx (a 7300 x 5500 photo) is 120 MiB as RGB, so an
# image that decompresses far beyond its file size (a 64 Mpx PNG of 242 KiB) cannot exhaust a
# small machine's memory. `--max-pixels` of align_dataset.py, verify.py and identify.py raises it.
MAX_PIXELS = 40_000_000
_ROWS_PER_STRIP = 256  # rows converted at a time: temporaries stay a few MiB at any width


def add_max_pixels_argument(parser) -> None:
    from common.arg_types import int_at_least

    parser.add_argument(
        "--max-pixels",
        type=int_at_least(1),
        default=MAX_PIXELS,
        help="refuse (as an unreadable file) any image larger than this many "
        "pixels, before decoding it (default %(default)s)",
    )


def load_rgb(path, max_pixels: int = MAX_PIXELS) -> np.ndarray:
    """Read `path` as uint8 H x W x 3 RGB.

    EXIF orientation is applied (phones store rotated pixels plus a tag); grayscale, palette, RGBA
    (composited over black, the warp's border colour), CMYK and 16-bit images are converted in
    integer arithmetic, strip by strip. Truncated, empty or non-image files, and images over
    `max_pixels` (checked from the header, before decoding), raise ImageReadError.
    """
    try:
        if os.path.getsize(path) == 0:
            raise ImageReadError(path, "empty file (0 bytes)")
        with Image.open(path) as image:
            width, height = image.size
            if width * height > max_pixels:
                raise ImageReadError(
                    path,
                    f"{width}x{height} image ({width * height / 1e6:.1f} "
                    f"Mpx) is over the pixel budget of {max_pixels / 1e6:g} "
                    f"Mpx (--max-pixels)",
                )
            image.load()  # decode now so truncation errors surface here, inside the try
            ImageOps.exif_transpose(image, in_place=True)  # no copy when nothing is rotated
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
    if mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        # 16/32-bit grayscale: keep the top 8 bits of a 16-bit range rather than clipping at 255.
        top = image.getextrema()[1]
        return _by_strips(image, lambda strip: _gray_to_rgb(strip, mode, top))
    if mode in ("RGBA", "LA", "PA") or (mode == "P" and "transparency" in image.info):
        if mode != "RGBA":
            image = image.convert("RGBA")
        return _by_strips(image, _composite_over_black)
    if mode != "RGB":
        image = image.convert("RGB")  # L, 1, P, CMYK (PIL undoes Adobe's inverted CMYK), YCbCr, ...
    return np.ascontiguousarray(np.asarray(image, dtype=np.uint8))


def _by_strips(image: Image.Image, convert) -> np.ndarray:
    """uint8 [H, W, 3] filled by `convert(strip_array)` over strips of rows."""
    width, height = image.size
    out = np.empty((height, width, 3), np.uint8)
    for top in range(0, height, _ROWS_PER_STRIP):
        bottom = min(top + _ROWS_PER_STRIP, height)
        out[top:bottom] = convert(np.asarray(image.crop((0, top, width, bottom))))
    return out


def _composite_over_black(rgba: np.ndarray) -> np.ndarray:
    """round(rgb * alpha / 255) in integers (exact: a product over 255 is never a half)."""
    alpha = rgba[:, :, 3:4].astype(np.uint16)
    return ((rgba[:, :, :3].astype(np.uint16) * alpha + 127) // 255).astype(np.uint8)


def _gray_to_rgb(values: np.ndarray, mode: str, top: float) -> np.ndarray:
    if mode == "F":
        gray = np.clip(np.rint(values), 0, 255)
    elif top > 255:  # a 16-bit range: round(v / 257)
        gray = np.clip((values.astype(np.int64) + 128) // 257, 0, 255)
    else:
        gray = np.clip(values, 0, 255)
    return np.repeat(gray.astype(np.uint8)[:, :, None], 3, axis=2)

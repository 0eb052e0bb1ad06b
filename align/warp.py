"""Warping a photo to the aligned crop, and the no-face fallback."""

from __future__ import annotations

import cv2
import numpy as np

from align.templates import DEFAULT_IMAGE_SIZE, template
from align.transform import similarity_transform
from common.errors import UserValueError

# Fallback crop height as a fraction of the image's shorter side. On LFW's 250x250 deep-funneled
# photos the aligned 112x96 region is ~0.52 of the side (median over detected faces), so fallback
# crops keep a similar face scale.
DEFAULT_CENTER_CROP_FRACTION = 0.52


def alignment_matrix(landmarks, image_size=DEFAULT_IMAGE_SIZE) -> np.ndarray:
    """The (2, 3) similarity that maps the 5 landmarks onto the template of `image_size`."""
    landmarks = np.asarray(landmarks, dtype=np.float64)
    if landmarks.shape != (5, 2):
        raise ValueError(f"expected (5, 2) landmarks, got shape {landmarks.shape}")
    return similarity_transform(landmarks, template(image_size))


def align_crop(image_rgb: np.ndarray, landmarks, image_size=DEFAULT_IMAGE_SIZE) -> np.ndarray:
    """uint8 (H, W, 3) crop with the landmarks moved onto the template; outside pixels are 0."""
    matrix = alignment_matrix(landmarks, image_size)
    height, width = image_size
    return cv2.warpAffine(
        image_rgb, matrix, (width, height), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0
    )


def center_crop(
    image_rgb: np.ndarray, image_size=DEFAULT_IMAGE_SIZE, fraction: float = DEFAULT_CENTER_CROP_FRACTION
) -> np.ndarray:
    """Central region with the output's aspect ratio, `fraction` of the shorter side tall (or wide,
    whichever fits), resized to `image_size`."""
    if not 0.0 < fraction <= 1.0:
        raise UserValueError(f"center crop fraction must be in (0, 1], got {fraction}")
    out_h, out_w = image_size
    image_h, image_w = image_rgb.shape[:2]
    crop_h = fraction * min(image_h, image_w)
    crop_w = crop_h * out_w / out_h
    if crop_w > fraction * min(image_h, image_w):  # wider-than-tall output: bound by the width
        crop_w = fraction * min(image_h, image_w)
        crop_h = crop_w * out_h / out_w
    crop_h, crop_w = max(1, round(crop_h)), max(1, round(crop_w))
    y0, x0 = (image_h - crop_h) // 2, (image_w - crop_w) // 2
    crop = image_rgb[y0 : y0 + crop_h, x0 : x0 + crop_w]
    interpolation = cv2.INTER_AREA if crop_h > out_h else cv2.INTER_LINEAR
    return cv2.resize(crop, (out_w, out_h), interpolation=interpolation)

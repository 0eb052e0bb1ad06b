"""From a decoded photo to an aligned crop: detect, choose a face, warp (or fall back)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from align.detector import Face, FaceDetector
from align.face_choice import choose_face
from align.templates import DEFAULT_IMAGE_SIZE
from align.warp import DEFAULT_CENTER_CROP_FRACTION, align_crop, center_crop

DETECTED = "detected"  # MTCNN found a face; warped from its landmarks
GIVEN = "given"  # warped from landmarks supplied by the user (--landmarks)
FALLBACK = "fallback"  # no face: centre crop (evaluation sets must produce every image)
SKIPPED = "skipped"  # no face and the caller allowed skipping (training sets)
ERROR = "error"  # unreadable input or a failure; nothing written
CENTRED = "centre_crop"  # asked for a plain centre crop: no detector ran
STATUSES = (DETECTED, GIVEN, FALLBACK, SKIPPED, ERROR, CENTRED)


@dataclass
class AlignResult:
    """`crop` is None for skipped/error; `face` is the chosen detection (None when not detected)."""

    crop: np.ndarray | None
    status: str
    face: Face | None = None
    num_faces: int = 0
    message: str = ""


def finish_alignment(
    image_rgb: np.ndarray,
    faces: Sequence[Face],
    image_size=DEFAULT_IMAGE_SIZE,
    skip_no_face: bool = False,
    fallback_fraction: float = DEFAULT_CENTER_CROP_FRACTION,
) -> AlignResult:
    """Pick the face among `faces` (already detected) and warp, or apply the no-face policy."""
    face = choose_face(faces, image_rgb.shape)
    if face is not None:
        return AlignResult(align_crop(image_rgb, face.landmarks, image_size), DETECTED, face, len(faces))
    if skip_no_face:
        return AlignResult(None, SKIPPED, None, 0, "no face detected")
    return AlignResult(
        center_crop(image_rgb, image_size, fallback_fraction), FALLBACK, None, 0, "no face detected: centre crop"
    )


def align_image(
    image_rgb: np.ndarray,
    detector: FaceDetector,
    image_size=DEFAULT_IMAGE_SIZE,
    skip_no_face: bool = False,
    fallback_fraction: float = DEFAULT_CENTER_CROP_FRACTION,
) -> AlignResult:
    """Detect, choose and warp one uint8 RGB photo (used by the CLI, verify.py and identify.py)."""
    return finish_alignment(image_rgb, detector.detect(image_rgb), image_size, skip_no_face, fallback_fraction)


def align_images(
    images: Sequence[np.ndarray],
    detector: FaceDetector,
    image_size=DEFAULT_IMAGE_SIZE,
    skip_no_face: bool = False,
    fallback_fraction: float = DEFAULT_CENTER_CROP_FRACTION,
) -> list[AlignResult]:
    """`align_image` for many photos with batched detection. If a batch fails, images are retried
    one at a time so one bad image only costs its own result (recorded as an error)."""
    try:
        all_faces = detector.detect_batch(list(images))
    except Exception:  # noqa: BLE001 -- isolate the culprit below
        all_faces = None
    results = []
    for index, image in enumerate(images):
        try:
            faces = all_faces[index] if all_faces is not None else detector.detect(image)
            results.append(finish_alignment(image, faces, image_size, skip_no_face, fallback_fraction))
        except Exception as error:  # noqa: BLE001 -- recorded, the run goes on
            results.append(AlignResult(None, ERROR, message=f"{type(error).__name__}: {error}"))
    return results


def align_from_landmarks(image_rgb: np.ndarray, landmarks, image_size=DEFAULT_IMAGE_SIZE) -> AlignResult:
    """Warp with user-supplied (5, 2) landmarks instead of detecting."""
    landmarks = np.asarray(landmarks, dtype=np.float64).reshape(5, 2)
    face = Face(box=(np.nan, np.nan, np.nan, np.nan), confidence=np.nan, landmarks=landmarks)
    return AlignResult(align_crop(image_rgb, landmarks, image_size), GIVEN, face, 0)


def centre_crop_only(
    image_rgb: np.ndarray, image_size=DEFAULT_IMAGE_SIZE, fraction: float = DEFAULT_CENTER_CROP_FRACTION
) -> AlignResult:
    """The photo's centre crop without detecting (the unaligned baseline of the alignment set)."""
    return AlignResult(center_crop(image_rgb, image_size, fraction), CENTRED)

"""Which face to keep when a photo holds several."""

from __future__ import annotations

from collections.abc import Sequence

from align.detector import Face

# The reference (facenet's align_dataset_mtcnn) weights the centre offset this much against area.
CENTRE_OFFSET_WEIGHT = 2.0


def face_score(face: Face, image_shape, centre_offset_weight: float = CENTRE_OFFSET_WEIGHT) -> float:
    """Box area minus `centre_offset_weight` x squared distance of the box centre to the image centre."""
    x, y, w, h = face.box
    image_h, image_w = image_shape[0], image_shape[1]
    dx = x + w / 2.0 - image_w / 2.0
    dy = y + h / 2.0 - image_h / 2.0
    return w * h - centre_offset_weight * (dx * dx + dy * dy)


def choose_face(faces: Sequence[Face], image_shape, centre_offset_weight: float = CENTRE_OFFSET_WEIGHT) -> Face | None:
    """The face maximising `face_score` (big and central), or None when there is no face."""
    if not faces:
        return None
    return max(faces, key=lambda face: face_score(face, image_shape, centre_offset_weight))

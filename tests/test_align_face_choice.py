"""Face choice: area - 2 x squared centre offset, worked by hand."""

import numpy as np

from align.detector import Face
from align.face_choice import choose_face, face_score


def face(x, y, w, h):
    return Face(box=(x, y, w, h), confidence=0.99, landmarks=np.zeros((5, 2)))


def test_score_by_hand():
    # 100x100 image, box 20x20 centred at (60, 50): area 400, offset (10, 0) -> 400 - 2*100 = 200
    assert face_score(face(50, 40, 20, 20), (100, 100, 3)) == 200.0


def test_bigger_off_centre_face_loses_to_central_one():
    image_shape = (200, 200, 3)
    central = face(85, 85, 30, 30)  # 900 - 0 = 900
    big_corner = face(0, 0, 40, 40)  # 1600 - 2 * (80^2 + 80^2) = -24000
    assert choose_face([big_corner, central], image_shape) is central


def test_big_face_beats_small_one_when_both_central():
    image_shape = (200, 200, 3)
    small = face(95, 95, 10, 10)  # 100
    big = face(60, 70, 80, 80)  # 6400 - 2 * (0^2 + 10^2) = 6200
    assert choose_face([small, big], image_shape) is big


def test_no_face():
    assert choose_face([], (100, 100, 3)) is None

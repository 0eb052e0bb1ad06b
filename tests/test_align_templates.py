"""Templates, sizes, and that the warp puts landmarks exactly on the template; centre-crop fallback."""

import numpy as np
import pytest

from align.templates import template
from align.transform import apply_transform
from align.warp import align_crop, alignment_matrix, center_crop
from common.choices import parse_image_size

SPHEREFACE_112x96 = np.array(
    [[30.2946, 51.6963], [65.5318, 51.5014], [48.0252, 71.7366], [33.5493, 92.3655], [62.7299, 92.2041]]
)


def test_parse_image_size():
    assert parse_image_size("112x96") == (112, 96)
    assert parse_image_size("112X112") == (112, 112)
    for bad in ("112", "112x", "axb", "96x112", "224x224"):
        with pytest.raises(ValueError, match=bad.split("x")[0] or "size"):
            parse_image_size(bad)


def test_templates_match_reference_values():
    np.testing.assert_array_equal(template((112, 96)), SPHEREFACE_112x96)
    np.testing.assert_array_equal(template((112, 112)), SPHEREFACE_112x96 + [8.0, 0.0])
    with pytest.raises(ValueError):
        template((100, 100))


def dot_image(points, shape=(250, 250)):
    """Black image with a bright 3x3 square around each (rounded) point."""
    image = np.zeros(shape + (3,), np.uint8)
    for x, y in np.rint(points).astype(int):
        image[y - 1 : y + 2, x - 1 : x + 2] = 255
    return image


@pytest.mark.parametrize("image_size", [(112, 96), (112, 112)])
def test_warp_puts_landmarks_on_template(image_size):
    # Landmarks of a rotated, scaled, shifted face, placed on integer pixels so dots are exact.
    c, s = np.cos(0.35), np.sin(0.35)
    face = (SPHEREFACE_112x96 - 48) @ np.array([[c, s], [-s, c]]) * 1.6 + [125, 120]
    face = np.rint(face)
    crop = align_crop(dot_image(face), face, image_size)
    assert crop.shape == image_size + (3,) and crop.dtype == np.uint8
    matrix = alignment_matrix(face, image_size)
    for expected in apply_transform(matrix, face):
        x, y = np.rint(expected).astype(int)
        assert crop[y, x].max() > 100  # the dot landed at the mapped point
    residual = np.abs(apply_transform(matrix, face) - template(image_size))
    assert residual.max() < 1.5  # rounding the synthetic landmarks costs under 1.5 px


def test_warp_rejects_wrong_landmark_shape():
    with pytest.raises(ValueError, match=r"\(5, 2\)"):
        align_crop(np.zeros((50, 50, 3), np.uint8), np.zeros((4, 2)))


def test_center_crop_takes_the_middle_at_output_size():
    image = np.zeros((200, 300, 3), np.uint8)
    image[95:105, 145:155] = 200  # a patch at the centre
    crop = center_crop(image, (112, 96), fraction=0.5)
    assert crop.shape == (112, 96, 3)
    # crop region is 100 px tall, ~86 wide, centred: the patch maps to the crop's middle
    assert crop[56, 48].max() == 200
    assert crop[5, 5].max() == 0
    with pytest.raises(ValueError):
        center_crop(image, (112, 96), fraction=0.0)

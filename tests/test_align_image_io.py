"""load_rgb on every awkward input, each made at run time from a real LFW photo."""
import numpy as np
import pytest
from PIL import Image

from align.image_io import ImageReadError, load_rgb

LFW_IMAGE = "lfw/Aaron_Eckhart/Aaron_Eckhart_0001.jpg"


@pytest.fixture(scope="module")
def real(data_dir):
    return np.asarray(Image.open(data_dir / LFW_IMAGE).convert("RGB"))


def test_plain_jpeg(data_dir, real):
    image = load_rgb(data_dir / LFW_IMAGE)
    assert image.dtype == np.uint8 and image.shape == (250, 250, 3)
    np.testing.assert_array_equal(image, real)


def test_grayscale_becomes_three_equal_channels(tmp_path, real):
    path = tmp_path / "gray.png"
    gray = np.asarray(Image.fromarray(real).convert("L"))
    Image.fromarray(gray).save(path)
    image = load_rgb(path)
    assert image.shape == (250, 250, 3)
    for channel in range(3):
        np.testing.assert_array_equal(image[:, :, channel], gray)


def test_rgba_png_composited_over_black(tmp_path, real):
    alpha = np.full(real.shape[:2], 255, np.uint8)
    alpha[:, :125] = 0  # left half transparent
    path = tmp_path / "rgba.png"
    Image.fromarray(np.dstack([real, alpha]), "RGBA").save(path)
    image = load_rgb(path)
    np.testing.assert_array_equal(image[:, 125:], real[:, 125:])
    assert image[:, :125].max() == 0


def test_cmyk_jpeg_colours_survive(tmp_path, real):
    path = tmp_path / "cmyk.jpg"
    Image.fromarray(real).convert("CMYK").save(path, quality=95)
    assert Image.open(path).mode == "CMYK"
    image = load_rgb(path)
    assert image.shape == (250, 250, 3)
    assert np.abs(image.astype(int) - real).mean() < 6  # JPEG loss only, not inverted colours


def test_16bit_png_scaled_to_8bit(tmp_path, real):
    gray8 = np.asarray(Image.fromarray(real).convert("L"))
    path = tmp_path / "deep.png"
    Image.fromarray(gray8.astype(np.uint16) * 257).save(path)
    assert Image.open(path).mode.startswith("I")
    image = load_rgb(path)
    np.testing.assert_array_equal(image[:, :, 0], gray8)


def test_exif_orientation_applied(tmp_path, real):
    path = tmp_path / "rotated.jpg"
    stored = Image.fromarray(real).transpose(Image.Transpose.ROTATE_90)  # pixels stored sideways
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 clockwise to display"
    stored.save(path, quality=95, exif=exif)
    image = load_rgb(path)
    assert image.shape == real.shape
    assert np.abs(image.astype(int) - real).mean() < 4


@pytest.mark.parametrize("name,content,reason", [
    ("empty.jpg", b"", "empty file"),
    ("text.jpg", b"this is not an image\n", "cannot identify"),
])
def test_unreadable_files_raise_one_line_error(tmp_path, name, content, reason):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(ImageReadError, match=reason) as info:
        load_rgb(path)
    assert "\n" not in str(info.value) and str(path) in str(info.value)


def test_truncated_jpeg_raises(tmp_path, data_dir):
    data = (data_dir / LFW_IMAGE).read_bytes()
    path = tmp_path / "truncated.jpg"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ImageReadError, match="truncated"):
        load_rgb(path)


def test_missing_file_raises(tmp_path):
    with pytest.raises(ImageReadError, match="missing.jpg"):
        load_rgb(tmp_path / "missing.jpg")

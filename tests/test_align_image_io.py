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


@pytest.mark.parametrize(
    "name,content,reason",
    [
        ("empty.jpg", b"", "empty file"),
        ("text.jpg", b"this is not an image\n", "cannot identify"),
    ],
)
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


def test_partial_alpha_is_the_rounded_float_composite(tmp_path, real):
    """The integer compositing equals round(rgb * alpha / 255), the float64 formula it replaced."""
    alpha = np.random.default_rng(0).integers(0, 256, real.shape[:2], dtype=np.uint8)
    path = tmp_path / "rgba.png"
    Image.fromarray(np.dstack([real, alpha]), "RGBA").save(path)
    expected = np.rint(real * (alpha[:, :, None] / 255.0)).astype(np.uint8)
    np.testing.assert_array_equal(load_rgb(path), expected)


def test_16bit_odd_values_round_like_the_float_formula(tmp_path):
    values = np.arange(0, 65536, 1, dtype=np.uint16).reshape(256, 256)
    path = tmp_path / "deep.png"
    Image.fromarray(values).save(path)
    expected = np.clip(np.rint(values / 257.0), 0, 255).astype(np.uint8)
    np.testing.assert_array_equal(load_rgb(path)[:, :, 1], expected)


def big_rgba_png(path, side=8000):
    """An 8000x8000 RGBA PNG of a few hundred KiB: 64 Mpx, under Pillow's bomb warning."""
    Image.new("RGBA", (side, side), (200, 150, 100, 128)).save(path, optimize=False)
    return path


def test_an_image_over_the_pixel_budget_is_refused_before_decoding(tmp_path):
    import resource

    path = big_rgba_png(tmp_path / "big.png")
    assert path.stat().st_size < 1 << 20
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with pytest.raises(
        ImageReadError,
        match=r"8000x8000 image \(64.0 Mpx\) is over the pixel "
        r"budget of 40 Mpx \(--max-pixels\)",
    ):
        load_rgb(path)
    grown_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
    assert grown_kib < 64 * 1024  # nothing near the 256 MiB a decode would take
    with pytest.raises(ImageReadError, match="pixel budget of 0.0001 Mpx"):
        load_rgb(tmp_path / "big.png", max_pixels=100)


@pytest.mark.integration  # measures peak memory in a fresh process
def test_a_big_rgba_png_within_the_budget_decodes_in_little_extra_memory(tmp_path):
    """Raised budget: the 64 Mpx RGBA PNG decodes with the PIL image (256 MiB) and the RGB result
    (192 MiB) and only strip-sized temporaries besides; the float64 path needed over 2 GiB."""
    import subprocess
    import sys

    from common.paths import REPO_ROOT

    path = big_rgba_png(tmp_path / "big.png")
    code = (
        "import resource, sys; from align.image_io import load_rgb\n"
        "base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        "image = load_rgb(sys.argv[1], max_pixels=10**8)\n"
        "assert image.shape == (8000, 8000, 3) and (image[0, 0] == (100, 75, 50)).all()\n"
        "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - base)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(path)], cwd=REPO_ROOT, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    assert int(done.stdout) < 512 * 1024  # KiB

"""insightface .bin files: the restricted unpickler refuses code, the format is checked, and a .bin
of real aligned LFW faces evaluates as the same pairs do from the image folder."""

from __future__ import annotations

import io
import os
import pickle

import numpy as np
import pytest
from PIL import Image

from common.errors import UserValueError
from common.paths import CACHE_DIR
from tests.benchmark_files import jpeg_bytes, padded_to_112x112, write_bin
from verification.insightface_bin import UnsafeBinError, bin_pair_set, read_bin_lists
from verification.pair_set import fit_width

ALIGNED_LFW = CACHE_DIR / "aligned" / "lfw_112x96"


@pytest.fixture(scope="module")
def view2_subset(data_dir, tmp_path_factory):
    """(aligned folder, pairs file): the first 30 same and 30 different pairs of every View 2
    fold (600 pairs, 10 folds of 60 in View 2's order). The aligned cache where it holds their
    images, else their raw LFW photos aligned here (a fresh clone has no cache)."""
    from verification.pairs import parse_pairs

    lines = (data_dir / "lfw_pairs.txt").read_text().splitlines()
    subset = ["10 30"]
    for fold in range(10):
        start = 1 + fold * 600
        subset += lines[start : start + 30] + lines[start + 300 : start + 330]
    folder = tmp_path_factory.mktemp("view2_subset")
    pairs_path = folder / "pairs.txt"
    pairs_path.write_text("\n".join(subset) + "\n")
    stems = parse_pairs(pairs_path).unique_stems()
    if all((ALIGNED_LFW / f"{stem}.jpg").is_file() for stem in stems):
        return ALIGNED_LFW, pairs_path
    from align.align_dataset import AlignConfig, align_dataset

    listing = folder / "images.txt"
    listing.write_text("".join(f"{stem}.jpg\n" for stem in stems))
    output = folder / "lfw_112x96"
    align_dataset(
        AlignConfig(input_dir=str(data_dir / "lfw")), output, workers=0, progress=False, only_list=str(listing)
    )
    return output, pairs_path


class _RunsCode:
    """What a malicious pickle holds: loading it calls os.system."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


def test_a_pickle_that_would_run_code_is_refused_and_nothing_runs(tmp_path):
    marker = tmp_path / "ran"
    bad = tmp_path / "cfp_fp.bin"
    bad.write_bytes(pickle.dumps(([b"x", b"y"], [_RunsCode(marker)])))
    with pytest.raises(UnsafeBinError) as error:
        read_bin_lists(bad)
    message = str(error.value)
    assert str(bad) in message and "posix.system" in message and "\n" not in message
    assert not marker.exists()
    # The same bytes through plain pickle do run it: the test's pickle is really malicious.
    pickle.loads(bad.read_bytes())
    assert marker.exists()


def test_numpy_arrays_are_refused_too(tmp_path):
    path = tmp_path / "agedb_30.bin"
    path.write_bytes(pickle.dumps(([b"a", b"b"], np.array([True]))))
    with pytest.raises(UnsafeBinError, match="numpy"):
        read_bin_lists(path)


@pytest.mark.parametrize(
    "content, message",
    [
        (([b"a", b"b", b"c"], [True]), "3 images for 1 pairs"),
        (([b"a", "b"], [True]), "list of encoded images"),
        (([b"a", b"b"], [1]), "list of bools"),
        ((b"a",), "expected a pair"),
    ],
)
def test_malformed_contents_are_one_line_errors_naming_the_file(tmp_path, content, message):
    path = tmp_path / "x.bin"
    path.write_bytes(pickle.dumps(content))
    with pytest.raises(UserValueError, match=message) as error:
        read_bin_lists(path)
    assert str(path) in str(error.value)


def test_truncated_file_is_an_error_naming_it(tmp_path):
    path = tmp_path / "x.bin"
    path.write_bytes(pickle.dumps(([b"a", b"b"], [True]))[:-5])
    with pytest.raises(UserValueError, match="not a readable .bin"):
        read_bin_lists(path)


def test_python2_pickles_load(tmp_path):
    """insightface's older files were pickled by Python 2: protocol 2, its str as SHORT_BINSTRING
    (written out here opcode by opcode: Python 3 cannot write them)."""
    path = tmp_path / "lfw.bin"
    path.write_bytes(b"\x80\x02](U\x03\xff\xd8aU\x03\xff\xd8be]\x89a\x86.")
    assert read_bin_lists(path) == ([b"\xff\xd8a", b"\xff\xd8b"], [False])


def test_pairs_are_consecutive_images_in_ten_consecutive_folds(tmp_path):
    """23 pairs: sklearn's KFold(10) (insightface's folds) gives the first 3 folds 3 pairs each."""
    encoded = [jpeg_bytes(np.full((112, 112, 3), k, np.uint8)) for k in range(46)]
    path = write_bin(tmp_path / "s.bin", encoded, [k % 2 == 0 for k in range(23)])
    pairs = bin_pair_set("s", path)
    assert list(pairs.left_rows) == list(range(0, 46, 2)) and list(pairs.right_rows) == list(range(1, 46, 2))
    assert list(pairs.fold_ids) == [0] * 3 + [1] * 3 + [2] * 3 + [f for f in range(3, 10) for _ in range(2)]
    assert pairs.image_ids[:2] == ("00", "01")
    assert abs(int(pairs.image(5)[0, 0, 0]) - 5) <= 1


def test_centre_columns_are_what_a_112x96_model_sees():
    image = np.arange(112 * 112 * 3, dtype=np.int64).reshape(112, 112, 3).astype(np.uint8)
    assert np.array_equal(fit_width(image, (112, 96), "x"), image[:, 8:104])
    assert fit_width(image, (112, 112), "x") is image or np.array_equal(fit_width(image, (112, 112), "x"), image)
    with pytest.raises(UserValueError, match="image is 112x112, the model takes 96x96"):
        fit_width(image, (96, 96), "x")


def test_bin_of_aligned_lfw_evaluates_as_the_image_folder(tmp_path, view2_subset):
    """The first 30 same and 30 different pairs of every View 2 fold (600 pairs, ~1,100 real
    aligned faces), once as an LFW pairs file over the 112x96 folder and once as a .bin of the
    same faces in insightface's 112x112 frame, JPEG-encoded: same pairs, same folds (10
    consecutive blocks of 60), same accuracy within 0.1 point with a fixed embedder."""
    from verification.lfw import BenchmarkEvaluator, LfwEvaluator
    from verification.pairs import parse_pairs

    aligned, pairs_path = view2_subset
    folder = LfwEvaluator(aligned, pairs_path, (112, 96), batch_size=256)

    pairs = parse_pairs(pairs_path)
    encoded, cache = [], {}
    for stem in (s for pair in zip(pairs.left, pairs.right, strict=True) for s in pair):
        if stem not in cache:
            crop = np.asarray(Image.open(aligned / f"{stem}.jpg").convert("RGB"))
            cache[stem] = jpeg_bytes(padded_to_112x112(crop))
        encoded.append(cache[stem])
    bin_set = bin_pair_set("lfw_bin", write_bin(tmp_path / "lfw.bin", encoded, [bool(v) for v in pairs.is_same]))
    from_bin = BenchmarkEvaluator(bin_set, (112, 96))
    assert np.array_equal(bin_set.fold_ids, pairs.fold_ids)
    assert np.abs(from_bin.images[0].astype(int) - folder.images[folder.pairs.left_rows[0]]).mean() < 2

    projection = np.random.default_rng(0).normal(size=(28 * 24 * 3, 64))

    def embed(images):  # 4x4 average pooling, centred, a fixed random projection
        images = np.asarray(images, np.float32)
        pooled = images.reshape(len(images), 28, 4, 24, 4, 3).mean(axis=(2, 4)).reshape(len(images), -1)
        return (pooled - 128.0) @ projection

    expected, got = (evaluator.evaluate(embed, flip="concat") for evaluator in (folder, from_bin))
    assert expected["num_pairs"] == got["num_pairs"] == 600 and got["num_folds"] == 10
    assert 0.55 < expected["accuracy_mean"] < 1.0  # the embedder does separate faces
    assert abs(expected["accuracy_mean"] - got["accuracy_mean"]) <= 0.001
    assert got["auc"] == pytest.approx(expected["auc"], abs=2e-3)


def test_png_bytes_decode_as_well(tmp_path):
    buffer = io.BytesIO()
    Image.fromarray(np.full((112, 112, 3), 7, np.uint8)).save(buffer, format="PNG")
    path = write_bin(tmp_path / "p.bin", [buffer.getvalue()] * 20, [True, False] * 5)
    assert bin_pair_set("p", path).load_images((112, 96)).shape == (20, 112, 96, 3)

"""Strict pairs parsing and image resolution: real LFW files and hand-made bad ones."""

from __future__ import annotations

import pytest

from verification.pairs import PairsFormatError, parse_pairs, resolve_images


def write(tmp_path, text, name="pairs.txt"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_real_view2_pairs_folds_and_boundaries(data_dir):
    pairs = parse_pairs(data_dir / "lfw_pairs.txt")
    assert len(pairs) == 6000 and pairs.num_folds == 10
    assert pairs.left[0] == "Abel_Pacheco/Abel_Pacheco_0001"
    assert pairs.right[0] == "Abel_Pacheco/Abel_Pacheco_0004"
    assert pairs.line_numbers[0] == 2 and pairs.line_numbers[-1] == 6001
    for fold in range(10):
        start = 600 * fold
        assert (pairs.fold_ids[start : start + 600] == fold).all()
        assert pairs.is_same[start : start + 300].all()
        assert not pairs.is_same[start + 300 : start + 600].any()
    # Line 302 (pair 300) is the first different-person pair of fold 0.
    assert pairs.left[300] == "Abdel_Madi_Shabneh/Abdel_Madi_Shabneh_0001"
    assert pairs.right[300] == "Dean_Barker/Dean_Barker_0001"
    assert len(pairs.first_folds(2)) == 1200


def test_real_pairs_resolve_to_existing_images(data_dir):
    pairs = parse_pairs(data_dir / "lfw_pairs.txt")
    files = resolve_images(pairs, data_dir / "lfw")
    assert len(files) == len(pairs.unique_stems()) == 7701
    assert files["Abel_Pacheco/Abel_Pacheco_0004"].name == "Abel_Pacheco_0004.jpg"


def test_real_view1_round_robin_folds_keep_balance(data_dir):
    pairs = parse_pairs(data_dir / "lfw_pairsDevTest.txt")
    assert len(pairs) == 1000 and pairs.num_folds == 10
    for fold in range(10):
        in_fold = pairs.fold_ids == fold
        assert in_fold.sum() == 100 and pairs.is_same[in_fold].sum() == 50
    assert list(pairs.fold_ids[:3]) == [0, 1, 2] and list(pairs.fold_ids[500:503]) == [0, 1, 2]


def test_malformed_line_names_file_and_line(tmp_path):
    path = write(tmp_path, "2 1\nA 1 2\nA 1 B 1\nC 1 2 3\nC 1 D 2\n")
    with pytest.raises(PairsFormatError, match=r"pairs\.txt:4: expected a same-person pair"):
        parse_pairs(path)


def test_non_integer_image_number_is_an_error(tmp_path):
    path = write(tmp_path, "1 1\nA 1 x\nA 1 B 1\n")
    with pytest.raises(PairsFormatError, match=r"pairs\.txt:2: image numbers must be integers"):
        parse_pairs(path)


@pytest.mark.parametrize("text", ["2 1\nA 1 2\nA 1 B 1\n", "2 1\nA 1 2\nA 1 B 1\nC 1 2\nC 1 D 1\nE 1 2\n"])
def test_header_count_must_match_lines(tmp_path, text):
    with pytest.raises(PairsFormatError, match="promises 4 pairs"):
        parse_pairs(write(tmp_path, text))


@pytest.mark.parametrize("header", ["ten 300", "1 2 3", ""])
def test_bad_header_is_rejected(tmp_path, header):
    with pytest.raises(PairsFormatError, match=r":1: "):
        parse_pairs(write(tmp_path, header + "\nA 1 2\n"))


def test_missing_image_names_pairs_line(tmp_path):
    images = tmp_path / "aligned"
    for stem in ("A/A_0001", "A/A_0002", "B/B_0001"):
        (images / stem).parent.mkdir(parents=True, exist_ok=True)
        (images / f"{stem}.jpg").write_bytes(b"")
    pairs = parse_pairs(write(tmp_path, "1 1\nA 1 2\nA 1 C 7\n"))
    with pytest.raises(FileNotFoundError, match=r"pairs\.txt:3: image C/C_0007"):
        resolve_images(pairs, images)


def test_png_images_are_found(tmp_path):
    images = tmp_path / "aligned"
    for stem in ("A/A_0001", "A/A_0002", "B/B_0001"):
        (images / stem).parent.mkdir(parents=True, exist_ok=True)
        (images / f"{stem}.png").write_bytes(b"")
    pairs = parse_pairs(write(tmp_path, "1 1\nA 1 2\nA 1 B 1\n"))
    files = resolve_images(pairs, images)
    assert files["B/B_0001"].suffix == ".png" and len(files) == 3


def test_first_folds_out_of_range(tmp_path):
    pairs = parse_pairs(write(tmp_path, "2 1\nA 1 2\nA 1 B 1\nC 1 2\nC 1 D 1\n"))
    with pytest.raises(ValueError, match="asked for 3 folds, file has 2"):
        pairs.first_folds(3)


@pytest.mark.parametrize("name", ["..", "a/../..", "../etc"])
def test_pair_names_may_not_leave_the_image_folder(tmp_path, name):
    path = tmp_path / "pairs.txt"
    path.write_text(f"1 1\n{name} 1 2\nP1 1 P2 1\n")
    (tmp_path / "aligned").mkdir()
    with pytest.raises(ValueError, match="leaves the image folder") as error:
        resolve_images(parse_pairs(path, view1_folds=1), tmp_path / "aligned")
    assert f"{path}:2:" in str(error.value)

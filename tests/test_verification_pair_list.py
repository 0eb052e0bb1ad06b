"""The plain pair-list format: parsing, folds, and names that may not leave the folder."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from common.errors import UserFileNotFoundError, UserValueError
from verification.pair_list import list_pair_set


def make_list(tmp_path, lines, images=("a/1.jpg", "a/2.jpg", "b/1.png")):
    for name in images:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(np.zeros((4, 4, 3), np.uint8)).save(tmp_path / name)
    path = tmp_path / "pairs_list.txt"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_pairs_labels_and_ten_consecutive_folds(tmp_path):
    lines = ["# a comment", ""] + ["a/1.jpg a/2.jpg 1", "a/1.jpg b/1.png 0"] * 10
    pairs = list_pair_set("mine", make_list(tmp_path, lines))
    assert pairs.image_ids == ("a/1.jpg", "a/2.jpg", "b/1.png")
    assert pairs.left == ["a/1.jpg"] * 20 and pairs.right == ["a/2.jpg", "b/1.png"] * 10
    assert list(pairs.is_same) == [True, False] * 10
    assert list(pairs.fold_ids) == [f for f in range(10) for _ in range(2)]
    assert pairs.image_paths[2] == tmp_path / "b" / "1.png"


@pytest.mark.parametrize(
    "line, message",
    [
        ("a/1.jpg a/2.jpg", "expected 'path1 path2 label'"),
        ("a/1.jpg a/2.jpg yes", "expected 'path1 path2 label'"),
        ("a/1.jpg ../outside.jpg 1", "leaves the image folder"),
        ("/etc/passwd a/1.jpg 0", "leaves the image folder"),
        ("a/1.jpg a/../../x.jpg 0", "leaves the image folder"),
    ],
)
def test_bad_lines_name_the_file_and_line(tmp_path, line, message):
    path = make_list(tmp_path, ["a/1.jpg a/2.jpg 1"] * 10 + [line])
    with pytest.raises(UserValueError, match=message) as error:
        list_pair_set("mine", path)
    assert f"{path}:11:" in str(error.value)


def test_missing_image_and_too_few_pairs(tmp_path):
    with pytest.raises(UserFileNotFoundError, match=r":1: image c/9.jpg not found"):
        list_pair_set("mine", make_list(tmp_path, ["c/9.jpg a/1.jpg 0"]))
    with pytest.raises(UserValueError, match="9 pairs cannot fill 10 folds"):
        list_pair_set("mine", make_list(tmp_path, ["a/1.jpg a/2.jpg 1"] * 9))

"""align/inputs.py: the raw sets behind a config's aligned training folders, and the LFW images
the real View 2 pairs file names."""

from __future__ import annotations

import pytest

from align.inputs import alignment_commands, pairs_image_list, raw_training_sets
from common.errors import UserFileNotFoundError


def test_each_aligned_folder_maps_to_its_raw_set_under_the_data_root(data_dir):
    aligned = ["cache/aligned/celeba299_112x96", "cache/aligned/celeba841_112x112"]
    assert raw_training_sets(data_dir, aligned) == [
        (data_dir / "celeba299", aligned[0]),
        (data_dir / "celeba841", aligned[1]),
    ]


def test_a_missing_raw_set_is_one_error_naming_it(tmp_path):
    with pytest.raises(
        UserFileNotFoundError, match=r"training set .*vggface2 not found \(for cache/aligned/vggface2_112x96\)"
    ):
        raw_training_sets(tmp_path, ["cache/aligned/vggface2_112x96"])


def test_the_image_list_holds_every_image_of_the_real_pairs_once(data_dir, tmp_path):
    expected = set()
    for line in (data_dir / "lfw_pairs.txt").read_text().splitlines()[1:]:
        fields = line.split()
        people = (
            [(fields[0], fields[1]), (fields[0], fields[2])]
            if len(fields) == 3
            else [(fields[0], fields[1]), (fields[2], fields[3])]
        )
        expected |= {f"{name}/{name}_{int(number):04d}.jpg" for name, number in people}
    out = pairs_image_list(data_dir / "lfw_pairs.txt", tmp_path / "new" / "list.txt")
    names = out.read_text().splitlines()
    assert names == sorted(expected)
    assert all((data_dir / "lfw" / name).is_file() for name in names[:50])


def test_alignment_commands_align_each_training_set_and_the_view2_images(data_dir, tmp_path):
    listed = tmp_path / "lfw_pairs_images.txt"
    commands = alignment_commands(
        "py", data_dir, ["cache/aligned/celeba299_112x96"], "cache/aligned/lfw_112x96", [112, 96], 2, listed
    )
    assert commands == [
        (
            "cache/aligned/celeba299_112x96",
            [
                "py",
                "align/align_dataset.py",
                "--input-dir",
                str(data_dir / "celeba299"),
                "--output-dir",
                "cache/aligned/celeba299_112x96",
                "--image-size",
                "112x96",
                "--workers",
                "2",
                "--skip-no-face",
            ],
        ),
        (
            "cache/aligned/lfw_112x96",
            [
                "py",
                "align/align_dataset.py",
                "--input-dir",
                str(data_dir / "lfw"),
                "--output-dir",
                "cache/aligned/lfw_112x96",
                "--image-size",
                "112x96",
                "--workers",
                "2",
                "--only-list",
                str(listed),
            ],
        ),
    ]
    assert listed.read_text() == pairs_image_list(data_dir / "lfw_pairs.txt", tmp_path / "again.txt").read_text()

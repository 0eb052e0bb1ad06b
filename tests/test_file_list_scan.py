"""The identity-folder scan gives the file list a plain reading of the tree gives: the lean scan
(bytes names, one folder at a time) changed speed and memory, not the result."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from input_pipeline.file_list import IMAGE_SUFFIXES, scan_identity_folders


def reference_scan(roots: list[Path], min_images: int, namespace_by_root: bool):
    """(identities, paths, labels, root_index) read the obvious way: pathlib, str names, sorted."""
    folders = []
    for index, root in enumerate(roots):
        for folder in root.iterdir():
            names = (
                sorted(p.name for p in folder.iterdir() if p.is_file() and p.name.lower().endswith(IMAGE_SUFFIXES))
                if folder.is_dir()
                else []
            )
            if folder.is_dir() and len(names) >= min_images:
                name = f"{root.name}/{folder.name}" if namespace_by_root else folder.name
                folders.append((name, index, [f"{folder.name}/{image}" for image in names]))
    folders.sort()
    paths = [path.encode() for _, _, paths in folders for path in paths]
    labels = [label for label, (_, _, paths) in enumerate(folders) for _ in paths]
    root_index = [index for _, index, paths in folders for _ in paths]
    return [name for name, _, _ in folders], np.array(paths), labels, root_index


def make_tree(root: Path, layout: dict[str, list[str]]) -> Path:
    for folder, names in layout.items():
        (root / folder).mkdir(parents=True)
        for name in names:
            if name.endswith("/"):
                (root / folder / name).mkdir()
            else:
                (root / folder / name).touch()
    return root


@pytest.fixture()
def two_roots(tmp_path) -> list[Path]:
    """Edge cases: upper-case and non-image suffixes, non-ASCII names, a sub-folder named like an
    image, a loose file beside the identities, an empty identity, and file names that sort
    differently as numbers."""
    first = make_tree(
        tmp_path / "first",
        {
            "n000002": ["0010_01.jpg", "0002_01.JPG", "0001_02.jpeg", "notes.txt", "x.png.bak", "sub.jpg/"],
            "Zoë": ["é.png", "z.jpg", "ß.jpg", "a.PNG"],
            "n000010": ["1.jpg"],
            "empty": [],
        },
    )
    (first / "loose.jpg").touch()
    second = make_tree(tmp_path / "second", {"Ana": ["b.jpg", "a.jpg"], "bob": ["0.png", "10.png", "9.png"]})
    return [first, second]


@pytest.mark.parametrize("min_images", [1, 2, 3])
def test_scan_equals_a_plain_reading_of_the_tree(two_roots, min_images):
    for roots, namespace in (([two_roots[0]], False), (two_roots, False), (two_roots, True)):
        found = scan_identity_folders(roots, min_images, namespace)
        identities, paths, labels, root_index = reference_scan(roots, min_images, namespace)
        assert found.identities == identities
        assert found.paths.dtype == paths.dtype and found.paths.tolist() == paths.tolist()
        assert found.labels.tolist() == labels and found.root_index.tolist() == root_index
        assert found.labels.dtype == np.int32 and found.root_index.dtype == np.uint16


def test_scan_of_the_real_training_sets_equals_a_plain_reading(data_dir):
    roots = [data_dir / "celeba299", data_dir / "celeba841"]
    found = scan_identity_folders(roots)
    identities, paths, labels, root_index = reference_scan(roots, 1, False)
    assert len(found.paths) > 20_000 and found.identities == identities
    assert found.paths.tolist() == paths.tolist() and found.labels.tolist() == labels
    assert found.root_index.tolist() == root_index

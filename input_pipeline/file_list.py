"""The training file list: built once with os.scandir, kept as compact arrays and a text file.

Layout: root/<identity>/<image>.(jpg|jpeg|png), under one or several roots that together form
one label space. Identities are sorted by name and labelled 0..C-1 after the `min_images`
filter; the label map is one identity name per line (line = label). An identity folder name
found under two roots is an error (the same name is taken to mean two people), unless the roots
are namespaced: then identities are named `<root folder>/<identity>`.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image

from common.atomic_files import atomic_output
from common.errors import UserFileNotFoundError, UserValueError

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")
_IMAGE_SUFFIXES_BYTES = tuple(suffix.encode() for suffix in IMAGE_SUFFIXES)


@dataclasses.dataclass
class FileList:
    """Relative paths (`<identity>/<image>`) sorted by label, their root, labels and label names."""

    roots: list[Path]
    root_index: np.ndarray  # uint16, roots[root_index[i]] holds paths[i]
    paths: np.ndarray  # bytes, relative to their root
    labels: np.ndarray  # int32
    identities: list[str]  # identities[label]

    @property
    def num_classes(self) -> int:
        return len(self.identities)

    def absolute_paths(self) -> np.ndarray:
        prefixes = np.array([(str(root) + os.sep).encode() for root in self.roots])
        return np.char.add(prefixes[self.root_index], self.paths)

    def absolute_path(self, index: int) -> Path:
        return self.roots[self.root_index[index]] / self.paths[index].decode()

    def save(self, path: Path) -> None:
        """The run's file_list.tsv: a `# roots:` line naming each training root by its folder name,
        then label<TAB>root number<TAB>path within that root per image (the label map is
        labels.txt). No absolute path: the file travels with the run and names no home folder."""
        names = ", ".join(f"{index} {root.name}" for index, root in enumerate(self.roots))
        with atomic_output(path) as temporary, open(temporary, "wb") as handle:
            handle.write(os.fsencode(f"# roots: {names}\n"))
            for label, root, relative in zip(self.labels, self.root_index, self.paths, strict=True):
                handle.write(b"%d\t%d\t%s\n" % (label, root, relative))


def _image_names(folder: str) -> list[bytes]:
    """Sorted names of the image files in `folder`: bytes straight from os.scandir (no str object
    per file) and its d_type (no stat per file), for VGGFace2's 3.3 M files (benchmarks/bench_scan.py)."""
    with os.scandir(os.fsencode(folder)) as entries:
        return sorted(
            entry.name for entry in entries if entry.name.lower().endswith(_IMAGE_SUFFIXES_BYTES) and entry.is_file()
        )


def _scan_root(root: Path, min_images: int) -> list[tuple[str, np.ndarray]]:
    """(identity, its `identity/image` paths as a sorted bytes array) of every identity folder of
    `root` with >= min_images; one folder's names are Python objects at a time."""
    if not root.is_dir():
        raise UserFileNotFoundError(f"{root}: aligned training folder not found")
    found = []
    with os.scandir(root) as identities:
        for identity in identities:
            if not identity.is_dir():
                continue
            names = _image_names(identity.path)
            if len(names) >= min_images:
                prefix = os.fsencode(identity.name) + b"/"
                found.append((identity.name, np.array([prefix + name for name in names], dtype=np.bytes_)))
    return found


def scan_identity_folders(
    roots: str | Path | Sequence[str | Path], min_images: int = 1, namespace_by_root: bool = False
) -> FileList:
    """Every image of every identity folder with at least `min_images` images, over all roots."""
    roots = [Path(roots)] if isinstance(roots, (str, os.PathLike)) else [Path(root) for root in roots]
    if not roots:
        raise UserValueError("no training folder given")
    if namespace_by_root and len({root.name for root in roots}) < len(roots):
        raise UserValueError(f"namespacing by root needs distinct folder names: {[str(r) for r in roots]}")
    per_identity: list[tuple[str, int, np.ndarray]] = []  # (label name, root, its paths)
    first_root: dict[str, Path] = {}
    for index, root in enumerate(roots):
        for identity, paths in _scan_root(root, min_images):
            name = f"{root.name}/{identity}" if namespace_by_root else identity
            if name in first_root:
                raise UserValueError(
                    f"identity {identity!r} is in two training folders: "
                    f"{first_root[name] / identity} and {root / identity} "
                    "(rename one, or set data.namespace_by_root: true if they are different people)"
                )
            first_root[name] = root
            per_identity.append((name, index, paths))
    if not per_identity:
        raise UserValueError(f"{', '.join(map(str, roots))}: no identity folder with >= {min_images} images")
    per_identity.sort(key=lambda item: item[0])
    counts = [len(paths) for *_, paths in per_identity]
    paths = np.concatenate([paths for *_, paths in per_identity])
    root_index = np.repeat(np.array([index for _, index, _ in per_identity], np.uint16), counts)
    labels = np.repeat(np.arange(len(per_identity), dtype=np.int32), counts)
    return FileList(roots, root_index, paths, labels, [name for name, *_ in per_identity])


def check_image_size(file_list: FileList, image_size) -> None:
    """A clear error when a root's first image is not `image_size` (H, W): a 112x112 cache under a
    112x96 config, or unaligned photos. Reads one image header per root."""
    height, width = image_size
    for index, root in enumerate(file_list.roots):
        first = np.flatnonzero(file_list.root_index == index)
        if first.size == 0:
            continue
        path = file_list.absolute_path(int(first[0]))
        try:
            with Image.open(path) as image:
                found_width, found_height = image.size
        except OSError:
            continue  # an unreadable file is skipped and counted by the input pipeline
        if (found_height, found_width) != (height, width):
            raise UserValueError(
                f"{root}: training images are {found_height}x{found_width} (e.g. {path.name}) but "
                f"data.image_size is {height}x{width}; align with --image-size {height}x{width} "
                "or set data.image_size to match"
            )

"""The training file list: built once with os.scandir, kept as compact arrays and a text file.

Layout: root/<identity>/<image>.(jpg|jpeg|png). Identities are sorted by name and labelled
0..C-1 after the `min_images` filter; the label map is one identity name per line (line = label).
"""
from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import numpy as np

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")


@dataclasses.dataclass
class FileList:
    """Relative paths (`<identity>/<image>`) sorted by label, their labels and the label names."""
    root: Path
    paths: np.ndarray         # bytes, relative to root
    labels: np.ndarray        # int32
    identities: list[str]     # identities[label]

    @property
    def num_classes(self) -> int:
        return len(self.identities)

    def absolute_paths(self) -> np.ndarray:
        prefix = (str(self.root) + os.sep).encode()
        return np.char.add(prefix, self.paths)

    def save(self, run_dir: Path) -> None:
        """`labels.txt` (one identity per line, line index = label) and `file_list.tsv`."""
        (run_dir / "labels.txt").write_text("".join(f"{name}\n" for name in self.identities))
        with open(run_dir / "file_list.tsv", "wb") as handle:
            for path, label in zip(self.paths, self.labels):
                handle.write(b"%d\t%s\n" % (label, path))


def scan_identity_folders(root: str | Path, min_images: int = 1) -> FileList:
    """Every image of every identity folder with at least `min_images` images."""
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"{root}: aligned training folder not found")
    per_identity: list[tuple[str, list[str]]] = []
    with os.scandir(root) as identities:
        for identity in identities:
            if not identity.is_dir():
                continue
            with os.scandir(identity.path) as images:
                names = sorted(entry.name for entry in images
                               if entry.is_file() and entry.name.lower().endswith(IMAGE_SUFFIXES))
            if len(names) >= min_images:
                per_identity.append((identity.name, names))
    if not per_identity:
        raise ValueError(f"{root}: no identity folder with >= {min_images} images")
    per_identity.sort()
    counts = [len(names) for _, names in per_identity]
    paths = np.array([f"{identity}/{name}".encode() for identity, names in per_identity
                      for name in names])
    labels = np.repeat(np.arange(len(per_identity), dtype=np.int32), counts)
    return FileList(root, paths, labels, [identity for identity, _ in per_identity])

"""Streaming the inputs of a dataset run: directory walk or explicit list, and sharding.

Nothing here materialises the whole file list, so a 3.3 M-file tree (VGGFace2) streams in
constant memory per directory.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from pathlib import Path

from common.errors import UserValueError, require_file

IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff", ".gif"})


def walk_images(input_dir) -> Iterator[str]:
    """Relative POSIX paths of image files under `input_dir`, in sorted (deterministic) order.

    Directory links are followed, but a directory already on the walk (a link loop such as
    `a/b -> ..`) is entered once only, and a link that cannot be resolved (`x -> x`) is passed
    over like any other non-image entry."""
    root = Path(input_dir)
    visited = set()

    def walk(directory: Path, prefix: str) -> Iterator[str]:
        identity = os.stat(directory)
        if (identity.st_dev, identity.st_ino) in visited:
            return
        visited.add((identity.st_dev, identity.st_ino))
        with os.scandir(directory) as entries:
            entries = sorted(entries, key=lambda e: e.name)
        for entry in entries:
            relative = prefix + entry.name
            if _is_dir(entry):
                yield from walk(Path(entry.path), relative + "/")
            elif Path(entry.name).suffix.lower() in IMAGE_EXTENSIONS:
                yield relative

    yield from walk(root, "")


def _is_dir(entry: os.DirEntry) -> bool:
    try:
        return entry.is_dir(follow_symlinks=True)
    except OSError:  # ELOOP and the like: not a folder we can enter
        return False


def read_path_list(list_file) -> Iterator[str]:
    """Relative paths from a text file, one per line; blank lines and '#' comments are ignored.
    Absolute paths or paths escaping the input folder are rejected with the offending line."""
    with open(require_file(list_file, "path list"), encoding="utf-8") as handle:
        for line_number, line in enumerate(handle, start=1):
            relative = line.strip()
            if not relative or relative.startswith("#"):
                continue
            relative = relative.replace("\\", "/")
            if relative.startswith("/") or ".." in relative.split("/"):
                raise UserValueError(
                    f"{list_file}:{line_number}: path {relative!r} must be relative "
                    "to the input folder and stay inside it"
                )
            yield relative


def parse_shard(text: str) -> tuple[int, int]:
    """'I/N' -> (I, N) with 0 <= I < N."""
    try:
        index, count = (int(part) for part in str(text).split("/"))
    except ValueError:
        raise UserValueError(f"shard {text!r} is not of the form I/N (e.g. 0/4)") from None
    if count < 1 or not 0 <= index < count:
        raise UserValueError(f"shard {text!r}: need 0 <= I < N")
    return index, count


def shard_of(relative_path: str, shard_count: int) -> int:
    """Deterministic shard of a path: a hash of the path alone, so independent machines agree
    without coordination or a shared sorted list."""
    digest = hashlib.md5(os.fsencode(relative_path)).digest()  # non-UTF-8 names too
    return int.from_bytes(digest[:8], "big") % shard_count


def in_shard(relative_path: str, shard: tuple[int, int]) -> bool:
    index, count = shard
    return count == 1 or shard_of(relative_path, count) == index

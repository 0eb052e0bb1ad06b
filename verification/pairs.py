"""Strict parsing of LFW pairs files (View 1 and View 2) and resolution of aligned image paths.

Never drops a pair: a malformed line or a missing image is an error naming the file and line,
because one silently dropped pair shifts every later fold (a known facenet bug).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from common.errors import UserFileNotFoundError, UserValueError, require_file
from verification.pair_set import PairSet, inside

# Aligned folders may hold JPEG or PNG copies of LFW; probed in this order.
IMAGE_EXTENSIONS = (".jpg", ".png")


class PairsFormatError(UserValueError):
    """A pairs file that does not follow the LFW format."""


@dataclass(frozen=True)
class Pairs:
    """Parsed pairs: image stems `Person/Person_0001` (no extension), labels and fold ids.

    `fold_ids[i]` is the cross-validation fold of pair i; `line_numbers[i]` its 1-based line.
    """

    source: str
    left: tuple[str, ...]
    right: tuple[str, ...]
    is_same: np.ndarray
    fold_ids: np.ndarray
    line_numbers: tuple[int, ...]

    def __len__(self) -> int:
        return len(self.left)

    @property
    def num_folds(self) -> int:
        return int(self.fold_ids.max()) + 1

    def unique_stems(self) -> list[str]:
        """Every referenced image once, in first-appearance order."""
        return list(dict.fromkeys(s for pair in zip(self.left, self.right, strict=True) for s in pair))

    def fingerprint(self) -> str:
        """SHA-256 of the pairs, labels and folds (not of the file's bytes: line endings and
        spacing do not change it); LFW View 2 is recognised by it (verification/benchmarks.py)."""
        text = "\n".join(
            f"{a} {b} {int(s)} {f}"
            for a, b, s, f in zip(self.left, self.right, self.is_same, self.fold_ids, strict=True)
        )
        return hashlib.sha256(text.encode()).hexdigest()

    def first_folds(self, n: int) -> Pairs:
        """The pairs of folds 0..n-1 (a cheaper check, e.g. during training)."""
        if not 1 <= n <= self.num_folds:
            raise UserValueError(f"{self.source}: asked for {n} folds, file has {self.num_folds}")
        keep = self.fold_ids < n
        index = np.flatnonzero(keep)
        return Pairs(
            self.source,
            tuple(self.left[i] for i in index),
            tuple(self.right[i] for i in index),
            self.is_same[keep],
            self.fold_ids[keep],
            tuple(self.line_numbers[i] for i in index),
        )


def image_stem(name: str, number: int) -> str:
    """`Person 1` -> `Person/Person_0001` (LFW naming, extension left to the caller)."""
    return f"{name}/{name}_{number:04d}"


def parse_pairs(path: str | Path, view1_folds: int = 10) -> Pairs:
    """Parse an LFW pairs file.

    View 2 (header `folds per_class`, e.g. `10 300`): fold k is the 2 * per_class consecutive
    pairs starting at line 2 + 2 * per_class * k, first the same-person then the different-person
    pairs. View 1 (header: a single count n; n same pairs then n different ones, no folds): the
    pairs are dealt into `view1_folds` folds round-robin within each block, so every fold keeps the
    50/50 balance and cross-validation works exactly as for View 2.
    """
    path = require_file(path, "pairs file")
    lines = path.read_text().splitlines()
    if not lines:
        raise PairsFormatError(f"{path}:1: empty pairs file")
    header = lines[0].split()
    try:
        header_numbers = [int(v) for v in header]
    except ValueError:
        raise PairsFormatError(f"{path}:1: header must be 'folds per_class' or 'count', got {lines[0]!r}") from None
    is_view2 = len(header_numbers) == 2
    if is_view2:
        num_folds, per_class = header_numbers
        blocks = [(per_class, per_class)] * num_folds
    elif len(header_numbers) == 1:
        num_folds, per_class = view1_folds, header_numbers[0]
        blocks = [(per_class, per_class)]
    else:
        raise PairsFormatError(f"{path}:1: header must be 'folds per_class' or 'count', got {lines[0]!r}")
    if num_folds < 1 or per_class < 1:
        raise PairsFormatError(f"{path}:1: header numbers must be positive, got {lines[0]!r}")
    if not is_view2 and per_class < num_folds:
        raise PairsFormatError(f"{path}:1: {per_class} pairs per class cannot fill {num_folds} folds")
    body = [(number, line) for number, line in enumerate(lines[1:], start=2) if line.strip()]
    expected = sum(same + diff for same, diff in blocks)
    if len(body) != expected:
        raise PairsFormatError(
            f"{path}: header {lines[0]!r} promises {expected} pairs, found {len(body)} non-empty lines"
        )

    left, right, is_same, fold_ids, line_numbers = [], [], [], [], []
    position = 0
    for block_index, (same_count, diff_count) in enumerate(blocks):
        for expect_same, count in ((True, same_count), (False, diff_count)):
            for k in range(count):
                number, line = body[position]
                position += 1
                a, b = _parse_line(path, number, line, expect_same)
                left.append(a)
                right.append(b)
                is_same.append(expect_same)
                # View 2: one block per fold; View 1: round-robin inside the single block.
                fold_ids.append(block_index if is_view2 else k % num_folds)
                line_numbers.append(number)
    return Pairs(
        str(path),
        tuple(left),
        tuple(right),
        np.array(is_same, dtype=bool),
        np.array(fold_ids, dtype=np.int64),
        tuple(line_numbers),
    )


def _parse_line(path: Path, number: int, line: str, expect_same: bool) -> tuple[str, str]:
    fields = line.split()
    kind = "same-person" if expect_same else "different-person"
    shape = "'name i j'" if expect_same else "'name1 i name2 j'"
    if len(fields) != (3 if expect_same else 4):
        raise PairsFormatError(f"{path}:{number}: expected a {kind} pair {shape}, got {line!r}")
    try:
        if expect_same:
            name, i, j = fields[0], int(fields[1]), int(fields[2])
            return image_stem(name, i), image_stem(name, j)
        name1, i, name2, j = fields[0], int(fields[1]), fields[2], int(fields[3])
        return image_stem(name1, i), image_stem(name2, j)
    except ValueError:
        raise PairsFormatError(f"{path}:{number}: image numbers must be integers in {line!r}") from None


def resolve_images(pairs: Pairs, image_dir: str | Path) -> dict[str, Path]:
    """Map every image stem of `pairs` to its file in `image_dir` (.jpg or .png).

    Raises FileNotFoundError naming the pairs file and line of the first missing image.
    """
    image_dir = Path(image_dir)
    if not image_dir.is_dir():
        raise UserFileNotFoundError(f"image folder {image_dir} does not exist")
    resolved: dict[str, Path] = {}
    for stems, number in zip(zip(pairs.left, pairs.right, strict=True), pairs.line_numbers, strict=True):
        for stem in stems:
            if stem in resolved:
                continue
            for ext in IMAGE_EXTENSIONS:
                candidate = inside(image_dir, stem + ext, f"{pairs.source}:{number}")
                if candidate.is_file():
                    resolved[stem] = candidate
                    break
            else:
                raise UserFileNotFoundError(
                    f"{pairs.source}:{number}: image {stem}{{{','.join(IMAGE_EXTENSIONS)}}} not found in {image_dir}"
                )
    return resolved


def lfw_pair_set(name: str, pairs: Pairs, image_dir: str | Path | None) -> PairSet:
    """The PairSet of an LFW-format pairs file over the image folder (ids: the image stems);
    without a folder, the pairs alone."""
    files = resolve_images(pairs, image_dir) if image_dir is not None else None
    stems = pairs.unique_stems()
    row = {stem: k for k, stem in enumerate(stems)}
    return PairSet(
        name,
        pairs.source,
        tuple(stems),
        np.array([row[s] for s in pairs.left], np.int64),
        np.array([row[s] for s in pairs.right], np.int64),
        pairs.is_same,
        pairs.fold_ids,
        image_paths=None if files is None else tuple(files[s] for s in stems),
    )

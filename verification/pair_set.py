"""A verification benchmark loaded for evaluation: its images, its pairs and their folds.

Every benchmark format (verification/pairs.py for LFW's, pair_list.py, insightface_bin.py) reads
its files into a `PairSet`; the evaluators, eval_lfw.py and the in-training checks see only
this. Images come either as files (folder formats: decoded when embedded) or as encoded bytes
held in memory (.bin files). TF-free.
"""

from __future__ import annotations

import io
import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from common.errors import UserValueError

# insightface evaluates its .bin sets (and our plain lists) in 10 consecutive folds.
DEFAULT_FOLDS = 10
NAME_PATTERN = re.compile(r"^[a-z][a-z0-9_]*$")
# Tag prefixes that training already uses in TensorBoard: a benchmark may not take them.
RESERVED_NAMES = ("train", "input", "weights")


def check_name(name: str, source: str = "benchmark") -> str:
    """`name` when it can name TensorBoard tags and files (lowercase, digits, underscores)."""
    if not NAME_PATTERN.match(name) or name in RESERVED_NAMES:
        raise UserValueError(
            f"{source}: benchmark name {name!r} must be lowercase letters, digits "
            f"and underscores, starting with a letter, and not one of {RESERVED_NAMES}"
        )
    return name


def consecutive_folds(count: int, folds: int = DEFAULT_FOLDS) -> np.ndarray:
    """Fold id of each of `count` pairs cut into `folds` consecutive blocks, the first
    `count % folds` blocks one pair longer (sklearn's KFold without shuffling, as insightface)."""
    if count < folds:
        raise UserValueError(f"{count} pairs cannot fill {folds} folds")
    sizes = np.full(folds, count // folds)
    sizes[: count % folds] += 1
    return np.repeat(np.arange(folds), sizes)


def inside(root: Path, relative: str, source: str) -> Path:
    """root/relative, refusing absolute names and names that climb out of `root` (`../`)."""
    normal = os.path.normpath(relative)
    if os.path.isabs(relative) or normal == ".." or normal.startswith(".." + os.sep):
        raise UserValueError(f"{source}: image name {relative!r} leaves the image folder {root}")
    return root / normal


@dataclass(frozen=True)
class PairSet:
    """Pairs over a list of images. `image_ids[k]` names image k (a relative path stem for
    folders, the index for .bin files); pair i compares images `left_rows[i]` and
    `right_rows[i]`; `fold_ids[i]` is its cross-validation fold. `image_paths` (files) or
    `encoded` (JPEG/PNG bytes) holds the images in `image_ids` order; neither when only the
    pairs are known (embeddings read from a file, no image folder given)."""

    name: str
    source: str
    image_ids: tuple[str, ...]
    left_rows: np.ndarray
    right_rows: np.ndarray
    is_same: np.ndarray
    fold_ids: np.ndarray
    image_paths: tuple[Path, ...] | None = None
    encoded: tuple[bytes, ...] | None = None

    def __post_init__(self):
        if self.image_paths is not None and self.encoded is not None:
            raise ValueError("a PairSet holds image_paths or encoded images, not both")
        held = self.image_paths if self.image_paths is not None else self.encoded
        if held is not None and len(held) != len(self.image_ids):
            raise ValueError(f"{len(held)} images for {len(self.image_ids)} image ids")
        sizes = {len(self.left_rows), len(self.right_rows), len(self.is_same), len(self.fold_ids)}
        if len(sizes) != 1:
            raise ValueError(f"pair arrays differ in length: {sorted(sizes)}")

    def __len__(self) -> int:
        return len(self.is_same)

    @property
    def num_folds(self) -> int:
        return int(self.fold_ids.max()) + 1

    @property
    def left(self) -> list[str]:
        return [self.image_ids[i] for i in self.left_rows]

    @property
    def right(self) -> list[str]:
        return [self.image_ids[i] for i in self.right_rows]

    def first_folds(self, n: int) -> PairSet:
        """The pairs of folds 0..n-1 and only the images they use (a cheaper check)."""
        if not 1 <= n <= self.num_folds:
            raise UserValueError(f"{self.source}: asked for {n} folds, it has {self.num_folds}")
        keep = self.fold_ids < n
        left, right = self.left_rows[keep], self.right_rows[keep]
        used = list(dict.fromkeys(int(i) for pair in zip(left, right, strict=True) for i in pair))
        row = {old: new for new, old in enumerate(used)}
        pick = lambda items: None if items is None else tuple(items[i] for i in used)
        return PairSet(
            self.name,
            self.source,
            tuple(self.image_ids[i] for i in used),
            np.array([row[int(i)] for i in left], np.int64),
            np.array([row[int(i)] for i in right], np.int64),
            self.is_same[keep],
            self.fold_ids[keep],
            pick(self.image_paths),
            pick(self.encoded),
        )

    def load_images(self, image_size: tuple[int, int]) -> np.ndarray:
        """Every image as uint8 [N, H, W, 3] fitted to `image_size` (see `fit_width`)."""
        image_size = tuple(int(v) for v in image_size)
        images = np.zeros((len(self.image_ids), *image_size, 3), np.uint8)
        for k in range(len(self.image_ids)):
            images[k] = self.image(k, image_size)
        return images

    def image(self, k: int, image_size: tuple[int, int] | None = None) -> np.ndarray:
        """Image k as uint8 [H, W, 3]; fitted to `image_size` when given."""
        from PIL import Image

        held = self.image_paths[k] if self.image_paths is not None else io.BytesIO(self.encoded[k])
        with Image.open(held) as opened:
            pixels = np.asarray(opened.convert("RGB"))
        return pixels if image_size is None else fit_width(pixels, image_size, self.describe(k))

    def describe(self, k: int) -> str:
        """Image k for a message: its file, or the .bin file and index."""
        if self.image_paths is not None:
            return str(self.image_paths[k])
        return f"{self.source} image {self.image_ids[k]}"


def fit_width(image: np.ndarray, image_size: tuple[int, int], what: str) -> np.ndarray:
    """`image` for a model of `image_size` (H, W): as it is when it has that size; the centre W
    columns when only wider by an even number (insightface's 112x112 crops are the 112x96 crops
    with 8 more columns each side: align/templates.py). Anything else is an error naming it."""
    height, width = image.shape[:2]
    want_h, want_w = image_size
    if height == want_h and width >= want_w and (width - want_w) % 2 == 0:
        margin = (width - want_w) // 2
        return image[:, margin : margin + want_w]
    raise UserValueError(
        f"{what}: image is {height}x{width}, the model takes {want_h}x{want_w} "
        "(or the same height and a wider, centred crop)"
    )

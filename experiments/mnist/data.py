"""Loading the 5k-digit MNIST subset and its seeded stratified train/test split."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from common.errors import UserValueError
from common.paths import require_data

MNIST_FILE = "mnist_5k.npz"
NUM_CLASSES = 10
IMAGE_SHAPE = (28, 28)


@dataclass(frozen=True)
class Split:
    """Images as float32 [N, 28, 28, 1] in [0, 1], labels as int32 [N]."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray


def load_mnist(path: str | os.PathLike) -> tuple[np.ndarray, np.ndarray]:
    """Read `x` (uint8 [N, 28, 28]) and `y` (labels 0..9) from an npz, checking what is there."""
    path = Path(path)
    with np.load(path) as archive:
        missing = {"x", "y"} - set(archive.files)
        if missing:
            raise UserValueError(f"{path}: missing key(s) {sorted(missing)}; found {archive.files}")
        images, labels = archive["x"], archive["y"]
    if images.ndim != 3 or images.shape[1:] != IMAGE_SHAPE:
        raise UserValueError(f"{path}: key 'x' has shape {images.shape}, expected [N, 28, 28]")
    if labels.shape != (images.shape[0],):
        raise UserValueError(f"{path}: key 'y' has shape {labels.shape}, expected ({images.shape[0]},)")
    if labels.min() < 0 or labels.max() >= NUM_CLASSES:
        raise UserValueError(f"{path}: key 'y' has labels outside 0..{NUM_CLASSES - 1}")
    return images, labels.astype(np.int32)


def stratified_split(images: np.ndarray, labels: np.ndarray, num_train: int, num_test: int, seed: int) -> Split:
    """Seeded split with each class represented in proportion in both parts.

    Stratified so a 1,000-image test set has 100 of each digit and the per-class colours in the
    figure are comparable.
    """
    if num_train + num_test > len(labels):
        raise UserValueError(f"asked for {num_train} train + {num_test} test images, only {len(labels)} available")
    rng = np.random.default_rng(seed)
    train_parts, test_parts = [], []
    for cls in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == cls))
        share = len(members) / len(labels)
        n_test = int(round(num_test * share))
        n_train = int(round(num_train * share))
        test_parts.append(members[:n_test])
        train_parts.append(members[n_test : n_test + n_train])
    train_idx = rng.permutation(np.concatenate(train_parts))
    test_idx = np.sort(np.concatenate(test_parts))

    def to_float(batch: np.ndarray) -> np.ndarray:
        return (batch.astype(np.float32) / 255.0)[..., None]

    return Split(to_float(images[train_idx]), labels[train_idx], to_float(images[test_idx]), labels[test_idx])


def load_split(
    data_root: str | os.PathLike | None = None, num_train: int = 4000, num_test: int = 1000, seed: int = 0
) -> Split:
    """The seeded train/test split of `<data root>/mnist_5k.npz`."""
    images, labels = load_mnist(require_data(MNIST_FILE, data_root))
    return stratified_split(images, labels, num_train, num_test, seed)

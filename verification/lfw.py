"""Verification on an in-memory copy of a benchmark's images (train.py's checks; LFW by default)."""

from __future__ import annotations

import os

import numpy as np

from common.errors import UserValueError
from verification import embedding, protocol
from verification.pair_set import PairSet
from verification.pairs import lfw_pair_set, parse_pairs


class BenchmarkEvaluator:
    """Loads the images of a benchmark's pairs once, then evaluates any embedding function.

    Args:
        pair_set: the benchmark (verification/benchmarks.py loads one from its files).
        image_size: (H, W) of the model; images are fitted (pair_set.fit_width) or refused.
        folds: None for every fold, or n >= 2 for the first n folds (a cheaper check).
        batch_size: images per embed_fn call (doubled when mirror images are added).
    """

    def __init__(self, pair_set: PairSet, image_size: tuple[int, int], folds: int | None = None, batch_size: int = 64):
        self.pairs: PairSet = pair_set if folds is None else pair_set.first_folds(folds)
        if self.pairs.num_folds < 2:
            raise UserValueError(f"folds={folds}: cross-validation needs at least 2 folds")
        self.name = self.pairs.name
        self.image_size = tuple(int(v) for v in image_size)
        self.batch_size = batch_size
        if self.pairs.image_paths is not None:  # tf.data decodes files in parallel
            self.images: np.ndarray = embedding.load_images(self.pairs.image_paths, self.image_size)
        else:
            self.images = self.pairs.load_images(self.image_size)

    def embed(self, embed_fn: embedding.EmbedFn, with_flip: bool = True) -> tuple[np.ndarray, np.ndarray | None]:
        """(embeddings, mirror-image embeddings or None) of every loaded image."""
        return embedding.embed_array(embed_fn, self.images, self.batch_size, with_flip)

    def evaluate_embeddings(
        self,
        embeddings: np.ndarray,
        flipped: np.ndarray | None = None,
        flip: str = "concat",
        similarity: str = "cosine",
        subtract_mean: bool = False,
        far_target: float = 1e-3,
    ) -> protocol.VerificationResult:
        """Run the protocol on precomputed per-image embeddings (rows follow the image ids)."""
        features = protocol.combine_flip(embeddings, flipped, flip)
        return protocol.evaluate_pairs(
            features[self.pairs.left_rows],
            features[self.pairs.right_rows],
            self.pairs.is_same,
            self.pairs.fold_ids,
            similarity,
            subtract_mean,
            far_target,
        )

    def evaluate(
        self,
        embed_fn: embedding.EmbedFn,
        flip: str = "concat",
        similarity: str = "cosine",
        subtract_mean: bool = False,
        far_target: float = 1e-3,
    ) -> dict:
        """Embed the images with `embed_fn` and return the protocol summary dict
        (`accuracy_mean`, `accuracy_std`, `val_mean`, `val_std`, `far_mean`, `auc`, `eer`, folds).
        """
        if flip not in protocol.FLIP_MODES:  # fail before the expensive embedding pass
            raise ValueError(f"flip mode must be one of {protocol.FLIP_MODES}, got {flip!r}")
        embeddings, flipped = self.embed(embed_fn, with_flip=flip != "none")
        return self.evaluate_embeddings(embeddings, flipped, flip, similarity, subtract_mean, far_target).to_dict()


class LfwEvaluator(BenchmarkEvaluator):
    """A BenchmarkEvaluator of an LFW-format pairs file (View 2 `10 300` or View 1) over an
    aligned folder (`Person/Person_0001.jpg` or `.png`)."""

    def __init__(
        self,
        lfw_dir: str | os.PathLike,
        pairs_path: str | os.PathLike,
        image_size: tuple[int, int],
        folds: int | None = None,
        batch_size: int = 64,
        name: str = "lfw",
    ):
        super().__init__(lfw_pair_set(name, parse_pairs(pairs_path), lfw_dir), image_size, folds, batch_size)

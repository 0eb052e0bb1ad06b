"""LFW verification on an in-memory copy of the aligned images (used by train.py and eval)."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from common.errors import UserValueError
from verification import embedding, protocol
from verification.pairs import Pairs, parse_pairs, resolve_images


class LfwEvaluator:
    """Loads the images referenced by a pairs file once, then evaluates any embedding function.

    Args:
        lfw_dir: aligned LFW folder (`Person/Person_0001.jpg` or `.png`).
        pairs_path: LFW pairs file (View 2 `10 300` or View 1 single-count header).
        image_size: (H, W) the images must have; a mismatch is an error naming the file.
        folds: None for every fold, or n >= 2 for the first n folds (a cheaper check).
        batch_size: images per embed_fn call (doubled when mirror images are added).
    """

    def __init__(self, lfw_dir: str | os.PathLike, pairs_path: str | os.PathLike,
                 image_size: tuple[int, int], folds: int | None = None, batch_size: int = 64):
        pairs = parse_pairs(pairs_path)
        self.pairs: Pairs = pairs if folds is None else pairs.first_folds(folds)
        if self.pairs.num_folds < 2:
            raise UserValueError(f"folds={folds}: cross-validation needs at least 2 folds")
        self.image_size = tuple(int(v) for v in image_size)
        self.batch_size = batch_size
        self.stems = self.pairs.unique_stems()
        files = resolve_images(self.pairs, lfw_dir)
        self.paths: list[Path] = [files[s] for s in self.stems]
        self.images: np.ndarray = embedding.load_images(self.paths, self.image_size)
        row = {stem: i for i, stem in enumerate(self.stems)}
        self.left_rows = np.array([row[s] for s in self.pairs.left])
        self.right_rows = np.array([row[s] for s in self.pairs.right])

    def embed(self, embed_fn: embedding.EmbedFn, with_flip: bool = True
              ) -> tuple[np.ndarray, np.ndarray | None]:
        """(embeddings, mirror-image embeddings or None) of every loaded image."""
        return embedding.embed_array(embed_fn, self.images, self.batch_size, with_flip)

    def evaluate_embeddings(self, embeddings: np.ndarray, flipped: np.ndarray | None = None,
                            flip: str = "concat", similarity: str = "cosine",
                            subtract_mean: bool = False, far_target: float = 1e-3
                            ) -> protocol.VerificationResult:
        """Run the protocol on precomputed per-image embeddings (rows follow `self.stems`)."""
        features = protocol.combine_flip(embeddings, flipped, flip)
        return protocol.evaluate_pairs(features[self.left_rows], features[self.right_rows],
                                       self.pairs.is_same, self.pairs.fold_ids, similarity,
                                       subtract_mean, far_target)

    def evaluate(self, embed_fn: embedding.EmbedFn, flip: str = "concat",
                 similarity: str = "cosine", subtract_mean: bool = False,
                 far_target: float = 1e-3) -> dict:
        """Embed the images with `embed_fn` and return the protocol summary dict
        (`accuracy_mean`, `accuracy_std`, `val_mean`, `val_std`, `far_mean`, `auc`, `eer`, folds).
        """
        if flip not in protocol.FLIP_MODES:  # fail before the expensive embedding pass
            raise ValueError(f"flip mode must be one of {protocol.FLIP_MODES}, got {flip!r}")
        embeddings, flipped = self.embed(embed_fn, with_flip=flip != "none")
        return self.evaluate_embeddings(embeddings, flipped, flip, similarity, subtract_mean,
                                        far_target).to_dict()

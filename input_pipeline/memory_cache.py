"""Decode the aligned training set once and keep it in RAM as uint8, for sets that fit.

Aligned crops are small (112x96x3 = 32 KB), so a CPU-scale set of 20k images is ~650 MB decoded,
while re-reading and re-decoding the same JPEGs every epoch costs the two cores that should run
the model. Decoding happens before any augmentation, so flips stay random per epoch. Unreadable
files are dropped here, once, and counted once.
"""

from __future__ import annotations

import dataclasses
import os
import sys

import numpy as np
import tensorflow as tf

from common.choices import CACHE_MODES
from common.errors import UserValueError
from input_pipeline.decode import decode_contents
from input_pipeline.file_list import FileList

# `auto` caches when the decoded set takes at most this share of the machine's RAM.
AUTO_RAM_FRACTION = 0.25


def decoded_bytes(num_images: int, image_size) -> int:
    height, width = image_size
    return num_images * height * width * 3


def physical_memory_bytes() -> int:
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def use_memory_cache(mode: str, num_images: int, image_size, memory_bytes: int | None = None) -> bool:
    """Whether `mode` (auto / memory / none) caches a set of `num_images` decoded images."""
    if mode not in CACHE_MODES:
        raise ValueError(f"cache mode must be one of {CACHE_MODES}, got {mode!r}")
    if mode != "auto":
        return mode == "memory"
    memory_bytes = physical_memory_bytes() if memory_bytes is None else memory_bytes
    return decoded_bytes(num_images, image_size) <= AUTO_RAM_FRACTION * memory_bytes


@dataclasses.dataclass
class DecodedSet:
    """The readable files of a FileList (same order) and their pixels, uint8 [N, H, W, 3].

    The pixels are one tensor made once, so every dataset built on them (a resumed run, a
    benchmark) shares it instead of copying the set again."""

    file_list: FileList
    images: tf.Tensor
    skipped: list[str]


def decode_all(file_list: FileList, image_size, parallel_calls: int = -1) -> DecodedSet:
    """Read and decode every file once (in parallel); unreadable ones are left out and listed."""
    paths = file_list.absolute_paths()
    parallel = tf.data.AUTOTUNE if parallel_calls < 0 else parallel_calls

    def load(index, path):
        image, ok = decode_contents(tf.io.read_file(path), image_size)
        return index, tf.cast(tf.round(image), tf.uint8), ok

    dataset = tf.data.Dataset.from_tensor_slices((np.arange(len(paths)), paths))
    dataset = dataset.map(load, num_parallel_calls=parallel, deterministic=True)
    # A file that vanished or whose JPEG body is broken raises inside the map: drop it here and
    # count it below with the ones whose signature was wrong.
    dataset = dataset.ignore_errors().batch(256)
    images = np.empty((len(paths), *image_size, 3), np.uint8)
    kept = np.zeros(len(paths), bool)
    for indices, batch, oks in dataset.as_numpy_iterator():
        images[indices] = batch
        kept[indices] = oks
    skipped = [path.decode() for path in paths[~kept]]
    for path in skipped:
        print(f"skipping unreadable image: {path}", file=sys.stderr)
    if not kept.any():
        raise UserValueError(
            f"no readable training image among {len(paths)} files: does the training folder hold images?"
        )
    subset = FileList(
        file_list.roots, file_list.root_index[kept], file_list.paths[kept], file_list.labels[kept], file_list.identities
    )
    return DecodedSet(subset, tf.constant(images[kept] if not kept.all() else images), skipped)

"""The one entry point from training to the input: which route serves the batches.

Routes: TFRecord shards; identity folders read from disk; identity folders decoded once into RAM
(`memory_cache`); each with single shuffled images or P x K identity-balanced batches. Takes
plain values, so the input pipeline never depends on the training package.
"""
from __future__ import annotations

import dataclasses
from pathlib import Path

import tensorflow as tf

from input_pipeline import datasets, tfrecords
from input_pipeline.file_list import FileList
from input_pipeline.memory_cache import DecodedSet


@dataclasses.dataclass
class TrainSource:
    """Where the training images are: a scanned file list (optionally decoded) or TFRecords."""
    file_list: FileList | None = None
    decoded: DecodedSet | None = None
    tfrecord_dir: Path | None = None


def check_batching(batch_size: int, pk: tuple[int, int] | None, tfrecords: bool) -> None:
    """The batch shape the route can serve; cheap, so training checks it before its run dir."""
    if pk is not None and pk[0] * pk[1] != batch_size:
        raise ValueError(f"train.batch_size {batch_size} must equal data.pk_identities "
                         f"x data.pk_images = {pk[0] * pk[1]}")
    if pk is not None and tfrecords:
        raise ValueError("P x K batches need data.format: folders (TFRecords have no per-identity index)")


def build_train_dataset(source: TrainSource, image_size, batch_size: int, *, seed: int,
                        pk: tuple[int, int] | None = None, random_flip: bool = True,
                        parallel_calls: int = -1, shuffle_buffer: int = 4096,
                        skipped_counter: tf.Variable | None = None) -> tf.data.Dataset:
    """Endless (float32 images [B, H, W, 3] in 0..255, int32 labels [B]) batches.

    `pk` = (P, K) asks for P x K batches (P * K must equal `batch_size`).
    """
    image_size = tuple(image_size)
    common = dict(seed=seed, random_flip=random_flip, parallel_calls=parallel_calls)
    check_batching(batch_size, pk, tfrecords=source.tfrecord_dir is not None)
    if source.tfrecord_dir is not None:
        return tfrecords.tfrecord_dataset(source.tfrecord_dir, image_size, batch_size,
                                          shuffle_buffer=shuffle_buffer, skipped_counter=skipped_counter,
                                          **common)
    if source.decoded is not None:
        if pk is not None:
            return datasets.cached_pk_dataset(source.decoded, *pk, **common)
        return datasets.cached_single_image_dataset(source.decoded, batch_size, **common)
    if pk is not None:
        return datasets.pk_dataset(source.file_list, image_size, *pk, skipped_counter=skipped_counter, **common)
    return datasets.single_image_dataset(source.file_list, image_size, batch_size,
                                         skipped_counter=skipped_counter, **common)

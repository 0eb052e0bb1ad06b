"""The one entry point from training to the input: which route serves the batches.

Routes: TFRecord shards; identity folders read from disk; identity folders decoded once into RAM
(`memory_cache`); each with single shuffled images or P x K identity-balanced batches. Training
calls, in order: `check_source` (before its run dir), `open_train_source` (the label map),
`cache_in_memory`, `build_train_dataset`. Takes plain values, so the input pipeline never
depends on the training package; a new format is a branch here and its reader module.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from pathlib import Path

import tensorflow as tf

from common.choices import DATA_FORMATS
from common.errors import UserValueError
from input_pipeline import datasets, tfrecords
from input_pipeline.file_list import FileList, check_image_size, scan_identity_folders
from input_pipeline.memory_cache import DecodedSet, decode_all, use_memory_cache


@dataclasses.dataclass
class TrainSource:
    """Where the training images are: a scanned file list (optionally decoded) or TFRecords."""

    file_list: FileList | None = None
    decoded: DecodedSet | None = None
    tfrecord_dir: Path | None = None


def check_source(data_format: str, train_dirs=(), tfrecord_dir=None) -> None:
    """What format `data_format` needs to be read (cheap: training checks it before its run dir)."""
    if data_format not in DATA_FORMATS:
        raise UserValueError(f"data.format must be one of {', '.join(DATA_FORMATS)}, got {data_format!r}")
    if data_format == "folders" and not train_dirs:
        raise UserValueError("data.train_dirs must name at least one folder")
    if data_format == "tfrecord" and not tfrecord_dir:
        raise UserValueError("data.tfrecord_dir is required when data.format is tfrecord")


def open_train_source(
    data_format: str,
    image_size,
    *,
    train_dirs=(),
    tfrecord_dir=None,
    min_images_per_identity: int = 1,
    namespace_by_root: bool = False,
) -> tuple[list[str], TrainSource]:
    """(identities, source): the label map and where the images are, scanned once. A training
    folder whose images have another size than `image_size` stops here (training never resizes)."""
    check_source(data_format, train_dirs, tfrecord_dir)
    if data_format == "tfrecord":
        tfrecords.check_shard_sizes(tfrecord_dir)  # a truncated copy stops here, before training
        return tfrecords.read_identities(Path(tfrecord_dir)), TrainSource(tfrecord_dir=Path(tfrecord_dir))
    file_list = scan_identity_folders([Path(path) for path in train_dirs], min_images_per_identity, namespace_by_root)
    check_image_size(file_list, tuple(image_size))
    return file_list.identities, TrainSource(file_list=file_list)


def cache_in_memory(
    source: TrainSource, cache: str, image_size, parallel_calls: int = -1, log: Callable[[str], None] = print
) -> TrainSource:
    """`source` with its folders decoded into RAM once when `cache` (auto / memory / none) says
    so; TFRecords are read as they are."""
    image_size = tuple(image_size)
    if source.file_list is None or not use_memory_cache(cache, len(source.file_list.paths), image_size):
        return source
    started = time.time()
    decoded = decode_all(source.file_list, image_size, parallel_calls)
    log(
        f"decoded {len(decoded.file_list.paths)} training images into RAM "
        f"({decoded.images.shape.num_elements() / 2**20:.0f} MiB, {time.time() - started:.0f}s, "
        f"{len(decoded.skipped)} unreadable skipped)"
    )
    return TrainSource(file_list=decoded.file_list, decoded=decoded)


def check_batching(batch_size: int, pk: tuple[int, int] | None, tfrecords: bool) -> None:
    """The batch shape the route can serve; cheap, so training checks it before its run dir."""
    if pk is not None and pk[0] * pk[1] != batch_size:
        raise UserValueError(
            f"train.batch_size {batch_size} must equal data.pk_identities x data.pk_images = {pk[0] * pk[1]}"
        )
    if pk is not None and tfrecords:
        raise UserValueError("P x K batches need data.format: folders (TFRecords have no per-identity index)")


def data_loss_error(source: TrainSource, error: tf.errors.DataLossError) -> Exception:
    """What training raises when tf.data's reads fail with DataLossError: the damaged TFRecord
    shard, named in one line (a UserError); the error itself on the other routes."""
    if source.tfrecord_dir is None:
        return error
    return tfrecords.corrupt_shard_error(source.tfrecord_dir, error)


def build_train_dataset(
    source: TrainSource,
    image_size,
    batch_size: int,
    *,
    seed: int,
    pk: tuple[int, int] | None = None,
    random_flip: bool = True,
    parallel_calls: int = -1,
    shuffle_buffer: int = 4096,
    skipped_counter: tf.Variable | None = None,
) -> tf.data.Dataset:
    """Endless (float32 images [B, H, W, 3] in 0..255, int32 labels [B]) batches.

    `pk` = (P, K) asks for P x K batches (P * K must equal `batch_size`).
    """
    image_size = tuple(image_size)
    common = dict(seed=seed, random_flip=random_flip, parallel_calls=parallel_calls)
    check_batching(batch_size, pk, tfrecords=source.tfrecord_dir is not None)
    if source.tfrecord_dir is not None:
        return tfrecords.tfrecord_dataset(
            source.tfrecord_dir,
            image_size,
            batch_size,
            shuffle_buffer=shuffle_buffer,
            skipped_counter=skipped_counter,
            **common,
        )
    if source.decoded is not None:
        if pk is not None:
            return datasets.cached_pk_dataset(source.decoded, *pk, **common)
        return datasets.cached_single_image_dataset(source.decoded, batch_size, **common)
    if pk is not None:
        return datasets.pk_dataset(source.file_list, image_size, *pk, skipped_counter=skipped_counter, **common)
    return datasets.single_image_dataset(
        source.file_list, image_size, batch_size, skipped_counter=skipped_counter, **common
    )


def next_batch(iterator, source: TrainSource):
    """The next training batch from `source`'s dataset; the input pipeline's own stop (no readable
    images) and a damaged TFRecord shard become one-line UserErrors rather than TensorFlow tracebacks."""
    try:
        return next(iterator)
    except tf.errors.DataLossError as error:
        raise data_loss_error(source, error) from None
    except tf.errors.InvalidArgumentError as error:
        if datasets.NO_VALID_IMAGES not in error.message:
            raise
        reason = next(part for part in error.message.split("[") if datasets.NO_VALID_IMAGES in part)
        raise UserValueError(f"training data: {reason.split(']')[0]}") from None

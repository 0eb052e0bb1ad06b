"""TFRecord route: shards of (encoded image bytes, label, identity) and their reader.

The writer (`write_tfrecords.py`) stores the original encoded file bytes (no re-encoding, no
quality loss). The shard folder also holds `labels.txt` (identity per line, line index = label)
like a run directory, and `shard_reports/<shard>.json` with each shard's counts and size.

A damaged shard stops training in one line that names it (CorruptShardError): a size that differs
from its report is caught when the folder is opened (TensorFlow's reader takes a file cut at a
record boundary for a complete one and would lose the rest silently), any other damage when
tf.data fails to read it.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import tensorflow as tf

from common.errors import UserFileNotFoundError, UserValueError
from common.run_layout import read_labels
from input_pipeline.datasets import _parallel, fail_after_consecutive_unusable, finish, unusable_batch_limit
from input_pipeline.decode import decode_batch, report_skipped

SHARD_PATTERN = "train-{index:05d}-of-{count:05d}.tfrecord"
REPORT_DIR = "shard_reports"
REWRITE = (
    "delete it and rerun the python -m input_pipeline.write_tfrecords command that wrote the folder "
    "(it rewrites missing shards)"
)
FEATURES = {
    "image": tf.io.FixedLenFeature([], tf.string),
    "label": tf.io.FixedLenFeature([], tf.int64),
    "path": tf.io.FixedLenFeature([], tf.string),
}


def serialize_example(contents: bytes, label: int, path: bytes) -> bytes:
    """One record: the file's encoded bytes as they are, its label and its stored path."""
    feature = {
        "image": tf.train.Feature(bytes_list=tf.train.BytesList(value=[contents])),
        "label": tf.train.Feature(int64_list=tf.train.Int64List(value=[int(label)])),
        "path": tf.train.Feature(bytes_list=tf.train.BytesList(value=[path])),
    }
    # deterministic: map fields in key order, so the same shard is the same bytes in every process
    return tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString(deterministic=True)


class CorruptShardError(UserValueError):
    """A TFRecord shard that cannot be read whole; the message names it and how to rewrite it."""


def report_path(shard: Path) -> Path:
    """Where the writer reports on `shard` (its counts and size)."""
    return shard.parent / REPORT_DIR / f"{shard.stem}.json"


def shard_paths(tfrecord_dir: str | Path) -> list[Path]:
    """The folder's shards, sorted; none is an error."""
    paths = sorted(Path(tfrecord_dir).glob("*.tfrecord"))
    if not paths:
        raise UserFileNotFoundError(f"{tfrecord_dir}: no *.tfrecord shards")
    return paths


def check_shard_sizes(tfrecord_dir: str | Path) -> None:
    """Each shard's size against the size its writer reported (shards without a report, or from a
    writer that did not record sizes, are not checked): cheap, one stat per shard."""
    for shard in shard_paths(tfrecord_dir):
        report = report_path(shard)
        expected = json.loads(report.read_text()).get("bytes") if report.is_file() else None
        if expected is not None and shard.stat().st_size != expected:
            raise CorruptShardError(
                f"training data: TFRecord shard {shard} has {shard.stat().st_size} bytes, "
                f"its writer wrote {expected} (truncated?); {REWRITE}"
            )


def corrupt_shard_error(tfrecord_dir: str | Path, error: tf.errors.DataLossError) -> CorruptShardError:
    """The error naming the shard behind tf.data's DataLossError, whose message gives only an
    offset: every shard is read through once (this runs only once training has failed)."""
    for shard in shard_paths(tfrecord_dir):
        try:
            tf.data.TFRecordDataset(str(shard)).reduce(np.int64(0), lambda count, _: count + 1)
        except tf.errors.DataLossError as shard_error:
            return CorruptShardError(
                f"training data: TFRecord shard {shard} is damaged ({_damage(shard_error)}); {REWRITE}"
            )
    return CorruptShardError(
        f"training data: a TFRecord shard in {tfrecord_dir} could not be read ({_damage(error)}); {REWRITE}"
    )


def _damage(error: tf.errors.DataLossError) -> str:
    """'truncated record at 3160' or 'corrupted record at 0 (...)' out of TensorFlow's message."""
    found = re.search(r"(?:truncated|corrupted) record at \d+(?: \(Is this even a TFRecord file\?\))?", error.message)
    return found.group(0) if found else error.message.strip().splitlines()[0]


def read_identities(tfrecord_dir: str | Path) -> list[str]:
    path = Path(tfrecord_dir) / "labels.txt"
    if not path.is_file():
        raise UserFileNotFoundError(f"{path}: not found (write shards with input_pipeline.write_tfrecords)")
    return read_labels(path)


def tfrecord_dataset(
    tfrecord_dir: str | Path,
    image_size,
    batch_size: int,
    *,
    seed: int,
    shuffle_buffer: int,
    random_flip: bool = True,
    parallel_calls: int = -1,
    skipped_counter: tf.Variable | None = None,
) -> tf.data.Dataset:
    """Endless shuffled batches from the shards of `tfrecord_dir` (interleaved reads)."""
    files = [str(path) for path in shard_paths(tfrecord_dir)]
    dataset = tf.data.Dataset.from_tensor_slices(files).shuffle(len(files), seed=seed).repeat()
    dataset = dataset.interleave(
        tf.data.TFRecordDataset,
        cycle_length=min(len(files), 8),
        num_parallel_calls=_parallel(parallel_calls),
        deterministic=False,
    )
    dataset = dataset.shuffle(shuffle_buffer, seed=seed).batch(batch_size)

    def read(records):
        parsed = tf.io.parse_example(records, FEATURES)
        images, labels, bad = decode_batch(
            parsed["path"], tf.cast(parsed["label"], tf.int32), image_size, lambda position: parsed["image"][position]
        )
        return images, labels, report_skipped(bad, skipped_counter)

    # Records are decoded a batch at a time so that every bad one is counted (decode_batch), and
    # a run of batches without a valid image stops the input instead of filtering forever.
    dataset = dataset.map(read, num_parallel_calls=_parallel(parallel_calls))
    dataset = fail_after_consecutive_unusable(
        dataset,
        unusable_batch_limit(batch_size),
        lambda images, labels, skipped: tf.shape(images)[0] == 0,
        f"do the TFRecord shards in {tfrecord_dir} hold images of {image_size[0]}x{image_size[1]}?",
    )
    dataset = dataset.map(lambda images, labels, skipped: (images, labels)).unbatch()
    return finish(dataset, batch_size, random_flip, seed, parallel_calls)

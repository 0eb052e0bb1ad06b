"""TFRecord route: shards of (encoded image bytes, label, identity) and their reader.

The writer (`write_tfrecords.py`) stores the original encoded file bytes (no re-encoding, no
quality loss). The shard folder also holds `labels.txt` (identity per line, line index = label)
like a run directory.
"""
from __future__ import annotations

from pathlib import Path

import tensorflow as tf

from input_pipeline.datasets import _parallel, fail_after_consecutive_unusable, finish, unusable_batch_limit
from input_pipeline.decode import decode_batch, report_skipped

SHARD_PATTERN = "train-{index:05d}-of-{count:05d}.tfrecord"
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


def read_identities(tfrecord_dir: str | Path) -> list[str]:
    path = Path(tfrecord_dir) / "labels.txt"
    if not path.is_file():
        raise FileNotFoundError(f"{path}: not found (write shards with input_pipeline.write_tfrecords)")
    return path.read_text().splitlines()


def tfrecord_dataset(tfrecord_dir: str | Path, image_size, batch_size: int, *, seed: int,
                     shuffle_buffer: int, random_flip: bool = True, parallel_calls: int = -1,
                     skipped_counter: tf.Variable | None = None) -> tf.data.Dataset:
    """Endless shuffled batches from the shards of `tfrecord_dir` (interleaved reads)."""
    files = sorted(str(p) for p in Path(tfrecord_dir).glob("*.tfrecord"))
    if not files:
        raise FileNotFoundError(f"{tfrecord_dir}: no *.tfrecord shards")
    dataset = tf.data.Dataset.from_tensor_slices(files).shuffle(len(files), seed=seed).repeat()
    dataset = dataset.interleave(tf.data.TFRecordDataset, cycle_length=min(len(files), 8),
                                 num_parallel_calls=_parallel(parallel_calls), deterministic=False)
    dataset = dataset.shuffle(shuffle_buffer, seed=seed).batch(batch_size)

    def read(records):
        parsed = tf.io.parse_example(records, FEATURES)
        images, labels, bad = decode_batch(parsed["path"], tf.cast(parsed["label"], tf.int32), image_size,
                                           lambda position: parsed["image"][position])
        return images, labels, report_skipped(bad, skipped_counter)

    # Records are decoded a batch at a time so that every bad one is counted (decode_batch), and
    # a run of batches without a valid image stops the input instead of filtering forever.
    dataset = dataset.map(read, num_parallel_calls=_parallel(parallel_calls))
    dataset = fail_after_consecutive_unusable(
        dataset, unusable_batch_limit(batch_size), lambda images, labels, skipped: tf.shape(images)[0] == 0,
        f"do the TFRecord shards in {tfrecord_dir} hold images of {image_size[0]}x{image_size[1]}?")
    dataset = dataset.map(lambda images, labels, skipped: (images, labels)).unbatch()
    return finish(dataset, batch_size, random_flip, seed, parallel_calls)

"""Training datasets: shuffled single images or P x K identity-balanced batches.

Per step no Python runs: the file list is turned into constant tensors once, indices are
shuffled in tf.data, files are read and decoded a batch of indices at a time in parallel, and
batches are prefetched. Every bad file is skipped, printed and counted in `skipped_counter`
(`decode.decode_batch`); a long unbroken run of batches without a usable image (a folder of
non-images) stops the input with a clear error instead of searching forever.
The `cached_*` variants draw the same index streams but gather decoded pixels from RAM
(`memory_cache.py`), so only the gather, the flip and the float conversion run per step.
"""

from __future__ import annotations

import tensorflow as tf

from common.errors import UserValueError
from input_pipeline.decode import decode_batch, report_skipped
from input_pipeline.file_list import FileList
from input_pipeline.memory_cache import DecodedSet

MAX_CONSECUTIVE_INVALID = 1000
NO_VALID_IMAGES = "batches in a row had unreadable images"


def _parallel(parallel_calls: int) -> int:
    return tf.data.AUTOTUNE if parallel_calls < 0 else parallel_calls


def fail_after_consecutive_unusable(dataset: tf.data.Dataset, limit: int, unusable, hint: str) -> tf.data.Dataset:
    """Pass elements through, raising once `limit` in a row are `unusable(*element)`: the filter
    that drops them would otherwise wait forever for a usable one (a folder of non-images)."""

    def count(in_a_row, element):
        in_a_row = tf.where(unusable(*element), in_a_row + 1, tf.constant(0, tf.int64))
        check = tf.debugging.assert_less(
            in_a_row, tf.constant(limit, tf.int64), message=f"{limit} {NO_VALID_IMAGES}: {hint}"
        )
        with tf.control_dependencies([check]):
            return in_a_row, tuple(tf.identity(part) for part in element)

    return dataset.scan(tf.constant(0, tf.int64), count)


def unusable_batch_limit(batch_size: int) -> int:
    """Batches in a row without a usable image before the input stops (about
    MAX_CONSECUTIVE_INVALID images, at least 2 batches)."""
    return max(MAX_CONSECUTIVE_INVALID // batch_size, 2)


def read_file_batches(
    index_batches: tf.data.Dataset,
    file_list: FileList,
    image_size,
    parallel_calls: int,
    skipped_counter: tf.Variable | None,
) -> tf.data.Dataset:
    """(images [n, H, W, 3], labels [n], skipped) per batch of file indices: its n readable images
    and how many of its files were not (each printed and added to `skipped_counter`)."""
    paths = tf.constant(file_list.absolute_paths())
    labels = tf.constant(file_list.labels)

    def read(index_batch):
        batch_paths = tf.gather(paths, index_batch)
        images, batch_labels, bad = decode_batch(
            batch_paths,
            tf.gather(labels, index_batch),
            image_size,
            lambda position: tf.io.read_file(batch_paths[position]),
        )
        return images, batch_labels, report_skipped(bad, skipped_counter)

    return index_batches.map(read, num_parallel_calls=_parallel(parallel_calls))


FOLDER_HINT = "does the training folder hold images?"


def single_image_dataset(
    file_list: FileList,
    image_size,
    batch_size: int,
    *,
    seed: int,
    random_flip: bool = True,
    parallel_calls: int = -1,
    skipped_counter: tf.Variable | None = None,
) -> tf.data.Dataset:
    """Endless (images [B, H, W, 3] float32 0..255, labels [B] int32), reshuffled every epoch.

    Files are read a batch of indices at a time; the readable ones are re-batched, so a bad file
    costs its place only."""
    indices = shuffled_indices(len(file_list.paths), seed).batch(batch_size)
    dataset = read_file_batches(indices, file_list, image_size, parallel_calls, skipped_counter)
    dataset = fail_after_consecutive_unusable(
        dataset, unusable_batch_limit(batch_size), lambda images, labels, skipped: tf.shape(images)[0] == 0, FOLDER_HINT
    )
    dataset = dataset.map(lambda images, labels, skipped: (images, labels)).unbatch()
    return finish(dataset, batch_size, random_flip, seed, parallel_calls)


def shuffled_indices(count: int, seed: int) -> tf.data.Dataset:
    """Endless file indices, each epoch a new permutation. Shuffling indices, not path strings or
    pixels: 8 bytes per file keeps a full-epoch shuffle cheap."""
    return tf.data.Dataset.range(count).shuffle(count, seed=seed, reshuffle_each_iteration=True).repeat()


def _flip_key(seed: int, number: tf.Tensor) -> tf.Tensor:
    """The stateless draw's key for batch or image `number`. A stateful random op in a parallel map
    draws in whatever order the calls arrive, so the same seed would flip other images in every
    process; stateless draws from (seed, number) repeat, and differ per batch or image."""
    return tf.stack([tf.constant(seed, tf.int64), tf.cast(number, tf.int64)])


def _flip_batch_statelessly(images: tf.Tensor, seed: int, batch_number: tf.Tensor) -> tf.Tensor:
    """Mirror each image of an [N, H, W, C] batch with probability 1/2, drawn from (seed, batch number)."""
    flip = tf.random.stateless_uniform(tf.shape(images)[:1], seed=_flip_key(seed, batch_number)) < 0.5
    return tf.where(flip[:, None, None, None], tf.reverse(images, axis=[2]), images)


def _flip_image_statelessly(image: tf.Tensor, seed: int, image_number: tf.Tensor) -> tf.Tensor:
    """One [H, W, C] image, mirrored with probability 1/2 drawn from (seed, image number); only a
    mirrored image is copied, as with the stateful flip this replaced (bench_input: the same speed
    within its noise)."""
    return tf.cond(
        tf.random.stateless_uniform([], seed=_flip_key(seed, image_number)) < 0.5,
        lambda: tf.reverse(image, axis=[1]),
        lambda: image,
    )


def finish(
    dataset: tf.data.Dataset, batch_size: int, random_flip: bool, seed: int, parallel_calls: int
) -> tf.data.Dataset:
    """Flip (image n as drawn from (seed, n)), batch (full batches only) and prefetch."""
    if random_flip:
        dataset = dataset.enumerate().map(
            lambda number, example: (_flip_image_statelessly(example[0], seed, number), example[1]),
            num_parallel_calls=_parallel(parallel_calls),
        )
    return dataset.batch(batch_size, drop_remainder=True).prefetch(tf.data.AUTOTUNE)


def pk_index_batches(labels, num_classes: int, identities: int, images: int, seed: int) -> tf.data.Dataset:
    """Endless [P*K] file indices: P distinct identities, K images each (repeats only when an
    identity has fewer than K images). `labels` must be sorted (as FileList builds them)."""
    if identities > num_classes:
        raise UserValueError(f"P x K batches need P <= number of identities ({identities} > {num_classes})")
    labels = tf.constant(labels, tf.int32)
    counts = tf.math.bincount(labels, minlength=num_classes, dtype=tf.int32)
    offsets = tf.cumsum(counts, exclusive=True)
    max_count = int(tf.reduce_max(counts))

    def draw(random_value):
        key = tf.stack([random_value, tf.constant(0, tf.int64)])
        class_scores = tf.random.stateless_uniform([num_classes], seed=key)
        classes = tf.argsort(class_scores)[:identities]
        class_counts = tf.gather(counts, classes)
        scores = tf.random.stateless_uniform([identities, max_count], seed=key + [0, 1])
        # Positions past an identity's image count sort last; modulo repeats images only if count < K.
        beyond = tf.range(max_count)[None, :] >= class_counts[:, None]
        scores = tf.where(beyond, 2.0, scores)
        picks = tf.argsort(scores, axis=1)[:, :images] % class_counts[:, None]
        return tf.reshape(tf.gather(offsets, classes)[:, None] + picks, [-1])

    return tf.data.Dataset.random(seed=seed).map(draw)


def pk_dataset(
    file_list: FileList,
    image_size,
    identities: int,
    images: int,
    *,
    seed: int,
    random_flip: bool = True,
    parallel_calls: int = -1,
    skipped_counter: tf.Variable | None = None,
) -> tf.data.Dataset:
    """Endless P x K batches, ordered identity by identity (K consecutive images share a label).

    A batch holding an unreadable file is dropped as a whole so every batch keeps its P x K shape
    (its unreadable files are counted, its readable ones are not).
    """
    height, width = image_size
    size = identities * images
    indices = pk_index_batches(file_list.labels, file_list.num_classes, identities, images, seed)
    dataset = read_file_batches(indices, file_list, image_size, parallel_calls, skipped_counter)
    dataset = fail_after_consecutive_unusable(
        dataset, unusable_batch_limit(size), lambda images_, labels_, skipped: skipped > 0, FOLDER_HINT
    )
    dataset = dataset.filter(lambda images_, labels_, skipped: skipped == 0)
    dataset = dataset.map(
        lambda images_, labels_, skipped: (
            tf.ensure_shape(images_, (size, height, width, 3)),
            tf.ensure_shape(labels_, (size,)),
        )
    )
    if random_flip:
        dataset = dataset.enumerate().map(
            lambda number, batch: (_flip_batch_statelessly(batch[0], seed, number), batch[1]),
            num_parallel_calls=_parallel(parallel_calls),
        )
    return dataset.prefetch(tf.data.AUTOTUNE)


def _gather_from_memory(
    index_batches: tf.data.Dataset, decoded: DecodedSet, random_flip: bool, seed: int, parallel_calls: int
) -> tf.data.Dataset:
    """(float32 images, int32 labels) batches gathered from the decoded pixels in RAM.

    Flips as on the P x K route that reads files (_flip_batch_statelessly): every batch, so every
    epoch, new ones."""
    pixels = decoded.images
    labels = tf.constant(decoded.file_list.labels)

    def gather(batch_number, index_batch):
        images_ = tf.cast(tf.gather(pixels, index_batch), tf.float32)
        if random_flip:
            images_ = _flip_batch_statelessly(images_, seed, batch_number)
        return images_, tf.gather(labels, index_batch)

    return (
        index_batches.enumerate().map(gather, num_parallel_calls=_parallel(parallel_calls)).prefetch(tf.data.AUTOTUNE)
    )


def cached_single_image_dataset(
    decoded: DecodedSet, batch_size: int, *, seed: int, random_flip: bool = True, parallel_calls: int = -1
) -> tf.data.Dataset:
    """As `single_image_dataset` (same index order for the same seed), from decoded pixels."""
    indices = shuffled_indices(len(decoded.file_list.paths), seed).batch(batch_size, drop_remainder=True)
    return _gather_from_memory(indices, decoded, random_flip, seed, parallel_calls)


def cached_pk_dataset(
    decoded: DecodedSet, identities: int, images: int, *, seed: int, random_flip: bool = True, parallel_calls: int = -1
) -> tf.data.Dataset:
    """As `pk_dataset` (same index batches for the same seed), from decoded pixels."""
    file_list = decoded.file_list
    indices = pk_index_batches(file_list.labels, file_list.num_classes, identities, images, seed)
    return _gather_from_memory(indices, decoded, random_flip, seed, parallel_calls)

"""Image decoding with a validity flag, so a bad file is skipped and reported, never fatal.

A file is valid when it is non-empty, starts with a JPEG or PNG signature and has exactly the
requested size: training never resizes, so an unaligned photo or a 112x112 crop under a 112x96
config is skipped and reported, not squashed (file_list.check_image_size stops a whole folder of
them before training starts). Files that make reading or the decoder raise (a vanished file, a
truncated JPEG body) are dropped by `ignore_errors` inside `decode_batch`, which still names and
counts them. Pixels come out float32 RGB in 0..255 (the model normalises itself).
"""

from __future__ import annotations

import sys

import tensorflow as tf

_JPEG_MAGIC = b"\xff\xd8\xff"
_PNG_MAGIC = b"\x89PNG"


def has_image_signature(contents: tf.Tensor) -> tf.Tensor:
    """True for non-empty bytes starting with a JPEG or PNG signature."""
    head = tf.strings.substr(contents, 0, 4)
    is_jpeg = tf.strings.substr(head, 0, 3) == _JPEG_MAGIC
    is_png = head == _PNG_MAGIC
    return tf.logical_or(is_jpeg, is_png)


def decode_contents(contents: tf.Tensor, image_size: tuple[int, int]) -> tuple[tf.Tensor, tf.Tensor]:
    """(float32 [H, W, 3] image, ok flag) from encoded bytes; zeros when not ok (bad bytes or
    another size than `image_size`)."""
    height, width = image_size
    blank = tf.zeros((height, width, 3), tf.float32)

    def decode():
        image = tf.io.decode_image(contents, channels=3, expand_animations=False)
        same_size = tf.logical_and(tf.shape(image)[0] == height, tf.shape(image)[1] == width)
        return tf.cond(same_size, lambda: tf.cast(image, tf.float32), lambda: blank), same_size

    image, ok = tf.cond(has_image_signature(contents), decode, lambda: (blank, tf.constant(False)))
    return tf.ensure_shape(image, (height, width, 3)), ok


def decode_batch(
    paths: tf.Tensor, labels: tf.Tensor, image_size: tuple[int, int], load
) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
    """(images [n, H, W, 3], labels [n], bad_paths [m]) of one batch of entries, n + m = its size.

    `load(position)` returns the encoded bytes of entry `position` of the batch. An entry is bad
    when its bytes are not an image of `image_size` or when loading or decoding it raised. Errors
    can only be caught by `ignore_errors`, which drops an element without a word; running it on a
    small dataset of this batch's positions tells exactly which entries it dropped, so each bad
    entry is named and counted, never lost.
    """
    height, width = image_size

    def decode_one(position):
        image, ok = decode_contents(load(position), image_size)
        return position, image, ok

    size = tf.size(paths, out_type=tf.int64)
    nothing = (tf.zeros([0], tf.int64), tf.zeros([0, height, width, 3]), tf.zeros([0], tf.bool))
    decoded = (
        tf.data.Dataset.range(size)
        .map(decode_one)
        .ignore_errors(log_warning=True)
        .batch(size)
        # one element even when every entry raised (batch() then yields none)
        .concatenate(tf.data.Dataset.from_tensors(nothing))
        .take(1)
    )
    positions, images, oks = decoded.get_single_element()
    usable = tf.scatter_nd(positions[:, None], tf.cast(oks, tf.int32), [size]) > 0
    return (
        tf.boolean_mask(images, oks),
        tf.gather(labels, tf.boolean_mask(positions, oks)),
        tf.boolean_mask(paths, tf.logical_not(usable)),
    )


def report_skipped(bad_paths: tf.Tensor, counter: tf.Variable | None) -> tf.Tensor:
    """Prints the bad paths of a batch and adds them to `counter`; returns how many there were."""
    count = tf.size(bad_paths, out_type=tf.int64)

    def report():
        tf.print(
            "skipping unreadable image(s):", tf.strings.reduce_join(bad_paths, separator=" "), output_stream=sys.stderr
        )
        if counter is not None:
            counter.assign_add(count)
        return count

    return tf.cond(count > 0, report, lambda: count)

"""Image decoding with a validity flag, so a bad file is skipped and reported, never fatal.

A file is valid when it is non-empty, starts with a JPEG or PNG signature and has exactly the
requested size: training never resizes, so an unaligned photo or a 112x112 crop under a 112x96
config is skipped and reported, not squashed (file_list.check_image_size stops a whole folder of
them before training starts). Anything still failing inside the decoder (e.g. a truncated JPEG
body) is dropped by `ignore_errors` downstream. Pixels come out float32 RGB in 0..255 (the model
normalises itself).
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


def report_if_invalid(ok: tf.Tensor, path: tf.Tensor, counter: tf.Variable | None) -> tf.Tensor:
    """Filter predicate: passes `ok` through; prints the path and counts it when not ok."""
    def report():
        tf.print("skipping unreadable image:", path, output_stream=sys.stderr)
        if counter is not None:
            counter.assign_add(1)
        return ok

    return tf.cond(ok, lambda: ok, report)

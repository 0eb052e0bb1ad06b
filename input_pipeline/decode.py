"""Image decoding with a validity flag, so a bad file is skipped and reported, never fatal.

A file is valid when it is non-empty and starts with a JPEG or PNG signature; anything still
failing inside the decoder (e.g. a truncated JPEG body) is dropped by `ignore_errors` downstream.
Pixels come out float32 RGB in 0..255 at the requested size (the model normalises itself).
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
    """(float32 [H, W, 3] image, ok flag) from encoded bytes; zeros when not ok."""
    height, width = image_size
    ok = has_image_signature(contents)

    def decode():
        image = tf.io.decode_image(contents, channels=3, expand_animations=False)
        image = tf.cast(image, tf.float32)
        same_size = tf.logical_and(tf.shape(image)[0] == height, tf.shape(image)[1] == width)
        # Aligned caches already have the target size; resize only as a fallback.
        return tf.cond(same_size, lambda: image, lambda: tf.image.resize(image, (height, width)))

    image = tf.cond(ok, decode, lambda: tf.zeros((height, width, 3), tf.float32))
    image = tf.ensure_shape(image, (height, width, 3))
    return image, ok


def report_if_invalid(ok: tf.Tensor, path: tf.Tensor, counter: tf.Variable | None) -> tf.Tensor:
    """Filter predicate: passes `ok` through; prints the path and counts it when not ok."""
    def report():
        tf.print("skipping unreadable image:", path, output_stream=sys.stderr)
        if counter is not None:
            counter.assign_add(1)
        return ok

    return tf.cond(ok, lambda: ok, report)

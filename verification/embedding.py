"""Decode aligned face images and embed them in batches (with optional mirror images).

`embed_fn` everywhere maps a float32 batch [B, H, W, 3] of 0..255 pixels (NumPy array or
tensor) to a [B, E] array-like. Mirror images ride in the same call as the originals (a batch
of 2B), so flip modes cost one model call per batch.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable, Sequence
from contextlib import contextmanager

import keras
import numpy as np
import tensorflow as tf
from tqdm import tqdm

from common.errors import UserValueError

EmbedFn = Callable[[np.ndarray], np.ndarray]


def _decode(path: tf.Tensor, image_size: tuple[int, int]) -> tf.Tensor:
    """Read a JPEG or PNG as uint8 RGB [H, W, 3]; a wrong size fails naming the file."""
    image = tf.io.decode_image(tf.io.read_file(path), channels=3, expand_animations=False)
    tf.debugging.assert_equal(
        tf.shape(image)[:2],
        tf.constant(image_size),
        message=tf.strings.join(
            [f"image has the wrong size for the model (expected HxW = {image_size[0]}x{image_size[1]}): ", path]
        ),
    )
    return image


@contextmanager
def decode_errors_as_value_errors():
    """Turn a tf.data decode/size failure into a one-line ValueError naming the file."""
    try:
        yield
    except tf.errors.InvalidArgumentError as error:
        found = re.search(r"\[(image has the wrong size[^\]]*)\]", error.message)
        raise UserValueError(found.group(1) if found else error.message.splitlines()[0]) from None


def image_dataset(paths: Sequence[str | os.PathLike], image_size: tuple[int, int], batch_size: int) -> tf.data.Dataset:
    """uint8 batches [B, H, W, 3] of `paths` in order, decoded in parallel and prefetched."""
    image_size = tuple(int(v) for v in image_size)
    dataset = tf.data.Dataset.from_tensor_slices([str(p) for p in paths])
    dataset = dataset.map(lambda p: _decode(p, image_size), num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    return dataset.batch(batch_size).prefetch(tf.data.AUTOTUNE)


def load_images(paths: Sequence[str | os.PathLike], image_size: tuple[int, int], batch_size: int = 256) -> np.ndarray:
    """All `paths` decoded into one uint8 array [N, H, W, 3] (kept in memory by the caller)."""
    with decode_errors_as_value_errors():
        batches = [b.numpy() for b in image_dataset(paths, image_size, batch_size)]
    return np.concatenate(batches) if batches else np.zeros((0, *image_size, 3), np.uint8)


def with_mirrors(images: tf.Tensor) -> tf.Tensor:
    """float32 batch [2B, H, W, 3]: the B images followed by their horizontal mirrors."""
    images = tf.cast(images, tf.float32)
    return tf.concat([images, tf.reverse(images, axis=[2])], axis=0)


def embed_batches(
    embed_fn: EmbedFn, batches: Iterable, with_flip: bool, total: int | None = None, progress: bool = True
) -> tuple[np.ndarray, np.ndarray | None]:
    """Embed model-ready float32 batches; with `with_flip` each batch holds B images followed by
    their B mirrors (see `with_mirrors`). Returns (embeddings, mirror embeddings or None)."""
    plain, mirrored = [], []
    with tqdm(total=total, unit="img", desc="embedding", disable=not progress) as bar, decode_errors_as_value_errors():
        for images in batches:
            rows = int(images.shape[0])
            output = np.asarray(embed_fn(images), dtype=np.float32)
            if output.ndim != 2 or output.shape[0] != rows:
                raise ValueError(
                    f"embed_fn returned shape {output.shape} for a batch of {rows} images; expected [batch, embedding]"
                )
            size = rows // 2 if with_flip else rows
            plain.append(output[:size])
            mirrored.append(output[size:])
            bar.update(size)
    if not plain:
        raise ValueError("no images to embed")
    return np.concatenate(plain), (np.concatenate(mirrored) if with_flip else None)


def embed_paths(
    embed_fn: EmbedFn,
    paths: Sequence[str | os.PathLike],
    image_size: tuple[int, int],
    batch_size: int = 64,
    with_flip: bool = True,
    progress: bool = True,
) -> tuple[np.ndarray, np.ndarray | None]:
    """Embed image files in order; decoding, float conversion and mirroring run inside tf.data,
    in parallel with and prefetched ahead of the model. See embed_batches."""
    prepare = with_mirrors if with_flip else (lambda images: tf.cast(images, tf.float32))
    batches = (
        image_dataset(paths, image_size, batch_size)
        .map(prepare, num_parallel_calls=tf.data.AUTOTUNE)
        .prefetch(tf.data.AUTOTUNE)
    )
    return embed_batches(embed_fn, batches, with_flip, total=len(paths), progress=progress)


def embed_array(
    embed_fn: EmbedFn, images: np.ndarray, batch_size: int = 64, with_flip: bool = True, progress: bool = False
) -> tuple[np.ndarray, np.ndarray | None]:
    """Embed an in-memory uint8 image array [N, H, W, 3] in batches; see embed_batches."""

    def batches():
        for start in range(0, len(images), batch_size):
            chunk = images[start : start + batch_size].astype(np.float32)
            yield np.concatenate([chunk, chunk[:, :, ::-1]]) if with_flip else chunk

    return embed_batches(embed_fn, batches(), with_flip, total=len(images), progress=progress)


def compiled_embed_fn(model: keras.Model, image_size: tuple[int, int]) -> EmbedFn:
    """Wrap a Keras model in one traced tf.function in test mode (any batch size)."""
    signature = [tf.TensorSpec([None, *image_size, 3], tf.float32, name="images")]

    @tf.function(input_signature=signature)
    def embed(images):
        return model(images, training=False)

    return lambda images: embed(tf.convert_to_tensor(images, tf.float32)).numpy()

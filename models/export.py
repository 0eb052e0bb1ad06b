"""Export the embedding model as a plain TF SavedModel and load it back without our classes.

Layout (docs/design.md): `<out_dir>/embedder/` is a SavedModel whose `serving_default` signature
takes `images` (float32 [None, H, W, 3], pixels 0..255) and returns `embeddings` (the model in test
mode); `<out_dir>/model_info.json` records image_size, embedding_size, bn_mode and the caller's
info. models/loader.py's `load_embedder` loads these exports and the `.tflite` files that
`python -m models export-tflite` writes next to them, after scanning the graph.

BN mode `always_train` (facenet's test-time batch statistics) makes an image's embedding depend
on the other images of its batch; `depends_on_batch` says so for any loaded embedder, and the
tools that embed one photo at a time, or export for deployment, refuse such a model.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from common.atomic_files import atomic_write_text
from common.errors import UserValueError
from common.run_layout import EMBEDDER_DIR, MODEL_INFO_FILE
from models.layers import FlagBatchNormalization

SIGNATURE = "serving_default"
BATCH_DEPENDENT_MODE = "always_train"


class _EmbedderModule(tf.Module):
    """What gets saved: the model plus a test-mode serving function with a fixed input spec."""

    def __init__(self, model: keras.Model, image_size):
        super().__init__()
        self.model = model
        spec = tf.TensorSpec([None, *image_size, 3], tf.float32, name="images")
        self.serve = tf.function(self._serve, input_signature=[spec])

    def _serve(self, images):
        return {"embeddings": self.model(images, training=False)}


def export_embedder(model: keras.Model, out_dir, image_size, info: dict | None = None, overwrite: bool = False) -> Path:
    """Write out_dir/embedder (SavedModel) and out_dir/model_info.json; return out_dir.

    Refuses to replace an existing export unless `overwrite` (nothing produced is lost silently).
    """
    out_dir = Path(out_dir)
    image_size = tuple(int(v) for v in image_size)
    model_size = tuple(model.input_shape[1:3])
    if model_size != image_size:
        raise ValueError(f"image_size {image_size} does not match the model's input {model_size}")
    embedder_dir, info_path = out_dir / EMBEDDER_DIR, out_dir / MODEL_INFO_FILE
    existing = [p for p in (embedder_dir, info_path) if p.exists()]
    if existing and not overwrite:
        raise FileExistsError(f"{existing[0]} already exists; pass overwrite=True to replace it")
    info = dict(info or {})
    reserved = {"image_size", "embedding_size", "bn_mode"} & set(info)
    if reserved:
        raise ValueError(f"info must not set {', '.join(sorted(reserved))}: they come from the model")
    out_dir.mkdir(parents=True, exist_ok=True)
    # Write next to the target, then swap in, so a failed export never destroys the previous one.
    staging = out_dir / f".{EMBEDDER_DIR}.tmp"
    shutil.rmtree(staging, ignore_errors=True)
    module = _EmbedderModule(model, image_size)
    tf.saved_model.save(module, str(staging), signatures={SIGNATURE: module.serve})
    _swap_in(staging, embedder_dir)
    record = {
        "image_size": list(image_size),
        "embedding_size": int(model.output_shape[-1]),
        "bn_mode": bn_mode_of(model),
        **info,
    }
    atomic_write_text(info_path, json.dumps(record, indent=2, sort_keys=True, default=str) + "\n")
    return out_dir


def _swap_in(staging: Path, target: Path) -> None:
    """Rename `staging` to `target`; an old `target` is moved aside first and removed only after
    the new one is in place."""
    old = target.with_name(f".{target.name}.old")
    shutil.rmtree(old, ignore_errors=True)
    if target.exists():
        target.rename(old)
    staging.rename(target)
    shutil.rmtree(old, ignore_errors=True)


def bn_mode_of(model: keras.Model) -> str:
    """The BN mode the model was built with, read from its layers (models.layers.BN_MODES)."""
    norms = [layer for layer in model._flatten_layers() if isinstance(layer, FlagBatchNormalization)]
    if not norms:
        return "none"
    return BATCH_DEPENDENT_MODE if any(n.always_batch_stats for n in norms) else "switch"


def recorded_bn_mode(info: dict) -> str | None:
    """The BN mode of an export's model_info.json: its `bn_mode` key, else (exports written
    before that key existed) the training config's `model.bn_mode`; None when neither is there."""
    return info.get("bn_mode") or info.get("config", {}).get("model", {}).get("bn_mode")


def depends_on_batch(embedder) -> bool:
    """Whether an image's embedding changes with the rest of its batch. The recorded BN mode
    decides; an export that records none (a bare SavedModel from elsewhere) is measured: one
    image embedded alone and inside a batch of three must agree."""
    mode = recorded_bn_mode(embedder.info)
    if mode is not None:
        return mode == BATCH_DEPENDENT_MODE
    images = np.random.default_rng(0).uniform(0, 255, (3, *embedder.image_size, 3))
    together = embedder(images.astype(np.float32))[0]
    alone = embedder(images[:1].astype(np.float32))[0]
    return not np.allclose(alone, together, rtol=1e-3, atol=1e-3 * np.abs(together).max())


def refuse_batch_dependent(embedder, why: str) -> None:
    """One-line ValueError for an embedder whose outputs depend on the batch; `why` says why the
    caller needs batch-independent embeddings."""
    if depends_on_batch(embedder):
        raise UserValueError(
            f"{embedder.path}: BN mode {BATCH_DEPENDENT_MODE} (batch statistics at "
            f"test time) makes each embedding depend on the other images of its "
            f"batch; {why}. Train with model.bn_mode switch or none"
        )


class Embedder:
    """A loaded export: `embedder(images) -> np.ndarray [N, embedding_size]` in test mode."""

    def __init__(self, embedder_dir: Path, info: dict):
        self.path = embedder_dir
        self.info = info
        self._serve = tf.saved_model.load(str(embedder_dir)).signatures[SIGNATURE]
        spec = self._serve.structured_input_signature[1]["images"]
        self.image_size = tuple(int(v) for v in info.get("image_size", spec.shape[1:3]))
        self.embedding_size = int(info.get("embedding_size", self._serve.structured_outputs["embeddings"].shape[-1]))

    def __call__(self, images, batch_size: int = 256) -> np.ndarray:
        """Embed float32 RGB pixels [N, H, W, 3] in 0..255, `batch_size` images per call."""
        images = tf.convert_to_tensor(images, dtype=tf.float32)
        expected = (*self.image_size, 3)
        if images.shape.rank != 4 or tuple(images.shape[1:]) != expected:
            raise ValueError(
                f"images must have shape [N, {', '.join(map(str, expected))}], got {images.shape.as_list()}"
            )
        chunks = [
            self._serve(images=images[i : i + batch_size])["embeddings"].numpy()
            for i in range(0, int(images.shape[0]), batch_size)
        ]
        if not chunks:
            return np.zeros((0, self.embedding_size), np.float32)
        return np.concatenate(chunks)


def read_info(info_path: Path) -> dict:
    """model_info.json if present (a bare SavedModel still loads, sizes from its signature)."""
    if not info_path.is_file():
        return {}
    try:
        return json.loads(info_path.read_text())
    except json.JSONDecodeError as error:
        raise UserValueError(f"{info_path}: invalid JSON ({error})") from None

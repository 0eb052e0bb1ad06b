"""TFLite export of an exported embedder, and a TFLite embedder with the Embedder interface.

`export_tflite(export_dir, quantize)` converts `<export_dir>/embedder` (the SavedModel) into
`<export_dir>/embedder[_float16|_int8].tflite`. The file keeps the SavedModel's contract: float32
pixels 0..255 [N, H, W, 3] in, float32 embeddings out; with int8 the weights and activations are
8-bit integers inside, calibrated on a representative set of aligned training images.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import tensorflow as tf

from common.atomic_files import atomic_write_bytes
from common.errors import UserFileExistsError, UserFileNotFoundError, UserValueError
from common.run_layout import EMBEDDER_DIR, MODEL_INFO_FILE
from models.export import SIGNATURE, Embedder, read_info, refuse_batch_dependent
from models.graph_scan import scan_saved_model

QUANTIZE_MODES = ("none", "float16", "int8")


def tflite_path(export_dir, quantize: str) -> Path:
    """Where the `quantize` variant of an export's TFLite file lives (next to the SavedModel)."""
    if quantize not in QUANTIZE_MODES:
        raise ValueError(f"unknown quantize mode {quantize!r}; valid: {', '.join(QUANTIZE_MODES)}")
    suffix = "" if quantize == "none" else f"_{quantize}"
    return Path(export_dir) / f"{EMBEDDER_DIR}{suffix}.tflite"


def convert(
    saved_model_dir, quantize: str = "none", calibration_images: np.ndarray | None = None, trust: bool = False
) -> bytes:
    """The TFLite flatbuffer of a SavedModel embedder; int8 needs `calibration_images`
    (uint8 or float [N, H, W, 3], pixels 0..255), float16 and none ignore them. The graph is
    scanned (models/graph_scan.py) before it is loaded unless `trust`."""
    tflite_path(".", quantize)  # validates the mode
    if not trust:
        scan_saved_model(saved_model_dir)
    loaded = tf.saved_model.load(str(saved_model_dir))
    # From the concrete function with its owner, not from_saved_model: in TF 2.21 the latter keeps
    # Keras 3 weights as resource variables that the interpreter never initialises (READ_VARIABLE
    # returns NaN); this route freezes them into constants.
    converter = tf.lite.TFLiteConverter.from_concrete_functions([loaded.signatures[SIGNATURE]], loaded)
    if quantize == "float16":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.target_spec.supported_types = [tf.float16]
    elif quantize == "int8":
        if calibration_images is None or len(calibration_images) == 0:
            raise ValueError("int8 quantization needs calibration images (aligned faces)")
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.representative_dataset = lambda: _one_image_batches(calibration_images)
        # Every op in int8 (an op without an int8 kernel fails the conversion instead of silently
        # staying float); the float32 input and output keep the embedder's contract.
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    return converter.convert()


def calibration_images(folders, count: int, image_size) -> np.ndarray:
    """`count` aligned faces spread evenly over the sorted images of `folders` (identity folders,
    so every part of the training set is represented), as uint8 [count, H, W, 3]."""
    from PIL import Image

    files = sorted(
        p for folder in map(Path, folders) for p in folder.rglob("*") if p.suffix.lower() in (".jpg", ".jpeg", ".png")
    )
    if not files:
        raise UserFileNotFoundError(f"no aligned images under {', '.join(map(str, folders))}")
    picked = [files[i] for i in np.linspace(0, len(files) - 1, min(count, len(files))).astype(int)]
    images = [np.asarray(Image.open(p).convert("RGB")) for p in picked]
    for path, image in zip(picked, images, strict=True):
        if image.shape[:2] != tuple(image_size):
            raise UserValueError(
                f"{path}: {image.shape[0]}x{image.shape[1]} image, the model takes "
                f"{image_size[0]}x{image_size[1]}; calibrate on aligned crops"
            )
    return np.stack(images)


def _one_image_batches(images: np.ndarray) -> Iterator[list[np.ndarray]]:
    for image in images:
        yield [np.asarray(image, np.float32)[None]]


def export_tflite(
    export_dir,
    quantize: str = "none",
    calibration_images: np.ndarray | None = None,
    overwrite: bool = False,
    trust: bool = False,
) -> Path:
    """Write the `quantize` TFLite variant of `<export_dir>/embedder` next to it; return its path.

    Refuses a batch-dependent (BN always_train) model: a deployed embedder sees one face at a time.
    The SavedModel is scanned before it is loaded unless `trust`.
    """
    export_dir = Path(export_dir)
    target = tflite_path(export_dir, quantize)
    if target.exists() and not overwrite:
        raise UserFileExistsError(f"{target} already exists; pass --overwrite to replace it")
    saved_model = export_dir / EMBEDDER_DIR
    if not trust:
        scan_saved_model(saved_model)
    refuse_batch_dependent(
        Embedder(saved_model, read_info(export_dir / MODEL_INFO_FILE)), "a TFLite embedder is run on one face at a time"
    )
    atomic_write_bytes(target, convert(saved_model, quantize, calibration_images, trust=True))
    return target


def _interpreter(path: Path, num_threads: int):
    # tf.lite.Interpreter still works in TF 2.21 but warns that it moves to the ai-edge-litert
    # package (same API: ai_edge_litert.interpreter.Interpreter); only that warning is silenced.
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r"(?s).*tf\.lite\.Interpreter is deprecated")
        return tf.lite.Interpreter(model_path=str(path), num_threads=num_threads)


class TfliteEmbedder:
    """A .tflite embedder: `embedder(images) -> np.ndarray [N, embedding_size]`, as Embedder.

    `info` is the model_info.json beside the file (the SavedModel it was converted from), or {}.
    """

    def __init__(self, path, info: dict | None = None, num_threads: int | None = None):
        self.path = Path(path)
        if not self.path.is_file():
            raise UserFileNotFoundError(f"no TFLite embedder at {self.path}")
        self.info = dict(info or {})
        self._interpreter = _interpreter(self.path, num_threads or os.cpu_count() or 1)
        self._input = self._interpreter.get_input_details()[0]
        self._output = self._interpreter.get_output_details()[0]
        self.image_size = tuple(int(v) for v in self._input["shape"][1:3])
        self.embedding_size = int(self._output["shape"][-1])
        self._batch = None

    def __call__(self, images, batch_size: int = 256) -> np.ndarray:
        """Embed float32 RGB pixels [N, H, W, 3] in 0..255, `batch_size` images per call."""
        images = np.asarray(images, dtype=np.float32)
        expected = (*self.image_size, 3)
        if images.ndim != 4 or images.shape[1:] != expected:
            raise ValueError(f"images must have shape [N, {', '.join(map(str, expected))}], got {list(images.shape)}")
        chunks = [self._run(images[i : i + batch_size]) for i in range(0, len(images), batch_size)]
        if not chunks:
            return np.zeros((0, self.embedding_size), np.float32)
        return np.concatenate(chunks)

    def _run(self, batch: np.ndarray) -> np.ndarray:
        if len(batch) != self._batch:  # resizing re-plans the graph: only when the size changes
            self._interpreter.resize_tensor_input(self._input["index"], batch.shape)
            self._interpreter.allocate_tensors()
            self._batch = len(batch)
        self._interpreter.set_tensor(self._input["index"], batch)
        self._interpreter.invoke()
        return self._interpreter.get_tensor(self._output["index"]).copy()

"""MTCNN face detection (the `mtcnn` package, weights shipped in its wheel) with batching.

Images are rescaled for detection only (huge ones down, tiny ones up) and the boxes and landmarks
are mapped back, so the warp always samples the full-resolution original.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from common.arg_types import float_in, int_at_least
from common.errors import UserValueError

# The MTCNN settings of every tool that detects faces (align_dataset.py and the recognition CLIs),
# with one set of flags: add_detector_arguments / detector_options.
MIN_FACE_SIZE = 20
THRESHOLDS = (0.6, 0.7, 0.7)  # P-Net, R-Net, O-Net confidence
SCALE_FACTOR = 0.709
MAX_DETECT_SIDE = 1024


def add_detector_arguments(parser) -> None:
    """--min-face-size, --detector-thresholds, --scale-factor, --max-detect-side (parser or group)."""
    parser.add_argument("--min-face-size", type=int_at_least(1), default=MIN_FACE_SIZE, help="MTCNN minimum face, px")
    parser.add_argument(
        "--detector-thresholds", default=",".join(map(str, THRESHOLDS)), help="MTCNN stage thresholds P-Net,R-Net,O-Net"
    )
    parser.add_argument(
        "--scale-factor",
        type=float_in(0.0, 1.0, open_low=True, open_high=True),
        default=SCALE_FACTOR,
        help="MTCNN image pyramid step, in (0, 1)",
    )
    parser.add_argument(
        "--max-detect-side",
        type=int_at_least(1),
        default=MAX_DETECT_SIDE,
        help="larger photos are downscaled for detection (the warp uses full resolution)",
    )


def detector_options(args) -> dict:
    """FaceDetector's keyword arguments from the flags of add_detector_arguments; a bad value is a
    ValueError naming the flag (kept out of argparse so tools can print it as their one line)."""
    try:
        thresholds = tuple(float(t) for t in args.detector_thresholds.split(","))
    except ValueError:
        thresholds = ()
    if len(thresholds) != 3:
        raise UserValueError(
            f"--detector-thresholds needs 3 comma-separated numbers (P-Net,R-Net,O-Net), "
            f"got {args.detector_thresholds!r}"
        )
    return {
        "min_face_size": args.min_face_size,
        "thresholds": thresholds,
        "scale_factor": args.scale_factor,
        "max_detect_side": args.max_detect_side,
    }


@dataclass(frozen=True)
class Face:
    """One detection in original-image pixels."""

    box: tuple[float, float, float, float]  # x, y, w, h
    confidence: float
    landmarks: np.ndarray  # (5, 2) x, y: left eye, right eye, nose, left mouth, right mouth


class FaceDetector:
    """MTCNN with the facenet / article settings by default.

    Args:
        min_face_size: smallest face (px, in the detection image) searched for. Keep 20: mtcnn 1.0.0
            crashes with larger values on large images.
        thresholds: P-Net, R-Net, O-Net confidence thresholds.
        scale_factor: image pyramid step.
        max_detect_side: images whose longer side exceeds this are downscaled for detection.
        min_detect_side: images whose shorter side is below this are upscaled for detection, so a
            face filling a tiny image is still above the detector's minimum size.
        max_batch: images per MTCNN call.
        size_bucket: images whose detection sizes agree after rounding up to a multiple of this
            are zero-padded to a common shape and detected in one call.
    """

    def __init__(
        self,
        min_face_size: int = MIN_FACE_SIZE,
        thresholds: Sequence[float] = THRESHOLDS,
        scale_factor: float = SCALE_FACTOR,
        max_detect_side: int = MAX_DETECT_SIDE,
        min_detect_side: int = 48,
        max_batch: int = 32,
        size_bucket: int = 32,
    ):
        from mtcnn import MTCNN  # imported lazily: pulls in TensorFlow

        if len(thresholds) != 3:
            raise ValueError(f"thresholds must be 3 values (P-Net, R-Net, O-Net), got {thresholds}")
        if min_detect_side > max_detect_side:
            raise UserValueError(f"min_detect_side {min_detect_side} > max_detect_side {max_detect_side}")
        self.min_face_size = int(min_face_size)
        self.thresholds = tuple(float(t) for t in thresholds)
        self.scale_factor = float(scale_factor)
        self.max_detect_side = int(max_detect_side)
        self.min_detect_side = int(min_detect_side)
        self.max_batch = int(max_batch)
        self.size_bucket = int(size_bucket)
        self._mtcnn = MTCNN(device="CPU:0")
        _trace_stage_models(self._mtcnn)

    def detection_scale(self, shape) -> float:
        """Factor by which an image of `shape` is resized before detection."""
        height, width = shape[0], shape[1]
        if max(height, width) > self.max_detect_side:
            return self.max_detect_side / max(height, width)
        if min(height, width) < self.min_detect_side:
            return min(self.min_detect_side / min(height, width), self.max_detect_side / max(height, width))
        return 1.0

    def detect(self, image_rgb: np.ndarray) -> list[Face]:
        """All faces in one uint8 RGB image."""
        return self.detect_batch([image_rgb])[0]

    def detect_batch(self, images: Sequence[np.ndarray]) -> list[list[Face]]:
        """Faces per image, detected in batches of similar size.

        Images whose detection sizes round up to the same multiple of `size_bucket` share a batch;
        we pad them at the bottom/right ourselves (so coordinates need no shift) instead of
        letting mtcnn centre-pad mixed sizes, whose un-padding is wrong when an image in the
        batch has no face. Same-size images (all of LFW) get no padding at all.
        """
        prepared, scales = [], []
        for image in images:
            scale = self.detection_scale(image.shape)
            prepared.append(_resize(image, scale).astype(np.float32))
            scales.append(scale)

        groups = defaultdict(list)
        for index, image in enumerate(prepared):
            groups[_bucket(image.shape, self.size_bucket)].append(index)

        results: list[list[Face]] = [[] for _ in images]
        for indices in groups.values():
            for start in range(0, len(indices), self.max_batch):
                chunk = indices[start : start + self.max_batch]
                rows = self._run_mtcnn(_pad_to_common_shape([prepared[i] for i in chunk]))
                for row in rows:
                    index = chunk[int(row[0])]
                    face = _face_from_row(row, prepared[index].shape, scales[index])
                    if face is not None:
                        results[index].append(face)
        return results

    def _run_mtcnn(self, batch: list[np.ndarray]) -> np.ndarray:
        rows = self._mtcnn.detect_faces(
            batch,
            box_format="xyxy",
            output_type="numpy",
            min_face_size=self.min_face_size,
            scale_factor=self.scale_factor,
            threshold_pnet=self.thresholds[0],
            threshold_rnet=self.thresholds[1],
            threshold_onet=self.thresholds[2],
        )
        return np.asarray(rows, dtype=np.float64).reshape(-1, 16)


def _trace_stage_models(mtcnn) -> None:
    """mtcnn 1.0.0 calls its three Keras models eagerly (Python dispatch per layer, per pyramid
    scale); one traced graph per stage, shape-polymorphic so pyramids do not retrace, computes the
    same outputs ~1.4x faster (see benchmarks/bench_align.py). Left as is if mtcnn's internals
    change."""
    import tensorflow as tf

    signature = [tf.TensorSpec([None, None, None, 3], tf.float32)]
    for stage in getattr(mtcnn, "stages", ()):
        model = getattr(stage, "_model", None)
        if callable(model):
            stage._model = tf.function(model, input_signature=signature)


def _resize(image: np.ndarray, scale: float) -> np.ndarray:
    if scale == 1.0:
        return image
    height, width = image.shape[:2]
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    interpolation = cv2.INTER_AREA if scale < 1.0 else cv2.INTER_LINEAR
    return cv2.resize(image, size, interpolation=interpolation)


def _bucket(shape, size_bucket: int) -> tuple[int, int]:
    return (-(-shape[0] // size_bucket), -(-shape[1] // size_bucket))


def _pad_to_common_shape(batch: list[np.ndarray]) -> list[np.ndarray]:
    height = max(image.shape[0] for image in batch)
    width = max(image.shape[1] for image in batch)
    return [
        image
        if image.shape[:2] == (height, width)
        else np.pad(image, ((0, height - image.shape[0]), (0, width - image.shape[1]), (0, 0)))
        for image in batch
    ]


def _face_from_row(row: np.ndarray, detection_shape, scale: float) -> Face | None:
    """mtcnn numpy row [image, x1, y1, x2, y2, conf, lx1..lx5, ly1..ly5] -> Face in original
    pixels; None for a box centred in the padding."""
    height, width = detection_shape[:2]
    x1, y1, x2, y2 = row[1:5]
    if (x1 + x2) / 2.0 >= width or (y1 + y2) / 2.0 >= height:
        return None
    x1, x2 = np.clip([x1, x2], 0, width - 1) / scale
    y1, y2 = np.clip([y1, y2], 0, height - 1) / scale
    landmarks = np.stack([row[6:11], row[11:16]], axis=1) / scale
    return Face(
        box=(float(x1), float(y1), float(x2 - x1), float(y2 - y1)), confidence=float(row[5]), landmarks=landmarks
    )

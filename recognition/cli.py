"""Command-line options shared by verify.py and identify.py, and the objects they build.

The MTCNN flags are align/detector.py's (add_detector_arguments), so these tools and
align/align_dataset.py take the same detector settings under the same names and defaults.
"""

from __future__ import annotations

import argparse
import math

from align.detector import FaceDetector, add_detector_arguments, detector_options
from align.image_io import add_max_pixels_argument
from common.arg_types import float_in
from common.model_trust import add_trust_argument
from common.tf_startup import import_tensorflow
from recognition.photos import FLIP_MODES, PhotoEmbedder
from recognition.quality import QUALITY_ACTIONS, QualityGate, QualityThresholds

DEFAULT_QUALITY = QualityThresholds()


# Each quality limit's range; `off` disables the check (a NaN limit would silently do the same).
LIMIT_RANGES = dict(
    min_confidence=(0.0, 1.0),
    min_eye_distance=(0.0, math.inf),
    min_box_size=(0.0, math.inf),
    max_yaw=(0.0, 90.0),
    max_roll=(0.0, 180.0),
    min_sharpness=(0.0, math.inf),
)


def _limit(name: str):
    """The parser of quality limit `name`: 'off', or a finite number in its range."""
    number = float_in(*LIMIT_RANGES[name])

    def parse(text: str) -> float | None:
        if text.lower() == "off":
            return None
        if text.lower() in ("inf", "+inf", "infinity"):
            raise argparse.ArgumentTypeError(f"{text!r}: a limit is finite (or 'off')")
        return number(text)

    parse.__name__ = "limit"
    return parse


def add_model_arguments(parser: argparse.ArgumentParser, required: bool = True, flip: bool = True) -> None:
    """--model and --trust-model, and unless `flip` is False (the mode comes from elsewhere)
    --flip."""
    parser.add_argument(
        "--model",
        required=required,
        help="exported embedder (runs/<name>/export) as written by train.py, "
        "or a .tflite file from `python -m models export-tflite`",
    )
    if flip:
        parser.add_argument(
            "--flip",
            choices=FLIP_MODES,
            default="concat",
            help="combine with the mirror image's embedding, as eval_lfw.py does",
        )
    add_trust_argument(parser)


def add_face_arguments(parser: argparse.ArgumentParser) -> None:
    """Detector settings, the face choice and the quality gate."""
    group = parser.add_argument_group("face detection")
    add_detector_arguments(group)
    group.add_argument(
        "--all-faces", action="store_true", help="use every face in a photo instead of the one align/ would choose"
    )
    add_max_pixels_argument(group)
    gate = parser.add_argument_group("quality gate (any limit may be 'off')")
    gate.add_argument(
        "--quality-action",
        choices=QUALITY_ACTIONS,
        default="reject",
        help="drop failing faces, or keep them and flag the reason",
    )
    for name, help_text in [
        ("min_confidence", "detector confidence"),
        ("min_eye_distance", "eye distance in the photo, px"),
        ("min_box_size", "shorter side of the face box, px"),
        ("max_yaw", "|yaw| from the landmarks, degrees"),
        ("max_roll", "|roll| of the eye line, degrees"),
        ("min_sharpness", "variance of the Laplacian of the aligned crop"),
    ]:
        gate.add_argument(
            "--" + name.replace("_", "-"),
            type=_limit(name),
            default=getattr(DEFAULT_QUALITY, name),
            help=f"{help_text} (default %(default)s)",
        )


_rate = float_in(0.0, 1.0, open_low=True, open_high=True, what="a false-accept rate")


def add_threshold_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument(
        "--threshold",
        type=float_in(-1.0, 1.0, what="a cosine similarity"),
        help="cosine similarity threshold, in [-1, 1]",
    )
    group.add_argument(
        "--threshold-from",
        metavar="EVAL.json",
        help="use the mean per-fold threshold of an eval_lfw.py report: its "
        "accuracy threshold, or with --far its threshold at that FAR",
    )
    parser.add_argument(
        "--far",
        type=_rate,
        metavar="RATE",
        help="with --threshold-from: take the report's threshold at this false-accept rate "
        "(e.g. 1e-3, eval_lfw.py's --far-target) instead of its accuracy threshold. The "
        "accuracy threshold suits LFW's half-same pairs; in open-set 1:N search a stranger "
        "is compared with all N enrolled people (about N x FAR chance of a false match), "
        "so at the accuracy threshold most never-enrolled people get 'identified'. A lower "
        "FAR rejects more strangers but also more enrolled people (the report's val_mean: "
        "the share of same-person pairs still accepted)",
    )


def quality_gate(args: argparse.Namespace) -> QualityGate:
    thresholds = QualityThresholds(**{name: getattr(args, name) for name in QualityThresholds.__dataclass_fields__})
    return QualityGate(thresholds, args.quality_action)


def photo_embedder(args: argparse.Namespace, model_path: str) -> PhotoEmbedder:
    """Load the model and the detector (both slow: TensorFlow) and wire them to the gate.
    A model whose embeddings depend on the batch (BN always_train) is refused: a photo's
    embedding would change with whatever else was embedded with it. The tools that call this
    (verify.py, identify.py, the recognition demos) import TensorFlow here first, quietly."""
    options = detector_options(args)  # a bad flag stops before the slow loads
    import_tensorflow()
    from models import load_embedder
    from models.export import refuse_batch_dependent

    embedder = load_embedder(model_path, trust=args.trust_model)
    refuse_batch_dependent(embedder, "verify.py and identify.py need one embedding per face")
    detector = FaceDetector(**options)
    return PhotoEmbedder(
        embedder, detector, quality_gate(args), flip=args.flip, all_faces=args.all_faces, max_pixels=args.max_pixels
    )

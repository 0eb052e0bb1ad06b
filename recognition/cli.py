"""Command-line options shared by verify.py and identify.py, and the objects they build.

The MTCNN flags are align/detector.py's (add_detector_arguments), so these tools and
align/align_dataset.py take the same detector settings under the same names and defaults.
"""
from __future__ import annotations

import argparse

from align.detector import FaceDetector, add_detector_arguments, detector_options
from common.model_trust import add_trust_argument
from common.tf_startup import import_tensorflow
from recognition.photos import FLIP_MODES, PhotoEmbedder
from recognition.quality import QUALITY_ACTIONS, QualityGate, QualityThresholds

DEFAULT_QUALITY = QualityThresholds()


def _limit(text: str) -> float | None:
    """A quality limit; 'off' disables the check."""
    return None if text.lower() == "off" else float(text)


def add_model_arguments(parser: argparse.ArgumentParser, required: bool = True) -> None:
    parser.add_argument("--model", required=required,
                        help="exported embedder (runs/<name>/export) as written by train.py, "
                             "or a .tflite file from `python -m models export-tflite`")
    parser.add_argument("--flip", choices=FLIP_MODES, default="concat",
                        help="combine with the mirror image's embedding, as eval_lfw.py does")
    add_trust_argument(parser)


def add_face_arguments(parser: argparse.ArgumentParser) -> None:
    """Detector settings, the face choice and the quality gate."""
    group = parser.add_argument_group("face detection")
    add_detector_arguments(group)
    group.add_argument("--all-faces", action="store_true",
                       help="use every face in a photo instead of the one align/ would choose")
    gate = parser.add_argument_group("quality gate (any limit may be 'off')")
    gate.add_argument("--quality-action", choices=QUALITY_ACTIONS, default="reject",
                      help="drop failing faces, or keep them and flag the reason")
    for name, help_text in [
            ("min_confidence", "detector confidence"),
            ("min_eye_distance", "eye distance in the photo, px"),
            ("min_box_size", "shorter side of the face box, px"),
            ("max_yaw", "|yaw| from the landmarks, degrees"),
            ("max_roll", "|roll| of the eye line, degrees"),
            ("min_sharpness", "variance of the Laplacian of the aligned crop")]:
        gate.add_argument("--" + name.replace("_", "-"), type=_limit,
                          default=getattr(DEFAULT_QUALITY, name),
                          help=f"{help_text} (default %(default)s)")


def _rate(text: str) -> float:
    """A false-accept rate, strictly between 0 and 1."""
    value = float(text)
    if not 0.0 < value < 1.0:
        raise argparse.ArgumentTypeError(f"{text!r}: a false-accept rate is between 0 and 1")
    return value


def add_threshold_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("--threshold", type=float, help="cosine similarity threshold")
    group.add_argument("--threshold-from", metavar="EVAL.json",
                       help="use the mean per-fold threshold of an eval_lfw.py report: its "
                            "accuracy threshold, or with --far its threshold at that FAR")
    parser.add_argument(
        "--far", type=_rate, metavar="RATE",
        help="with --threshold-from: take the report's threshold at this false-accept rate "
             "(e.g. 1e-3, eval_lfw.py's --far-target) instead of its accuracy threshold. The "
             "accuracy threshold suits LFW's half-same pairs; in open-set 1:N search a stranger "
             "is compared with all N enrolled people (about N x FAR chance of a false match), "
             "so at the accuracy threshold most never-enrolled people get 'identified'. A lower "
             "FAR rejects more strangers but also more enrolled people (the report's val_mean: "
             "the share of same-person pairs still accepted)")


def quality_gate(args: argparse.Namespace) -> QualityGate:
    thresholds = QualityThresholds(**{name: getattr(args, name)
                                      for name in QualityThresholds.__dataclass_fields__})
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
    return PhotoEmbedder(embedder, detector, quality_gate(args),
                         flip=args.flip, all_faces=args.all_faces)

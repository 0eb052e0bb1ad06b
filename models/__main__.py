"""`python -m models summary NAME ...` and `python -m models export-tflite RUN_DIR ...`.

summary: parameters and multiply-adds per image, counted analytically per layer.
export-tflite: a run's exported SavedModel as .tflite next to it (models/tflite.py); int8
calibrates on aligned training images (default: the run's own training folders).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from common.errors import UserFileNotFoundError, UserValueError, entry_point
from common.model_trust import add_trust_argument
from common.run_layout import EMBEDDER_DIR, EXPORT_DIR, MODEL_INFO_FILE, locate_export
from models.complexity import format_summary
from models.layers import BN_MODES
from models.registry import available, build, parse_image_size
from models.tflite import QUANTIZE_MODES

PROG = "python -m models"


def summary(args) -> int:
    model = build(
        args.name,
        image_size=parse_image_size(args.image_size),
        embedding_size=args.embedding_size,
        bn_mode=args.bn_mode,
        width=args.width,
    )
    print(format_summary(model, per_layer=args.per_layer))
    return 0


def export_dir_of(path: Path) -> Path:
    """A run dir's export/ folder, or the export folder itself."""
    found = locate_export(path)
    if found is None or found.saved_model.name != EMBEDDER_DIR:
        raise UserFileNotFoundError(
            f"{path}: no {EXPORT_DIR}/{EMBEDDER_DIR}/ (a run dir) or {EMBEDDER_DIR}/ "
            "(an export folder) with a SavedModel"
        )
    return found.export_dir


def training_folders(export_dir: Path) -> list[Path]:
    """The run's training folders as its config recorded them (relative to the repository)."""
    from common.paths import REPO_ROOT
    from models.export import read_info

    folders = read_info(export_dir / MODEL_INFO_FILE).get("config", {}).get("data", {}).get("train_dirs")
    if not folders:
        raise UserValueError(f"{export_dir / MODEL_INFO_FILE} records no data.train_dirs; pass --calibration-dir")
    return [REPO_ROOT / folder for folder in folders]


def export_tflite(args) -> int:
    from models.loader import load_embedder
    from models.tflite import calibration_images
    from models.tflite import export_tflite as write

    export_dir = export_dir_of(args.run_dir)
    images = None
    if args.quantize == "int8":
        folders = args.calibration_dir or training_folders(export_dir)
        images = calibration_images(
            folders, args.calibration_images, load_embedder(export_dir, args.trust_model).image_size
        )
        print(f"calibrating int8 on {len(images)} aligned images of {', '.join(map(str, folders))}")
    path = write(export_dir, args.quantize, images, overwrite=args.overwrite, trust=args.trust_model)
    print(f"wrote {path} ({path.stat().st_size / 2**20:.2f} MiB)")
    return 0


@entry_point(PROG)
def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    summary_parser = commands.add_parser("summary", help="parameters and multiply-adds of a backbone")
    summary_parser.add_argument("name", choices=available())
    summary_parser.add_argument("--image-size", default="112x96", help="HxW: 112x96 or 112x112")
    summary_parser.add_argument("--width", type=float, default=1.0, help="channel width multiplier")
    summary_parser.add_argument("--bn-mode", default="switch", choices=BN_MODES)
    summary_parser.add_argument("--embedding-size", type=int, default=512)
    summary_parser.add_argument("--per-layer", action="store_true", help="one line per weighted layer")
    summary_parser.set_defaults(run=summary)

    tflite = commands.add_parser("export-tflite", help="write a run's embedder as .tflite")
    tflite.add_argument("run_dir", type=Path, help="run dir (runs/<name>) or its export/ folder")
    tflite.add_argument(
        "--quantize",
        choices=QUANTIZE_MODES,
        default="none",
        help="none: float32; float16: half-size weights; int8: 8-bit weights and "
        "activations, calibrated on aligned training images",
    )
    tflite.add_argument(
        "--calibration-dir",
        type=Path,
        action="append",
        help="aligned identity folders for int8 calibration (repeatable; default: the run's data.train_dirs)",
    )
    tflite.add_argument("--calibration-images", type=int, default=200, help="how many aligned images calibrate int8")
    tflite.add_argument("--overwrite", action="store_true")
    add_trust_argument(tflite)
    tflite.set_defaults(run=export_tflite)

    args = parser.parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())

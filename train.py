"""Train a face-embedding model from a YAML config.

    python train.py --config experiments/configs/NAME.yaml [--set key=value ...] [--overwrite]

Rerunning the same command resumes from the run's last checkpoint; a finished run is left alone.
See experiments/configs/README.md for the config format.
"""

from __future__ import annotations

import argparse
import os
import sys

# oneDNN kernels on CPU: must be set before TensorFlow is imported.
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")

from common.errors import entry_point  # noqa: E402

PROG = "train.py"


@entry_point(PROG)
def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog=PROG, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--config", required=True, help="experiments/configs/NAME.yaml")
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a config key (dotted, e.g. optimizer.weight_decay=5e-4); repeatable",
    )
    parser.add_argument(
        "--overwrite",
        action="store_true",
        help="start afresh even if the run dir holds another run (it is moved aside)",
    )
    parser.add_argument("--data-root", default=None, help="data root (default $FACEREC_DATA or ../shared/data)")
    args = parser.parse_args(argv)

    from common.tf_startup import import_tensorflow
    from training.config import load_config

    import_tensorflow()  # before training.loop: without the CPU-only start-up notices
    from training.loop import run_training

    config = load_config(args.config, args.overrides)
    run_training(config, overwrite=args.overwrite, data_dir=args.data_root)
    return 0


if __name__ == "__main__":
    sys.exit(main())

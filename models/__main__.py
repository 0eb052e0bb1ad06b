"""`python -m models summary NAME [--image-size 112x96] [--width 1.0] [--bn-mode switch]`.

Prints parameters and multiply-adds per image, counted analytically per layer.
"""
from __future__ import annotations

import argparse
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from models.complexity import format_summary  # noqa: E402  (after the TF log level is set)
from models.layers import BN_MODES  # noqa: E402
from models.registry import available, build, parse_image_size  # noqa: E402


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m models", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    summary = commands.add_parser("summary", help="parameters and multiply-adds of a backbone")
    summary.add_argument("name", choices=available())
    summary.add_argument("--image-size", default="112x96", help="HxW: 112x96 or 112x112")
    summary.add_argument("--width", type=float, default=1.0, help="channel width multiplier")
    summary.add_argument("--bn-mode", default="switch", choices=BN_MODES)
    summary.add_argument("--embedding-size", type=int, default=512)
    summary.add_argument("--per-layer", action="store_true", help="one line per weighted layer")
    args = parser.parse_args(argv)
    try:
        model = build(args.name, image_size=parse_image_size(args.image_size),
                      embedding_size=args.embedding_size, bn_mode=args.bn_mode, width=args.width)
    except ValueError as error:
        parser.error(str(error))
    print(format_summary(model, per_layer=args.per_layer))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""`--trust-model`: the one flag, in every tool that loads a model, that skips the model scan
(models/graph_scan.py, docs/security.md). Kept here so the tools that import TensorFlow late can
add it to their parsers without importing the models package."""

from __future__ import annotations

import argparse

TRUST_FLAG = "--trust-model"
TRUST_HINT = f"pass {TRUST_FLAG} only if you trust where the model comes from"


def add_trust_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        TRUST_FLAG,
        action="store_true",
        help="skip the check that refuses a model whose graph can touch files, the "
        "network or processes (docs/security.md); only for a model whose "
        "source you trust",
    )

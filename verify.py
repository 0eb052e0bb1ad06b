#!/usr/bin/env python
"""Face verification (1:1) from two raw photos.

    python verify.py A.jpg B.jpg --model runs/<name>/export --threshold-from eval.json

Detects and aligns each photo as align/ does, gates the faces by quality, embeds them (with the
mirror image, --flip), and prints the cosine similarity and the decision. Exit status: 0 when a
decision was made (same or different), 3 when it was refused (no usable face, unreadable image),
2 for bad input (a missing photo or model, a bad threshold), as every tool (common/errors.py).
"""

from __future__ import annotations

import argparse
import json
import sys

from common.errors import REFUSED, entry_point, require_file
from recognition import cli
from recognition.compare import verify_photos
from recognition.report import describe_photo, photo_lines
from recognition.thresholds import resolve_threshold

PROG = "verify.py"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__.split("\n\n")[0])
    parser.add_argument("photos", nargs=2, metavar="PHOTO")
    cli.add_model_arguments(parser)
    cli.add_threshold_arguments(parser)
    cli.add_face_arguments(parser)
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    return parser


@entry_point(PROG)
def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    threshold = resolve_threshold(args.threshold, args.threshold_from, args.flip, args.far)
    for photo in args.photos:  # a typo stops here; an unreadable image is a refusal below
        require_file(photo, "photo")
    embedder = cli.photo_embedder(args, args.model)
    results = [embedder.process(photo) for photo in args.photos]
    verdict = verify_photos(*results, threshold)
    if args.json:
        print(json.dumps(dict(verdict.as_dict(), photos=[describe_photo(r) for r in results])))
    else:
        for result in results:
            for line in photo_lines(result):
                print(line)
        if verdict.same is None:
            print(f"refused: {verdict.reason}")
        else:
            print(
                f"similarity {verdict.similarity:.4f}, threshold {threshold:.4f}: "
                f"{'same person' if verdict.same else 'different people'}"
            )
    return REFUSED if verdict.same is None else 0


if __name__ == "__main__":
    sys.exit(main())

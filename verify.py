#!/usr/bin/env python
"""Face verification (1:1) from two raw photos.

    python verify.py A.jpg B.jpg --model runs/<name>/export --threshold-from eval.json

Detects and aligns each photo as align/ does, gates the faces by quality, embeds them (with the
mirror image, --flip), and prints the cosine similarity and the decision. Exit status: 0 when a
decision was made (same or different), 3 when it was refused (no usable face, unreadable file).
"""
from __future__ import annotations

import argparse
import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from recognition import cli
from recognition.compare import verify_photos
from recognition.report import describe_photo, photo_lines
from recognition.thresholds import resolve_threshold

REFUSED_EXIT = 3


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("photos", nargs=2, metavar="PHOTO")
    cli.add_model_arguments(parser)
    cli.add_threshold_arguments(parser)
    cli.add_face_arguments(parser)
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    args = parser.parse_args(argv)
    try:
        threshold = resolve_threshold(args.threshold, args.threshold_from, args.flip,
                                      args.far)
    except (OSError, ValueError) as error:
        parser.error(str(error))

    try:
        embedder = cli.photo_embedder(args, args.model)
    except (OSError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
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
            print(f"similarity {verdict.similarity:.4f}, threshold {threshold:.4f}: "
                  f"{'same person' if verdict.same else 'different people'}")
    return REFUSED_EXIT if verdict.same is None else 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python
"""Face identification (1:N): enroll identity folders into a gallery, then search photos in it.

    python identify.py enroll --gallery people/ --model runs/<name>/export --out gallery.npz
    python identify.py search photo.jpg class_photos/ --gallery gallery.npz \\
        --model runs/<name>/export --threshold-from eval.json --far 1e-3 --csv attendance.csv

`people/` holds one folder per person; the gallery stores each photo's path relative to it (or
none, --no-sources) and is private (0600). Search needs the model the gallery was enrolled with
and prints the top-k identities of every face with their cosine scores, or "unknown" when the
best score is below the threshold (docs/security.md: NaN never matches); a photo that fails
(unreadable, no face, rejected by the quality gate) gets its own line and the batch goes on.
For open-set search (people who were never enrolled will be photographed) take the threshold at
a low false-accept rate (--far) rather than the LFW accuracy threshold (see --help).
"""

from __future__ import annotations

import argparse
import os
import sys

from common.arg_types import int_at_least
from common.errors import UserFileExistsError, UserValueError, entry_point
from recognition import cli
from recognition.enroll import enroll, identity_folders
from recognition.gallery import ENROLL_MODES, Gallery, IdentitySearcher
from recognition.index import INDEX_KINDS
from recognition.photos import list_images
from recognition.search import identify_photos, write_csv
from recognition.thresholds import resolve_threshold

PROG = "identify.py"


def run_enroll(args: argparse.Namespace) -> int:
    if os.path.exists(args.out) and not args.overwrite:
        raise UserFileExistsError(f"{args.out} exists: choose another --out or pass --overwrite")
    folders = identity_folders(args.gallery)
    embedder = cli.photo_embedder(args, args.model)
    gallery = enroll(
        folders,
        embedder,
        args.mode,
        args.max_photos,
        log=lambda message: print(message, file=sys.stderr),
        source_root=args.gallery,
        keep_sources=not args.no_sources,
    )
    gallery.save(args.out, overwrite=args.overwrite)
    print(
        f"enrolled {len(gallery.identities)} of {len(folders)} identities "
        f"({len(gallery)} gallery rows, mode {args.mode}) -> {args.out}"
    )
    return 0


def run_search(args: argparse.Namespace) -> int:
    if args.csv and os.path.exists(args.csv) and not args.overwrite:
        raise UserFileExistsError(f"{args.csv} exists: choose another --csv or pass --overwrite")
    gallery = Gallery.load(args.gallery)
    args.flip = gallery.meta.get("flip", "concat")  # queries must be embedded like the gallery
    threshold = resolve_threshold(args.threshold, args.threshold_from, args.flip, args.far)
    print(f"threshold {threshold:.4f} ({threshold_source(args)})", file=sys.stderr)
    embedder = cli.photo_embedder(args, args.model)
    if list(embedder.image_size) != list(gallery.meta.get("image_size", embedder.image_size)):
        raise UserValueError(
            f"{args.model}: image size {embedder.image_size} differs from the gallery's "
            f"{gallery.meta['image_size']}; use the gallery's model"
        )
    index_options = dict(neighbours=args.hnsw_neighbours, ef_search=args.hnsw_ef_search) if args.index == "hnsw" else {}
    searcher = IdentitySearcher(gallery, args.index, **index_options)
    photos = list_images(args.photos)
    rows = identify_photos(photos, embedder, searcher, threshold, args.top_k)
    if args.csv:
        count = write_csv(rows, args.csv, args.overwrite, echo=print_row)
        print(f"{count} rows for {len(photos)} photos -> {args.csv}")
    else:
        for row in rows:
            print_row(row)
    return 0


def threshold_source(args: argparse.Namespace) -> str:
    """Where the threshold came from, so a log says which operating point a search used."""
    if args.threshold is not None:
        return "--threshold"
    kind = f"FAR {args.far:g}" if args.far is not None else "accuracy"
    return f"the LFW {kind} threshold of {args.threshold_from}"


def print_row(row: dict) -> None:
    if row["face"] == "":  # the whole photo failed; the reason names the file
        print(row["reason"])
        return
    where = f"{row['photo']} face {row['face']}"
    if row["status"] in ("identified", "unknown"):
        print(f"{where}: {row['identity']} ({row['score']}); top: {row['top_k']}")
    else:
        print(f"{where}: {row['status']}: {row['reason']}")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)

    enroll_parser = commands.add_parser("enroll", help="build a gallery from identity folders")
    enroll_parser.add_argument("--gallery", required=True, help="folder of <person>/ folders")
    enroll_parser.add_argument("--out", required=True, help="gallery .npz to write")
    enroll_parser.add_argument(
        "--mode", choices=ENROLL_MODES, default="mean", help="one mean embedding per person, or every photo's"
    )
    enroll_parser.add_argument("--max-photos", type=int_at_least(1), help="usable photos per person at most")
    enroll_parser.add_argument("--overwrite", action="store_true")
    enroll_parser.add_argument(
        "--no-sources",
        action="store_true",
        help="record no photo names in the gallery (by default each photo's path relative to --gallery)",
    )
    cli.add_model_arguments(enroll_parser)
    cli.add_face_arguments(enroll_parser)

    search_parser = commands.add_parser("search", help="identify the faces in photos")
    search_parser.add_argument(
        "photos", nargs="+", metavar="PHOTO", help="photos, or folders searched recursively for images"
    )
    search_parser.add_argument("--gallery", required=True, help="gallery .npz from enroll")
    search_parser.add_argument("--top-k", type=int_at_least(1), default=5)
    search_parser.add_argument(
        "--index", choices=INDEX_KINDS, default="brute", help="exact matrix search, or faiss HNSW for huge galleries"
    )
    search_parser.add_argument("--hnsw-neighbours", type=int_at_least(2), default=32)
    search_parser.add_argument("--hnsw-ef-search", type=int_at_least(1), default=128)
    search_parser.add_argument("--csv", help="write one row per face (or failed photo) here")
    search_parser.add_argument("--overwrite", action="store_true")
    cli.add_model_arguments(search_parser, flip=False)  # the gallery's model; its flip mode
    cli.add_threshold_arguments(search_parser)
    cli.add_face_arguments(search_parser)
    return parser


@entry_point(PROG)
def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    return run_enroll(args) if args.command == "enroll" else run_search(args)


if __name__ == "__main__":
    sys.exit(main())

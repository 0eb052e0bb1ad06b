"""Identification (1:N) of the faces in raw photos: one result row per face or per failed photo."""

from __future__ import annotations

import csv
import os
from collections.abc import Iterable, Iterator
from pathlib import Path

from common.atomic_files import PRIVATE_FILE_MODE, private_dir
from common.errors import UserFileExistsError
from common.spreadsheet import text_cell
from recognition.gallery import UNKNOWN, IdentitySearcher, decide
from recognition.photos import PhotoEmbedder

# `reason`: the quality gate's reasons for a face, or the error of a photo that failed.
CSV_COLUMNS = ("photo", "face", "status", "identity", "score", "top_k", "box", "reason")


def identify_photos(
    photos: Iterable[Path], embedder: PhotoEmbedder, searcher: IdentitySearcher, threshold: float, k: int
) -> Iterator[dict]:
    """Rows with CSV_COLUMNS. `status`: identified, unknown, rejected (quality gate), no_face,
    unreadable or detection_failed; `top_k` lists 'identity:score' best first."""
    for photo in photos:
        result = embedder.process(photo)
        if result.error:
            yield dict(
                photo=str(photo),
                face="",
                status=result.error_kind,
                identity="",
                score="",
                top_k="",
                box="",
                reason=result.error,
            )
            continue
        usable = [face for face in result.faces if face.feature is not None]
        matches = iter(searcher.search([f.feature for f in usable], k)) if usable else iter(())
        for number, face in enumerate(result.faces):
            row = dict(
                photo=str(photo),
                face=number,
                status="rejected",
                identity="",
                score="",
                top_k="",
                box=" ".join(f"{v:.0f}" for v in face.face.box),
                reason="; ".join(face.quality.reasons),
            )
            if face.feature is not None:
                top = next(matches)
                identity = decide(top, threshold)
                row.update(
                    status="unknown" if identity == UNKNOWN else "identified",
                    identity=identity,
                    score=f"{top[0].score:.4f}",
                    top_k=";".join(f"{m.identity}:{m.score:.4f}" for m in top),
                )
            yield row


# Columns holding names and paths (the others are numbers or fixed words).
TEXT_COLUMNS = ("photo", "identity", "top_k", "reason")


def write_csv(rows: Iterable[dict], path: str | Path, overwrite: bool = False, echo=None) -> int:
    """Write rows to `path`; returns the count. `echo(row)` is called for each row, e.g. to print
    progress. The rows go to a private `<path>.partial` as they come (an interrupted batch keeps
    what it has done there), renamed to `path` when complete, so an --overwrite never loses the
    old file to a half-written one. Names are escaped against spreadsheet formulas."""
    path = Path(path)
    if path.exists() and not overwrite:
        raise UserFileExistsError(f"{path} exists: choose another --csv or pass --overwrite")
    if not path.parent.exists():
        private_dir(path.parent)
    partial = path.with_name(path.name + ".partial")
    count = 0
    descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, PRIVATE_FILE_MODE)
    os.fchmod(descriptor, PRIVATE_FILE_MODE)  # an old .partial keeps its mode otherwise
    with os.fdopen(descriptor, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=CSV_COLUMNS)
        writer.writeheader()
        for row in rows:
            writer.writerow({key: text_cell(value) if key in TEXT_COLUMNS else value for key, value in row.items()})
            handle.flush()
            count += 1
            if echo:
                echo(row)
        os.fsync(handle.fileno())
    os.replace(partial, path)
    return count

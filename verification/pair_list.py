"""The plain pair-list format for custom verification sets: one pair a line, over a folder.

    # comment lines and blank lines are skipped
    alice/01.jpg alice/02.jpg 1
    alice/01.jpg bob/07.jpg 0

Paths are relative to the list file's folder and may not leave it; the label is 1 (same
person) or 0. The pairs are cut into 10 consecutive folds, as insightface does with its .bin
files, so keep same and different pairs mixed through the file (or in balanced blocks of a
tenth each). A malformed line is an error naming the file and line: no pair is ever dropped.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from common.errors import UserFileNotFoundError, UserValueError, require_file
from verification.pair_set import PairSet, consecutive_folds, inside

LABELS = {"1": True, "0": False}


def list_pair_set(name: str, path: str | Path) -> PairSet:
    """The PairSet of a pair-list file; image ids are the paths as written."""
    path = require_file(path, "pair list")
    root = path.parent
    ids: dict[str, int] = {}
    left, right, is_same = [], [], []
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        fields = line.split()
        if len(fields) != 3 or fields[2] not in LABELS:
            raise UserValueError(f"{path}:{number}: expected 'path1 path2 label' (label 1 or 0), got {line!r}")
        for relative, side in ((fields[0], left), (fields[1], right)):
            if relative not in ids:
                if not inside(root, relative, f"{path}:{number}").is_file():
                    raise UserFileNotFoundError(f"{path}:{number}: image {relative} not found in {root}")
                ids[relative] = len(ids)
            side.append(ids[relative])
        is_same.append(LABELS[fields[2]])
    try:
        folds = consecutive_folds(len(is_same))
    except UserValueError as error:
        raise UserValueError(f"{path}: {error}") from None
    names = tuple(ids)
    return PairSet(
        name,
        str(path),
        names,
        np.array(left, np.int64),
        np.array(right, np.int64),
        np.array(is_same, bool),
        folds,
        image_paths=tuple(root / n for n in names),
    )

"""Reading user-supplied landmarks: `name x1 y1 x2 y2 x3 y3 x4 y4 x5 y5` per line."""

from __future__ import annotations

import numpy as np

from common.errors import UserValueError, require_file


def read_landmarks_file(path) -> dict[str, np.ndarray]:
    """Map relative image path -> (5, 2) landmarks (order of REFERENCE.md). Blank lines and '#'
    comments are skipped; a malformed line raises ValueError naming file and line."""
    landmarks = {}
    with open(require_file(path, "landmarks file"), encoding="utf-8") as handle:
        for line_number, line in enumerate(handle, start=1):
            fields = line.split()
            if not fields or fields[0].startswith("#"):
                continue
            if len(fields) != 11:
                raise UserValueError(
                    f"{path}:{line_number}: expected 'name x1 y1 ... x5 y5' (11 fields), got {len(fields)}"
                )
            try:
                points = np.array([float(v) for v in fields[1:]], dtype=np.float64).reshape(5, 2)
            except ValueError:
                raise UserValueError(
                    f"{path}:{line_number}: coordinates must be numbers: {' '.join(fields[1:])!r}"
                ) from None
            if not np.isfinite(points).all():
                raise UserValueError(f"{path}:{line_number}: coordinates must be finite")
            name = fields[0].replace("\\", "/")
            if name in landmarks:
                raise UserValueError(f"{path}:{line_number}: duplicate entry for {name!r}")
            landmarks[name] = points
    return landmarks

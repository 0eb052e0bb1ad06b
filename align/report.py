"""OUT/align_report.csv: one row per input, appended as the run goes, compacted at the end.

Rows are appended (and flushed) *before* their image is written, so every finished output has a
row; a row whose output is missing was interrupted and is redone on resume. Readers take the last
row per path (`read_report`); `compact_report` drops the earlier duplicates and appends the
one-line `# summary` (lines starting with '#' are not rows).
"""

from __future__ import annotations

import csv
import hashlib
import io
import os
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from align.pipeline import ERROR, SKIPPED, STATUSES, AlignResult
from common.errors import UserValueError

# A file name that is not UTF-8 (b"caf\xe9.jpg") arrives surrogate-escaped from the file system;
# the report keeps its original bytes, so a resume matches the same file again.
PATH_ERRORS = "surrogateescape"

LANDMARK_COLUMNS = [f"lm{i}_{axis}" for i in range(1, 6) for axis in ("x", "y")]
COLUMNS = (
    ["path", "status", "confidence", "box_x", "box_y", "box_w", "box_h"]
    + LANDMARK_COLUMNS
    + ["num_faces", "width", "height", "message"]
)
SUMMARY_PREFIX = "# summary:"


def report_name(shard: tuple[int, int] = (0, 1)) -> str:
    """align_report.csv, or one file per shard so machines sharing OUT never write the same file."""
    index, count = shard
    return "align_report.csv" if count == 1 else f"align_report.shard{index}of{count}.csv"


def result_row(relative_path: str, result: AlignResult, image_shape=None) -> dict:
    """The report row of one aligned (or failed) image; coordinates in original-image pixels."""
    row = dict.fromkeys(COLUMNS, "")
    row.update(path=relative_path, status=result.status, message=result.message, num_faces=result.num_faces)
    if image_shape is not None:
        row.update(height=image_shape[0], width=image_shape[1])
    face = result.face
    if face is not None:
        if np.isfinite(face.confidence):
            row["confidence"] = f"{face.confidence:.5f}"
        if np.isfinite(face.box).all():
            row.update(zip(["box_x", "box_y", "box_w", "box_h"], (f"{v:.2f}" for v in face.box), strict=True))
        row.update(zip(LANDMARK_COLUMNS, (f"{v:.2f}" for v in face.landmarks.reshape(-1)), strict=True))
    return row


def error_row(relative_path: str, message: str) -> dict:
    row = dict.fromkeys(COLUMNS, "")
    row.update(path=relative_path, status=ERROR, message=" ".join(str(message).split()))
    return row


class ReportWriter:
    """Appends rows to the report, repairing a line cut short by a kill -9 first."""

    def __init__(self, path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        _truncate_partial_last_line(self.path)
        is_new = not self.path.exists() or self.path.stat().st_size == 0
        self._handle = open(self.path, "a", encoding="utf-8", errors=PATH_ERRORS, newline="")
        self._writer = csv.DictWriter(self._handle, fieldnames=COLUMNS, lineterminator="\n")
        if is_new:
            self._writer.writeheader()
            self._handle.flush()

    def write(self, row: dict) -> None:
        self._writer.writerow(row)
        self._handle.flush()  # reaches the OS now: survives a kill -9 of this process

    def close(self) -> None:
        self._handle.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _truncate_partial_last_line(path: Path) -> None:
    if not path.exists() or path.stat().st_size == 0:
        return
    with open(path, "rb+") as handle:
        handle.seek(-1, os.SEEK_END)
        if handle.read(1) == b"\n":
            return
        data_end = handle.seek(0, os.SEEK_END)
        position = max(0, data_end - 65536)
        handle.seek(position)
        tail = handle.read()
        cut = tail.rfind(b"\n")
        handle.truncate(position + cut + 1 if cut >= 0 else 0)


def _data_lines(path) -> Iterator[str]:
    """Row lines of the report (header and '#' lines left out)."""
    with open(path, encoding="utf-8", errors=PATH_ERRORS, newline="") as handle:
        header = handle.readline()
        if header and header.rstrip("\r\n").split(",") != COLUMNS:
            raise UserValueError(f"{path}:1: not an align report header (expected {','.join(COLUMNS)})")
        for line in handle:
            if line.strip() and not line.startswith("#"):
                yield line


def _parse_line(line: str) -> dict:
    return next(csv.DictReader(io.StringIO(line), fieldnames=COLUMNS))


def read_report(path) -> dict[str, dict]:
    """path -> last row for that path. Fine for LFW-sized sets; large sets should stream lines."""
    rows = {}
    for line in _data_lines(path):
        row = _parse_line(line)
        rows[row["path"]] = row
    return rows


def first_status_among(path, statuses) -> str | None:
    """The status of the report's first row whose status is one of `statuses`, else None; reads
    only as far as that row."""
    for line in _data_lines(path):
        status = _parse_line(line)["status"]
        if status in statuses:
            return status
    return None


def unfinished_statuses(path) -> dict[str, str]:
    """path -> status for paths whose last row is skipped or error (usually few), for resuming."""
    pending: dict[str, str] = {}
    if not Path(path).exists():
        return pending
    for line in _data_lines(path):
        row = _parse_line(line)
        if row["status"] in (SKIPPED, ERROR):
            pending[row["path"]] = row["status"]
        else:
            pending.pop(row["path"], None)
    return pending


def _path_hash(line: str) -> int:
    relative_path = _parse_line(line)["path"]
    return int.from_bytes(hashlib.md5(os.fsencode(relative_path)).digest()[:8], "big", signed=True)


def compact_report(path, run_summary: str = "") -> Counter:
    """Keep the last row per path, drop old summaries, append a fresh `# summary:` line.

    Memory: one 64-bit hash per row (26 MB for VGGFace2's 3.3 M rows), not one Python object.
    The file is replaced atomically. Returns the counts by status.
    """
    path = Path(path)
    hashes = np.fromiter((_path_hash(line) for line in _data_lines(path)), dtype=np.int64)
    # Index of the last occurrence of each hash: unique over the reversed array gives first hits.
    _, first_in_reversed = np.unique(hashes[::-1], return_index=True)
    keep = np.zeros(len(hashes), dtype=bool)
    keep[len(hashes) - 1 - first_in_reversed] = True

    counts: Counter = Counter()
    temporary = path.with_name(path.name + ".partial")
    with open(temporary, "w", encoding="utf-8", errors=PATH_ERRORS, newline="") as out:
        out.write(",".join(COLUMNS) + "\n")
        for index, line in enumerate(_data_lines(path)):
            if keep[index]:
                out.write(line if line.endswith("\n") else line + "\n")
                counts[_parse_line(line)["status"]] += 1
        out.write(summary_line(counts, run_summary) + "\n")
    os.replace(temporary, path)
    return counts


def summary_line(counts: Counter, run_summary: str = "") -> str:
    parts = [f"{status}={counts.get(status, 0)}" for status in STATUSES]
    parts.append(f"total={sum(counts.values())}")
    return f"{SUMMARY_PREFIX} " + " ".join(parts) + (f" | {run_summary}" if run_summary else "")

"""One writer per output folder: an exclusive `fcntl` lock held for the life of the process.

Two trainings on one run dir, or two aligners on one output dir, would interleave their files.
The lock lives in a hidden file beside the folder (`.<name>.lock`), so it survives the folder
being moved aside (train.py --overwrite) and never counts as the folder's content. The kernel
drops it when the holder exits, however it exits; a stale file is harmless. The holder's pid is
written into the file so a refused second process can name it.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path

from common.errors import UserError


class FolderInUseError(UserError, RuntimeError):
    """Another process holds the folder's lock."""


def lock_path(folder: str | Path, part: str = "") -> Path:
    folder = Path(folder)
    return folder.parent / f".{folder.name}{'.' + part if part else ''}.lock"


@contextlib.contextmanager
def exclusive_folder(folder: str | Path, what: str, part: str = "") -> Iterator[Path]:
    """Hold the lock of `folder` (`what` names it in the refusal) while the block runs; `part`
    names one of several independent locks of the folder (align's shards)."""
    path = lock_path(folder, part)
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(descriptor, 32, 0).decode("ascii", "replace").strip() or "unknown"
            raise FolderInUseError(
                f"{folder}: {what} is in use by process {holder} (lock {path}); wait for it to finish or stop it"
            ) from None
        os.ftruncate(descriptor, 0)
        os.pwrite(descriptor, f"{os.getpid()}\n".encode(), 0)
        yield Path(folder)
    finally:
        os.close(descriptor)  # releases the lock

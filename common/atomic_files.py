"""Files that appear whole or not at all, optionally private (face data, embeddings, galleries).

A writer writes a temporary file beside the target (same folder, so the rename is atomic), flushes
it to disk, then renames it over the target: a crash or a full disk leaves the old file intact and
at worst a `.tmp-*` file beside it. `private=True` creates the file 0600 (and, with
`private_dir`, folders 0700) whatever the umask, because embeddings and face crops are personal data.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

PRIVATE_FILE_MODE = 0o600
PRIVATE_DIR_MODE = 0o700


def private_dir(path: str | Path) -> Path:
    """`path` created (with missing parents) if needed and set to 0700."""
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    os.chmod(path, PRIVATE_DIR_MODE)
    return path


@contextlib.contextmanager
def atomic_output(path: str | Path, private: bool = False) -> Iterator[Path]:
    """Yields a temporary path beside `path`; on a clean exit it is synced and renamed to `path`,
    on an exception it is removed and `path` is left as it was. For writers that want a file name
    (np.savez, matplotlib); the temporary name keeps the target's suffix."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".tmp-{path.name}.", suffix=path.suffix, dir=path.parent)
    os.close(handle)  # mkstemp creates it 0600
    temporary = Path(temporary)
    try:
        yield temporary
        if not private:
            os.chmod(temporary, 0o666 & ~_umask())
        with open(temporary, "rb+") as written:
            os.fsync(written.fileno())
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def atomic_write_bytes(path: str | Path, data: bytes, private: bool = False) -> Path:
    with atomic_output(path, private) as temporary:
        temporary.write_bytes(data)
    return Path(path)


def atomic_write_text(path: str | Path, text: str, private: bool = False) -> Path:
    return atomic_write_bytes(path, text.encode("utf-8"), private)


def atomic_write_json(path: str | Path, value, private: bool = False) -> Path:
    return atomic_write_text(path, json.dumps(value, indent=2) + "\n", private)


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current

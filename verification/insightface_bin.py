"""insightface's verification `.bin` files (lfw.bin, cfp_fp.bin, agedb_30.bin, ...), read safely.

A .bin is a pickle of `(bins, issame_list)`: `bins` the encoded images (JPEG bytes, 112x112,
aligned with insightface's 5-point template), two consecutive images per pair; `issame_list` one
bool per pair. insightface evaluates them in 10 consecutive folds, and so does this reader.

A pickle can run any code while it loads. This one is read with an unpickler that resolves no
class or function at all, so only the built-in containers, bytes, strings, numbers and bools
can come out of it; anything else (a class, a function call, numpy arrays included) is refused
with an error naming the file, before it can run. A file whose list is a numpy array of bools
(some third-party copies) is therefore refused too: convert it once, in a place where you
trust it, to plain lists (docs/benchmarks_eval.md shows how).
"""

from __future__ import annotations

import io
import pickle
from pathlib import Path

import numpy as np

from common.errors import UserValueError, require_file
from verification.pair_set import PairSet, consecutive_folds


class UnsafeBinError(UserValueError):
    """A .bin that is not plain containers, bytes and bools (it may try to run code)."""


class _Refused(pickle.UnpicklingError):
    pass


class _NothingResolved(pickle.Unpickler):
    """Refuses every global: classes, functions, reducers. What remains is plain data."""

    def find_class(self, module, name):
        raise _Refused(f"refused to load {module}.{name}")


def read_bin_lists(path: str | Path) -> tuple[list[bytes], list[bool]]:
    """(encoded images, same-person flags) of a .bin, checked; errors name the file."""
    path = require_file(path, "benchmark .bin file")
    try:
        with open(path, "rb") as handle:
            # encoding="bytes": files pickled by Python 2 (most of insightface's) give bytes.
            content = _NothingResolved(io.BufferedReader(handle), encoding="bytes").load()
    except _Refused as error:
        raise UnsafeBinError(f"{path}: not a plain insightface .bin ({error}); nothing in it was run") from None
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, IndexError, KeyError) as error:
        raise UserValueError(f"{path}: not a readable .bin pickle ({type(error).__name__}: {error})") from None
    if not (isinstance(content, (tuple, list)) and len(content) == 2):
        raise UserValueError(f"{path}: expected a pair (images, issame list), got {type(content).__name__}")
    images, issame = content
    if not isinstance(images, (list, tuple)) or not all(isinstance(b, bytes) for b in images):
        raise UserValueError(f"{path}: the first element must be a list of encoded images (bytes)")
    if not isinstance(issame, (list, tuple)) or not all(isinstance(s, bool) for s in issame):
        raise UserValueError(f"{path}: the second element must be a list of bools (same person)")
    if len(images) != 2 * len(issame):
        raise UserValueError(f"{path}: {len(images)} images for {len(issame)} pairs (expected {2 * len(issame)})")
    return list(images), list(issame)


def bin_pair_set(name: str, path: str | Path) -> PairSet:
    """The PairSet of a .bin: pair i is images 2i and 2i+1, 10 consecutive folds; image ids
    are the indices (zero-padded)."""
    images, issame = read_bin_lists(path)
    width = len(str(len(images)))
    count = len(issame)
    try:
        folds = consecutive_folds(count)
    except UserValueError as error:
        raise UserValueError(f"{path}: {error}") from None
    return PairSet(
        name,
        str(path),
        tuple(f"{k:0{width}d}" for k in range(len(images))),
        np.arange(0, 2 * count, 2, dtype=np.int64),
        np.arange(1, 2 * count, 2, dtype=np.int64),
        np.array(issame, bool),
        folds,
        encoded=tuple(images),
    )

"""The embeddings .npz exchange format (also the eval cache): `paths`, `embeddings`,
optional `embeddings_flip` (mirror-image features; without them eval_lfw.py evaluates with
--flip none unless told otherwise).

`paths` are relative image paths such as `Aaron_Eckhart/Aaron_Eckhart_0001.jpg`; rows are
looked up by the path without its extension, so .jpg and .png copies of LFW match alike.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from common.atomic_files import atomic_output
from common.errors import UserFileNotFoundError, UserKeyError, UserValueError


def path_stem(relative_path: str) -> str:
    """`Person/Person_0001.jpg` -> `Person/Person_0001` (separators normalised to '/')."""
    text = relative_path.replace(os.sep, "/")
    head, dot, ext = text.rpartition(".")
    return head if dot and "/" not in ext else text


@dataclass(frozen=True)
class EmbeddingTable:
    """Embeddings (and optionally mirror-image embeddings) of named images."""

    paths: tuple[str, ...]
    embeddings: np.ndarray
    embeddings_flip: np.ndarray | None = None

    def __post_init__(self):
        if self.embeddings.ndim != 2 or self.embeddings.shape[0] != len(self.paths):
            raise ValueError(f"embeddings shape {self.embeddings.shape} does not match {len(self.paths)} paths")
        if self.embeddings_flip is not None and self.embeddings_flip.shape != self.embeddings.shape:
            raise ValueError(
                f"embeddings_flip shape {self.embeddings_flip.shape} differs from embeddings {self.embeddings.shape}"
            )

    def rows_for(self, stems: list[str], source: str = "embeddings") -> np.ndarray:
        """Row index of each stem; a missing one is an error naming it and the source."""
        index = {}
        for row, path in enumerate(self.paths):
            index.setdefault(path_stem(path), row)
        missing = [s for s in stems if s not in index]
        if missing:
            raise UserKeyError(f"{source}: no embedding for {len(missing)} images, first {missing[0]!r}")
        return np.array([index[s] for s in stems], dtype=np.int64)

    def save(self, path: str | os.PathLike) -> None:
        """Write whole or not at all, private (embeddings of faces are personal data)."""
        arrays = {"paths": np.array(self.paths, dtype=str), "embeddings": self.embeddings}
        if self.embeddings_flip is not None:
            arrays["embeddings_flip"] = self.embeddings_flip
        with atomic_output(path, private=True) as partial:
            np.savez(partial, **arrays)


def load_embedding_table(path: str | os.PathLike) -> EmbeddingTable:
    """Read and validate an embeddings .npz; errors name the file and the offending key."""
    path = Path(path)
    if not path.is_file():
        raise UserFileNotFoundError(f"embeddings file {path} does not exist")
    with np.load(path, allow_pickle=False) as data:
        for key in ("paths", "embeddings"):
            if key not in data:
                raise UserKeyError(f"{path}: missing key {key!r} (found {sorted(data.keys())})")
        paths = tuple(str(p) for p in data["paths"])
        embeddings = np.asarray(data["embeddings"], dtype=np.float32)
        flipped = np.asarray(data["embeddings_flip"], dtype=np.float32) if "embeddings_flip" in data else None
    try:
        return EmbeddingTable(paths, embeddings, flipped)
    except ValueError as error:
        raise UserValueError(f"{path}: {error}") from None

"""Enrolled identities: embeddings per identity, saved as one .npz, and top-k identity search.

A gallery row is one embedding of one identity: `mode='all'` keeps every enrolled photo,
`mode='mean'` one L2-normalised mean per identity. Searching ranks identities by their best row.
"""

from __future__ import annotations

import json
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from common.atomic_files import atomic_output, private_dir
from common.errors import UserFileExistsError, UserFileNotFoundError, UserValueError
from common.vectors import l2_normalize
from recognition.decision import is_match, require_finite
from recognition.index import build_index

ENROLL_MODES = ("mean", "all")
UNKNOWN = "unknown"


@dataclass
class Gallery:
    """Rows of L2-normalised `embeddings` [N, E] with `labels` [N] indexing `identities`."""

    embeddings: np.ndarray
    labels: np.ndarray
    identities: list[str]
    sources: list[str]  # photo(s) behind each row relative to the enrolled folder, '|'-joined
    meta: dict = field(default_factory=dict)  # flip mode, enroll mode, image size

    def __post_init__(self):
        self.embeddings = np.asarray(self.embeddings, dtype=np.float32)
        self.labels = np.asarray(self.labels, dtype=np.int64)
        if not (len(self.embeddings) == len(self.labels) == len(self.sources)):
            raise ValueError("gallery: embeddings, labels and sources differ in length")
        require_finite(self.embeddings, "gallery")
        if len(self.labels) and not 0 <= self.labels.min() <= self.labels.max() < len(self.identities):
            raise UserValueError("gallery: a label points outside the identity list")

    def __len__(self) -> int:
        return len(self.embeddings)

    @classmethod
    def from_enrolled(
        cls, enrolled: dict[str, list[tuple[str, np.ndarray]]], mode: str, meta: dict | None = None
    ) -> Gallery:
        """Build from {identity: [(photo, embedding), ...]}; photo-less identities are left out."""
        if mode not in ENROLL_MODES:
            raise ValueError(f"enroll mode {mode!r}: expected one of {ENROLL_MODES}")
        identities = sorted(name for name, photos in enrolled.items() if photos)
        rows, labels, sources = [], [], []
        for label, name in enumerate(identities):
            photos = [photo for photo, _ in enrolled[name]]
            vectors = l2_normalize(np.stack([vector for _, vector in enrolled[name]]))
            if mode == "mean":
                rows.append(l2_normalize(vectors.mean(axis=0, keepdims=True))[0])
                labels.append(label)
                sources.append("|".join(photos))
            else:
                rows.extend(vectors)
                labels.extend([label] * len(vectors))
                sources.extend(photos)
        if not rows:
            raise UserValueError("gallery: no identity has a usable photo")
        return cls(np.stack(rows), np.array(labels), identities, sources, dict(meta or {}, enroll_mode=mode))

    def save(self, path: str | Path, overwrite: bool = False) -> Path:
        path = Path(path)
        if path.suffix != ".npz":
            raise UserValueError(f"{path}: a gallery is saved as a .npz file")
        if path.exists() and not overwrite:
            raise UserFileExistsError(f"{path} exists: choose another --out or pass --overwrite")
        if not path.parent.exists():
            private_dir(path.parent)
        # Face embeddings are personal data: private, and whole or not at all (an --overwrite
        # keeps the old gallery until the new one is complete).
        with atomic_output(path, private=True) as temporary:
            np.savez(
                temporary,
                embeddings=self.embeddings,
                labels=self.labels,
                identities=np.array(self.identities, dtype=str),
                sources=np.array(self.sources, dtype=str),
                meta=np.array(json.dumps(self.meta)),
            )
        return path

    @classmethod
    def load(cls, path: str | Path) -> Gallery:
        path = Path(path)
        try:
            with np.load(path, allow_pickle=False) as data:
                return cls(
                    data["embeddings"],
                    data["labels"],
                    data["identities"].tolist(),
                    data["sources"].tolist(),
                    json.loads(str(data["meta"])),
                )
        except FileNotFoundError:
            raise UserFileNotFoundError(f"{path}: gallery file not found") from None
        except (KeyError, ValueError, OSError, zipfile.BadZipFile) as error:
            raise UserValueError(f"{path}: not a gallery written by identify.py enroll ({error})") from None


@dataclass(frozen=True)
class Match:
    identity: str
    score: float


class IdentitySearcher:
    """Top-k identities for query embeddings, each identity scored by its best gallery row."""

    def __init__(self, gallery: Gallery, index_kind: str = "brute", **index_options):
        self.gallery = gallery
        self.index = build_index(index_kind, gallery.embeddings, **index_options)
        # Searching this many rows always yields k distinct identities when the gallery has them.
        self.rows_per_identity = int(np.bincount(gallery.labels).max())

    def search(self, queries: np.ndarray, k: int) -> list[list[Match]]:
        k = min(k, len(self.gallery.identities))
        scores, rows = self.index.search(l2_normalize(np.asarray(queries, np.float32)), k * self.rows_per_identity)
        results = []
        for query_scores, query_rows in zip(scores, rows, strict=True):
            matches, seen = [], set()
            for score, row in zip(query_scores, query_rows, strict=True):
                if row < 0:  # faiss pads with -1 when it finds fewer neighbours than asked
                    continue
                label = int(self.gallery.labels[row])
                if label not in seen:
                    seen.add(label)
                    matches.append(Match(self.gallery.identities[label], float(score)))
                if len(matches) == k:
                    break
            results.append(matches)
        return results


def decide(matches: list[Match], threshold: float) -> str:
    """The best identity when its score matches (recognition.decision.is_match), else UNKNOWN."""
    if matches and is_match(matches[0].score, threshold):
        return matches[0].identity
    return UNKNOWN

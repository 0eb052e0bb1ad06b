"""Nearest-neighbour search over L2-normalised embeddings by cosine similarity (inner product).

`BruteForceIndex` is exact (one matrix product, chunked over queries). `HnswIndex` wraps faiss's
HNSW graph for galleries of millions, where a full matrix product per query is too slow; faiss is
imported only when it is asked for.
"""

from __future__ import annotations

import numpy as np

from common.errors import UserImportError, UserValueError
from recognition.decision import require_finite

INDEX_KINDS = ("brute", "hnsw")


def _as_matrix(vectors: np.ndarray, name: str) -> np.ndarray:
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    if vectors.ndim != 2:
        raise ValueError(f"{name}: expected a 2-D [N, E] array, got shape {vectors.shape}")
    return vectors


class BruteForceIndex:
    """Exact top-k by inner product."""

    def __init__(self, embeddings: np.ndarray, query_chunk: int = 1024):
        self.embeddings = _as_matrix(embeddings, "gallery embeddings")
        self.query_chunk = query_chunk  # bounds the [chunk, N] score matrix held in memory

    def __len__(self) -> int:
        return len(self.embeddings)

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """(scores, row ids), both [Q, min(k, N)], best first."""
        queries = _check_queries(queries, self.embeddings.shape[1])
        k = min(k, len(self))
        all_scores, all_ids = [], []
        for start in range(0, len(queries), self.query_chunk):
            scores = queries[start : start + self.query_chunk] @ self.embeddings.T
            ids = np.argpartition(-scores, k - 1, axis=1)[:, :k]
            top = np.take_along_axis(scores, ids, axis=1)
            order = np.argsort(-top, axis=1, kind="stable")
            all_ids.append(np.take_along_axis(ids, order, axis=1))
            all_scores.append(np.take_along_axis(top, order, axis=1))
        return np.concatenate(all_scores), np.concatenate(all_ids)


class HnswIndex:
    """Approximate top-k by inner product with a faiss HNSW graph."""

    def __init__(self, embeddings: np.ndarray, neighbours: int = 32, ef_search: int = 128):
        faiss = _import_faiss()
        embeddings = _as_matrix(embeddings, "gallery embeddings")
        self.dim = embeddings.shape[1]
        self.index = faiss.IndexHNSWFlat(self.dim, neighbours, faiss.METRIC_INNER_PRODUCT)
        self.index.hnsw.efSearch = ef_search  # larger: better recall, slower queries
        self.index.add(embeddings)

    def __len__(self) -> int:
        return self.index.ntotal

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        queries = _check_queries(queries, self.dim)
        scores, ids = self.index.search(queries, min(k, len(self)))
        return scores, ids


def build_index(kind: str, embeddings: np.ndarray, **options):
    """An index of `kind` ('brute' or 'hnsw') over `embeddings`."""
    if kind == "brute":
        return BruteForceIndex(embeddings, **options)
    if kind == "hnsw":
        return HnswIndex(embeddings, **options)
    raise ValueError(f"index kind {kind!r}: expected one of {INDEX_KINDS}")


def _check_queries(queries: np.ndarray, dim: int) -> np.ndarray:
    queries = require_finite(_as_matrix(queries, "queries"), "query")
    if queries.shape[1] != dim:
        raise UserValueError(
            f"queries have {queries.shape[1]} dimensions, the gallery {dim} (different model or flip mode?)"
        )
    return queries


def _import_faiss():
    try:
        import faiss
    except ImportError as error:
        raise UserImportError(
            "the 'hnsw' index needs faiss: pip install faiss-cpu (pinned in requirements.txt), or use --index brute"
        ) from error
    return faiss

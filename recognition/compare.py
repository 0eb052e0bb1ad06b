"""1:1 decision between two processed photos."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from recognition.decision import is_match
from recognition.photos import PhotoResult


@dataclass(frozen=True)
class Verdict:
    """`same` is None when the comparison was refused; `reason` then says why."""

    similarity: float | None
    threshold: float
    same: bool | None
    reason: str | None = None
    faces: tuple[int, int] | None = None  # which face of each photo gave the similarity

    def as_dict(self) -> dict:
        return dict(
            similarity=self.similarity,
            threshold=self.threshold,
            same=self.same,
            refused=self.same is None,
            reason=self.reason,
            faces=self.faces,
        )


def verify_photos(first: PhotoResult, second: PhotoResult, threshold: float) -> Verdict:
    """Cosine similarity of the best-matching usable faces; same person by
    recognition.decision.is_match (>= threshold, NaN never)."""
    problems = [p for p in (first.problem(), second.problem()) if p]
    if problems:
        return Verdict(None, threshold, None, reason="; ".join(problems))
    faces_a = [i for i, f in enumerate(first.faces) if f.feature is not None]
    faces_b = [i for i, f in enumerate(second.faces) if f.feature is not None]
    similarities = (
        np.stack([first.faces[i].feature for i in faces_a]) @ np.stack([second.faces[j].feature for j in faces_b]).T
    )
    best_a, best_b = np.unravel_index(int(np.argmax(similarities)), similarities.shape)
    similarity = float(similarities[best_a, best_b])
    return Verdict(similarity, threshold, is_match(similarity, threshold), faces=(faces_a[best_a], faces_b[best_b]))

"""Raw photo -> aligned face crops -> embeddings, with the quality gate and per-file errors.

The same steps as the evaluation pipeline (align/ detection and 5-point warp, the model's own
pixel normalisation, flip combination), so a verify.py score matches an eval_lfw.py score.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

# The evaluation's own flip combination and normalisation, so scores match eval_lfw.py's exactly.
from common.vectors import l2_normalize
from recognition.decision import require_finite
from recognition.quality import QualityGate, QualityReport
from verification.protocol import FLIP_MODES, combine_flip

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff", ".gif")


def list_images(inputs: Iterable[str | Path]) -> list[Path]:
    """Files as given (any suffix, so a bad file is reported, not skipped); folders expanded to
    their image files, recursively and sorted."""
    photos = []
    for item in map(Path, inputs):
        if item.is_dir():
            photos.extend(sorted(p for p in item.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES))
        else:
            photos.append(item)
    return photos


@dataclass
class FaceResult:
    """One detected face: its detection, quality report and feature (None when gated out)."""

    face: object
    quality: QualityReport
    feature: np.ndarray | None

    @property
    def status(self) -> str:
        if self.feature is None:
            return "rejected"
        return "ok" if self.quality.passed else "flagged"


@dataclass
class PhotoResult:
    """Faces found in one photo, or why none was found: `error` (one line naming the file) and
    `error_kind` ('unreadable', 'no_face' or 'detection_failed')."""

    path: Path
    faces: list[FaceResult] = field(default_factory=list)
    error: str | None = None
    error_kind: str | None = None

    @property
    def usable(self) -> list[FaceResult]:
        return [face for face in self.faces if face.feature is not None]

    def problem(self) -> str | None:
        """A one-line reason this photo yields no feature, or None."""
        if self.error:
            return self.error
        if not self.usable:
            reasons = "; ".join(r for f in self.faces for r in f.quality.reasons)
            return f"{self.path}: face rejected by the quality gate ({reasons})"
        return None


class PhotoEmbedder:
    """Detects, aligns, gates and embeds the faces of raw photos.

    `embedder` follows models.load_embedder: `.image_size` (H, W) and a call on float32 pixels
    0..255 [B, H, W, 3] returning [B, E]. `detector.detect(rgb)` returns align.detector.Face
    objects. With `all_faces` every face is kept; otherwise the one align/ would choose.
    """

    def __init__(
        self,
        embedder,
        detector,
        gate: QualityGate = QualityGate(),
        flip: str = "concat",
        all_faces: bool = False,
        max_pixels: int | None = None,
    ):
        if flip not in FLIP_MODES:
            raise ValueError(f"flip mode {flip!r}: expected one of {FLIP_MODES}")
        self.embedder = embedder
        self.detector = detector
        self.gate = gate
        self.flip = flip
        self.all_faces = all_faces
        self.max_pixels = max_pixels  # None: align.image_io's default budget
        self.image_size = tuple(int(v) for v in embedder.image_size)

    def process(self, path: str | Path) -> PhotoResult:
        from align.face_choice import choose_face
        from align.image_io import MAX_PIXELS, ImageReadError, load_rgb
        from align.warp import align_crop

        path = Path(path)
        try:
            image = load_rgb(path, self.max_pixels or MAX_PIXELS)
        except ImageReadError as error:
            return PhotoResult(path, error=f"{path}: unreadable ({error.reason})", error_kind="unreadable")
        try:
            faces = self.detector.detect(image)
        except Exception as error:  # one odd photo must not end a batch run
            return PhotoResult(
                path,
                error=f"{path}: detection failed ({type(error).__name__}: {' '.join(str(error).split())})",
                error_kind="detection_failed",
            )
        if not faces:
            return PhotoResult(path, error=f"{path}: no face detected", error_kind="no_face")
        if not self.all_faces:
            faces = [choose_face(faces, image.shape)]
        crops = np.stack([align_crop(image, face.landmarks, image_size=self.image_size) for face in faces])
        reports = [self.gate.assess(face, crop) for face, crop in zip(faces, crops, strict=True)]
        keep = [i for i, report in enumerate(reports) if not self.gate.rejects(report)]
        features = self.embed_crops(crops[keep]) if keep else []
        by_face = dict(zip(keep, features, strict=True))
        return PhotoResult(
            path,
            [
                FaceResult(face, report, by_face.get(i))
                for i, (face, report) in enumerate(zip(faces, reports, strict=True))
            ],
        )

    def embed_crops(self, crops: np.ndarray) -> np.ndarray:
        """Features [B, F] of aligned uint8 crops [B, H, W, 3], flip-combined and L2-normalised."""
        pixels = np.asarray(crops, dtype=np.float32)
        if self.flip == "none":
            raw = np.asarray(self.embedder(pixels), dtype=np.float32)
            return l2_normalize(require_finite(raw, f"model {self._model_name}"))
        # One call for the crops and their mirror images (axis 2 is the image width).
        both = np.asarray(self.embedder(np.concatenate([pixels, pixels[:, :, ::-1]])), np.float32)
        require_finite(both, f"model {self._model_name}")
        return l2_normalize(combine_flip(both[: len(pixels)], both[len(pixels) :], self.flip))

    @property
    def _model_name(self) -> str:
        return str(getattr(self.embedder, "path", type(self.embedder).__name__))

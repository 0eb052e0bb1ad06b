"""Quality gate for detected faces: confidence, size, pose from landmarks and blur.

Every measure is computed for every face, so a report explains all the reasons a face fails,
not just the first one. Whether a failing face is dropped or only flagged is the gate's `action`.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

import cv2
import numpy as np

QUALITY_ACTIONS = ("reject", "flag")

# Landmark rows in the align/ order.
LEFT_EYE, RIGHT_EYE, NOSE = 0, 1, 2


@dataclass(frozen=True)
class QualityThresholds:
    """Limits a usable face must satisfy; None disables a check."""

    min_confidence: float | None = 0.9
    min_eye_distance: float | None = 10.0  # pixels in the original photo
    min_box_size: float | None = 24.0  # pixels, shorter side of the detector box
    max_yaw: float | None = 45.0  # degrees, estimated from the landmarks
    max_roll: float | None = 45.0  # degrees, angle of the eye line
    min_sharpness: float | None = 20.0  # variance of the Laplacian of the aligned crop


@dataclass(frozen=True)
class QualityReport:
    """Measured values of one face and the reasons it fails the thresholds (empty: passes)."""

    confidence: float
    eye_distance: float
    box_size: float
    yaw: float
    roll: float
    sharpness: float
    reasons: tuple[str, ...] = field(default=())

    @property
    def passed(self) -> bool:
        return not self.reasons

    def as_dict(self) -> dict:
        values = asdict(self)
        values["reasons"] = list(self.reasons)
        return values


def eye_distance(landmarks: np.ndarray) -> float:
    """Distance in pixels between the two eye landmarks."""
    landmarks = np.asarray(landmarks, dtype=np.float64)
    return float(np.linalg.norm(landmarks[RIGHT_EYE] - landmarks[LEFT_EYE]))


def roll_degrees(landmarks: np.ndarray) -> float:
    """In-plane rotation: angle of the left-eye -> right-eye line against the image x axis.

    Positive when the right-eye landmark is lower in the image (y grows downwards).
    """
    landmarks = np.asarray(landmarks, dtype=np.float64)
    dx, dy = landmarks[RIGHT_EYE] - landmarks[LEFT_EYE]
    return math.degrees(math.atan2(dy, dx))


def yaw_degrees(landmarks: np.ndarray) -> float:
    """Left-right head turn estimated from where the nose tip sits between the eyes.

    With the eyes at +-a from the head axis and the nose tip a depth h in front of them, a turn by
    `yaw` puts the nose at h sin(yaw) and the eyes at +-a cos(yaw) along the eye line, so
    offset / (eye distance / 2) = (h / a) tan(yaw). Taking h ~ a (a nose protruding about half the
    inter-ocular distance) gives yaw = atan(offset / half eye distance). Measured along the eye
    line, so it does not depend on roll; positive when the nose is towards the right-eye landmark.
    """
    landmarks = np.asarray(landmarks, dtype=np.float64)
    eye_vector = landmarks[RIGHT_EYE] - landmarks[LEFT_EYE]
    half_distance = np.linalg.norm(eye_vector) / 2.0
    if half_distance == 0.0:
        return 90.0  # degenerate landmarks: treat as a full profile so the gate catches it
    midpoint = (landmarks[LEFT_EYE] + landmarks[RIGHT_EYE]) / 2.0
    offset = float(np.dot(landmarks[NOSE] - midpoint, eye_vector / (2.0 * half_distance)))
    return math.degrees(math.atan(offset / half_distance))


def sharpness(crop_rgb: np.ndarray) -> float:
    """Variance of the 4-neighbour Laplacian of the grey crop: low values mean a blurred face."""
    crop = np.asarray(crop_rgb)
    if crop.ndim == 3:
        crop = cv2.cvtColor(crop.astype(np.uint8), cv2.COLOR_RGB2GRAY)
    return float(cv2.Laplacian(crop.astype(np.float64), cv2.CV_64F).var())


@dataclass(frozen=True)
class QualityGate:
    """Measures faces against `thresholds`; `action`: drop failing faces or only flag them."""

    thresholds: QualityThresholds = QualityThresholds()
    action: str = "reject"

    def __post_init__(self):
        if self.action not in QUALITY_ACTIONS:
            raise ValueError(f"quality action {self.action!r}: expected one of {QUALITY_ACTIONS}")

    def assess(self, face, aligned_crop: np.ndarray) -> QualityReport:
        """Report for a detected `face` (box, confidence, landmarks) and its aligned crop."""
        landmarks = np.asarray(face.landmarks, dtype=np.float64)
        box_w, box_h = float(face.box[2]), float(face.box[3])
        measured = dict(
            confidence=float(face.confidence),
            eye_distance=eye_distance(landmarks),
            box_size=min(box_w, box_h),
            yaw=yaw_degrees(landmarks),
            roll=roll_degrees(landmarks),
            sharpness=sharpness(aligned_crop),
        )
        return QualityReport(**measured, reasons=self._reasons(measured))

    def rejects(self, report: QualityReport) -> bool:
        return self.action == "reject" and not report.passed

    def _reasons(self, m: dict) -> tuple[str, ...]:
        t = self.thresholds
        checks = [
            (
                t.min_confidence,
                m["confidence"] < (t.min_confidence or 0),
                f"detector confidence {m['confidence']:.3f} < {t.min_confidence}",
            ),
            (
                t.min_eye_distance,
                m["eye_distance"] < (t.min_eye_distance or 0),
                f"eye distance {m['eye_distance']:.1f}px < {t.min_eye_distance}px",
            ),
            (
                t.min_box_size,
                m["box_size"] < (t.min_box_size or 0),
                f"face box {m['box_size']:.1f}px < {t.min_box_size}px",
            ),
            (t.max_yaw, abs(m["yaw"]) > (t.max_yaw or 0), f"yaw {m['yaw']:.1f} deg beyond +-{t.max_yaw}"),
            (t.max_roll, abs(m["roll"]) > (t.max_roll or 0), f"roll {m['roll']:.1f} deg beyond +-{t.max_roll}"),
            (
                t.min_sharpness,
                m["sharpness"] < (t.min_sharpness or 0),
                f"blur: Laplacian variance {m['sharpness']:.1f} < {t.min_sharpness}",
            ),
        ]
        return tuple(message for limit, fails, message in checks if limit is not None and fails)

"""Human-readable and JSON descriptions of processed photos."""

from __future__ import annotations

from recognition.photos import FaceResult, PhotoResult


def describe_face(face: FaceResult) -> dict:
    return dict(
        box=[round(float(v), 1) for v in face.face.box],
        status=face.status,
        quality={k: (round(v, 3) if isinstance(v, float) else v) for k, v in face.quality.as_dict().items()},
    )


def describe_photo(result: PhotoResult) -> dict:
    return dict(path=str(result.path), error=result.error, faces=[describe_face(face) for face in result.faces])


def photo_lines(result: PhotoResult) -> list[str]:
    """One line per face (or one for the error): box, status, quality values and reasons."""
    if result.error:
        return [result.error]  # already names the file
    lines = []
    for number, face in enumerate(result.faces):
        q = face.quality
        x, y, w, h = (float(v) for v in face.face.box)
        line = (
            f"{result.path} face {number} at ({x:.0f},{y:.0f},{w:.0f}x{h:.0f}): {face.status}; "
            f"confidence {q.confidence:.3f}, eyes {q.eye_distance:.0f}px, yaw {q.yaw:.0f}, "
            f"roll {q.roll:.0f}, sharpness {q.sharpness:.0f}"
        )
        if q.reasons:
            line += " [" + "; ".join(q.reasons) + "]"
        lines.append(line)
    return lines

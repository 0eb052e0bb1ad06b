"""Small benchmark files for tests: insightface-style .bin files and pair lists."""

from __future__ import annotations

import io
import pickle
from pathlib import Path

import numpy as np
from PIL import Image


def write_bin(path: Path, encoded: list[bytes], issame: list[bool]) -> Path:
    """A .bin as insightface writes one: pickle.dump((bins, issame_list), f)."""
    with open(path, "wb") as handle:
        pickle.dump((encoded, issame), handle, protocol=pickle.HIGHEST_PROTOCOL)
    return path


def jpeg_bytes(pixels: np.ndarray, quality: int = 100) -> bytes:
    """JPEG bytes without chroma subsampling: re-encoding an 8-px-shifted JPEG crop keeps its 8x8
    block grid, so the centre columns come back within a grey level or two."""
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="JPEG", quality=quality, subsampling=0)
    return buffer.getvalue()


def padded_to_112x112(crop: np.ndarray) -> np.ndarray:
    """A 112x96 crop in insightface's 112x112 frame: its template is ours shifted 8 px right
    (align/templates.py), so the crop sits in columns 8..103; the 8 columns each side, outside
    our crop, are filled with edge pixels."""
    return np.pad(crop, ((0, 0), (8, 8), (0, 0)), mode="edge")

"""Enrolment: identity folders of raw photos -> a Gallery."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from common.errors import UserNotADirectoryError, UserValueError
from recognition.gallery import Gallery
from recognition.photos import PhotoEmbedder, list_images


def identity_folders(gallery_dir: str | Path) -> dict[str, list[Path]]:
    """{folder name: its image files} for every sub-folder of `gallery_dir`."""
    gallery_dir = Path(gallery_dir)
    if not gallery_dir.is_dir():
        raise UserNotADirectoryError(f"{gallery_dir}: not a folder of identity folders")
    folders = {child.name: list_images([child]) for child in sorted(gallery_dir.iterdir()) if child.is_dir()}
    if not folders:
        raise UserValueError(f"{gallery_dir}: no identity sub-folders (expected DIR/<person>/*.jpg)")
    return folders


def enroll(
    photos_by_identity: dict[str, list[Path]],
    embedder: PhotoEmbedder,
    mode: str,
    max_photos: int | None = None,
    meta: dict | None = None,
    log: Callable[[str], None] = print,
    source_root: str | Path | None = None,
    keep_sources: bool = True,
) -> Gallery:
    """Embed each identity's photos in order, keeping at most `max_photos` usable ones.

    A photo without a usable face is reported through `log` and skipped; with several usable
    faces (--all-faces) it is skipped too, since it is unclear which one is the person. The
    gallery names each photo relative to `source_root` (no absolute, personal paths), or names
    none with `keep_sources=False`.
    """
    enrolled: dict[str, list[tuple[str, np.ndarray]]] = {}
    for identity, photos in photos_by_identity.items():
        enrolled[identity] = []
        for photo in photos:
            if max_photos is not None and len(enrolled[identity]) >= max_photos:
                break
            result = embedder.process(photo)
            problem = result.problem()
            if problem is None and len(result.usable) > 1:
                problem = f"{photo}: {len(result.usable)} usable faces, cannot tell which is {identity}"
            if problem:
                log(f"skipped: {problem}")
                continue
            source = _source_name(photo, source_root) if keep_sources else ""
            enrolled[identity].append((source, result.usable[0].feature))
        if not enrolled[identity]:
            log(f"skipped identity {identity}: no usable photo")
    meta = dict(meta or {}, flip=embedder.flip, image_size=list(embedder.image_size))
    return Gallery.from_enrolled(enrolled, mode, meta)


def _source_name(photo: Path, root: str | Path | None) -> str:
    """`photo` relative to `root` (as given when it lies outside it, or without a root)."""
    if root is None:
        return str(photo)
    try:
        return str(Path(photo).resolve().relative_to(Path(root).resolve()))
    except ValueError:
        return str(photo)

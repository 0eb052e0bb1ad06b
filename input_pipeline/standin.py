"""A stand-in for aligned identity folders: centre crops of raw photos, resized to H x W.

For tests and benchmarks where the MTCNN-aligned cache (`cache/aligned/...`) is absent. It is not
an alignment (no landmarks); it only gives real face pixels in the aligned-folder layout.
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image

from common.errors import UserValueError


def centre_crop_folders(
    source: str | Path,
    target: str | Path,
    image_size=(112, 96),
    identities: int = 5,
    images_per_identity: int = 8,
    min_images: int = 1,
    crop_fraction: float = 0.6,
) -> Path:
    """Copy the first `identities` folders of `source` having >= `min_images` images as crops.

    The crop keeps the central `crop_fraction` of the shorter side with the template's aspect.
    """
    source, target = Path(source), Path(target)
    height, width = image_size
    chosen = 0
    for folder in sorted(p for p in source.iterdir() if p.is_dir()):
        files = sorted(folder.glob("*.jpg"))
        if len(files) < min_images:
            continue
        (target / folder.name).mkdir(parents=True, exist_ok=True)
        for file in files[:images_per_identity]:
            image = Image.open(file).convert("RGB")
            crop_h = crop_fraction * min(image.size)
            crop_w = crop_h * width / height
            cx, cy = image.size[0] / 2, image.size[1] / 2
            box = (cx - crop_w / 2, cy - crop_h / 2, cx + crop_w / 2, cy + crop_h / 2)
            image.crop(tuple(int(round(v)) for v in box)).resize((width, height), Image.BILINEAR).save(
                target / folder.name / file.name.replace(".jpg", ".png")
            )
        chosen += 1
        if chosen == identities:
            break
    if chosen < identities:
        raise UserValueError(f"{source}: only {chosen} identities with >= {min_images} images")
    return target

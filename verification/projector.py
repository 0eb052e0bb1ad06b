"""TensorBoard embedding projector of evaluated faces: vectors, per-point labels, a face sprite.

`write_projector(folder, features, paths, image_dir)` writes into `folder`:
`projector_config.pbtxt`, `embeddings.tsv` (one L2-normalised feature per row, the geometry the
cosine protocol compares), `metadata.tsv` (person and image of each row, same order) and
`sprite.png` (the aligned crops as thumbnails, row-major in the same order). TensorBoard reads
such a folder as a run's plugin assets (`run_assets_dir(<run log dir>)`) or, on its own, as the
root of `tensorboard --logdir FOLDER`; every path in the config is relative to it.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from common.atomic_files import atomic_output, atomic_write_text, private_dir

CONFIG_FILE = "projector_config.pbtxt"  # the name tensorboard.plugins.projector looks for
TENSOR_FILE = "embeddings.tsv"
METADATA_FILE = "metadata.tsv"
SPRITE_FILE = "sprite.png"
TENSOR_NAME = "lfw_faces"
MAX_SPRITE_SIDE = 8192  # TensorBoard's projector ignores larger sprite images
DEFAULT_MIN_IMAGES = 5  # LFW View 2: 260 people, 1,715 images
DEFAULT_MAX_POINTS = 3000


def run_assets_dir(log_dir: str | Path) -> Path:
    """Where the projector of a TensorBoard run (a folder with event files) looks for its config:
    `<log_dir>/plugins/org_tensorflow_tensorboard_projector/`."""
    from tensorboard.plugins.projector import metadata

    return Path(log_dir) / metadata.PLUGINS_DIR / metadata.PLUGIN_ASSETS_NAME


def person_of(path: str) -> str:
    """`Person/Person_0001.jpg` -> `Person` (LFW's one folder per identity)."""
    return path.replace("\\", "/").split("/")[0]


def select_rows(
    paths: Sequence[str], min_images: int = DEFAULT_MIN_IMAGES, max_points: int | None = DEFAULT_MAX_POINTS
) -> np.ndarray:
    """Rows of every image of the people with at least `min_images` images, whole people only,
    most-photographed first until `max_points` (None: no cap); returned grouped by person (sorted
    by name), each person's images in path order."""
    counts = Counter(person_of(p) for p in paths)
    people = sorted((name for name, n in counts.items() if n >= min_images), key=lambda name: (-counts[name], name))
    kept, total = set(), 0
    for name in people:
        if max_points is not None and total + counts[name] > max_points:
            break
        kept.add(name)
        total += counts[name]
    rows = [i for i, p in enumerate(paths) if person_of(p) in kept]
    return np.array(sorted(rows, key=lambda i: (person_of(paths[i]), paths[i])), dtype=np.int64)


def thumbnail_size(count: int, image_size: tuple[int, int]) -> tuple[int, int]:
    """(H, W) of one sprite cell: half the crop, smaller still when the square grid of `count`
    cells would pass MAX_SPRITE_SIDE."""
    cells = max(1, math.ceil(math.sqrt(count)))
    scale = min(0.5, MAX_SPRITE_SIDE / (cells * max(image_size)))
    return max(1, int(image_size[0] * scale)), max(1, int(image_size[1] * scale))


def make_sprite(image_files: Sequence[Path], thumb: tuple[int, int]) -> np.ndarray:
    """uint8 [G*H, G*W, 3], G = ceil(sqrt(N)): image i at grid row i // G, column i % G; the
    cells after the last image stay black."""
    from PIL import Image

    grid = max(1, math.ceil(math.sqrt(len(image_files))))
    height, width = thumb
    sprite = np.zeros((grid * height, grid * width, 3), np.uint8)
    for i, path in enumerate(image_files):
        with Image.open(path) as image:
            cell = np.asarray(image.convert("RGB").resize((width, height), Image.BILINEAR))
        row, col = divmod(i, grid)
        sprite[row * height : (row + 1) * height, col * width : (col + 1) * width] = cell
    return sprite


def write_projector(folder: str | Path, features: np.ndarray, paths: Sequence[str], image_dir: str | Path) -> Path:
    """Write the projector files of `features` [N, F] (row i is the image `paths[i]`, relative to
    `image_dir`) into `folder`; return the config path."""
    from PIL import Image
    from tensorboard.plugins.projector import ProjectorConfig

    features = np.asarray(features, np.float32)
    if features.ndim != 2 or len(features) != len(paths) or not len(paths):
        raise ValueError(f"projector: {len(paths)} paths for features of shape {features.shape}")
    # Face crops, names and embeddings: personal data, readable by the owner alone.
    folder = private_dir(folder)
    unit = features / np.maximum(np.linalg.norm(features, axis=1, keepdims=True), 1e-12)
    with atomic_output(folder / TENSOR_FILE, private=True) as temporary:
        np.savetxt(temporary, unit, fmt="%.6f", delimiter="\t")
    lines = ["person\timage"] + [f"{person_of(p)}\t{Path(p).stem}" for p in paths]
    atomic_write_text(folder / METADATA_FILE, "\n".join(lines) + "\n", private=True)

    files = [Path(image_dir) / p for p in paths]
    with Image.open(files[0]) as first:
        image_size = (first.height, first.width)
    thumb = thumbnail_size(len(files), image_size)
    with atomic_output(folder / SPRITE_FILE, private=True) as temporary:
        Image.fromarray(make_sprite(files, thumb)).save(temporary, format="PNG")

    config = ProjectorConfig()
    embedding = config.embeddings.add()
    embedding.tensor_name = TENSOR_NAME
    embedding.tensor_path = TENSOR_FILE
    embedding.tensor_shape.extend(unit.shape)
    embedding.metadata_path = METADATA_FILE
    embedding.sprite.image_path = SPRITE_FILE
    embedding.sprite.single_image_dim.extend([thumb[1], thumb[0]])  # width, height
    config_path = folder / CONFIG_FILE
    atomic_write_text(config_path, str(config), private=True)
    return config_path

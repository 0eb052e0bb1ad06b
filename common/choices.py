"""Every choice list and default that a package and the config check share, in one place.

training/config.py validates a config without TensorFlow (experiments read configs TF-free), but
the packages that own these choices import TensorFlow as soon as they are imported (`models`,
`input_pipeline.memory_cache`, `verification.lfw`, `training.strategy`). So the lists live here,
TF-free, and the owner and the config check both import them: adding a choice is one edit.
"""

from __future__ import annotations

from common.errors import UserValueError

# Crops: the SphereFace template (default) and the ArcFace one, always written HxW on command lines.
IMAGE_SIZES = ((112, 96), (112, 112))
DEFAULT_IMAGE_SIZE = (112, 96)

# Batch norm (models/layers.py): switch = batch statistics in train mode, moving averages in test
# mode; always_train = batch statistics in both (facenet); none = no BN (the Caffe networks).
BN_MODES = ("switch", "always_train", "none")
BN_DECAY = 0.995  # the article author's TF code (moving-average momentum); not in the article
BN_EPSILON = 1e-3

# Test-time flip of verification/protocol.py: features of the image only, or with its mirror
# image's concatenated or summed.
FLIP_MODES = ("none", "concat", "sum")

# Input routes (input_pipeline/): where the training images are read from, and whether the
# decoded images are kept in RAM (auto = when they take at most a quarter of it).
DATA_FORMATS = ("folders", "tfrecord")
CACHE_MODES = ("auto", "memory", "none")

# Compute precision of training (training/strategy.py); weights stay float32.
PRECISIONS = ("float32", "bfloat16", "float16")


def parse_image_size(text: str) -> tuple[int, int]:
    """'112x96' -> (112, 96): height x width; a size without a template is refused."""
    try:
        height, width = (int(part) for part in str(text).lower().strip().split("x"))
    except ValueError:
        raise UserValueError(f"image size {text!r} is not of the form HxW (e.g. 112x96)") from None
    if (height, width) not in IMAGE_SIZES:
        raise UserValueError(
            f"image size {text!r} not supported; use one of "
            + ", ".join(format_image_size(size) for size in IMAGE_SIZES)
        )
    return height, width


def format_image_size(image_size) -> str:
    """(112, 96) -> '112x96'."""
    return f"{image_size[0]}x{image_size[1]}"

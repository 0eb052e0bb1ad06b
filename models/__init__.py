"""Face-embedding backbones, their batch-norm modes, and export/load of the embedding model.

Every model takes float32 RGB pixels [B, H, W, 3] in 0..255, normalises (x - 127.5) / 128 itself,
and returns un-normalised embeddings; `model(images, training=flag)` accepts a Python bool or a
scalar tf.bool tensor (one traced graph for both modes).
"""

from common.tf_startup import import_tensorflow

# `python -m models` runs this file before models/__main__.py: TensorFlow is imported here, the
# way every entry point imports it (without the CPU-only start-up notices); a no-op once imported.
import_tensorflow()

from models.export import Embedder, export_embedder  # noqa: E402
from models.layers import BN_MODES, BatchNormConfig, FlagBatchNormalization, FlagDropout  # noqa: E402
from models.loader import load_embedder  # noqa: E402
from models.registry import available, build, parse_image_size  # noqa: E402

__all__ = [
    "BN_MODES",
    "BatchNormConfig",
    "Embedder",
    "FlagBatchNormalization",
    "FlagDropout",
    "available",
    "build",
    "export_embedder",
    "load_embedder",
    "parse_image_size",
]

"""Face-embedding backbones, their batch-norm modes, and export/load of the embedding model.

Every model takes float32 RGB pixels [B, H, W, 3] in 0..255, normalises (x - 127.5) / 128 itself,
and returns un-normalised embeddings; `model(images, training=flag)` accepts a Python bool or a
scalar tf.bool tensor (one traced graph for both modes).
"""
from models.export import Embedder, export_embedder, load_embedder
from models.layers import BN_MODES, BatchNormConfig, FlagBatchNormalization, FlagDropout
from models.registry import available, build, parse_image_size

__all__ = ["BN_MODES", "BatchNormConfig", "Embedder", "FlagBatchNormalization", "FlagDropout",
           "available", "build", "export_embedder", "load_embedder", "parse_image_size"]

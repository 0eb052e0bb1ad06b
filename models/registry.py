"""`models.build(name, ...)`: every backbone by name, with the options checked up front."""
from __future__ import annotations

import functools

import keras

from models.inception_resnet_v1 import inception_resnet_v1
from models.layers import BN_MODES, BatchNormConfig
from models.mobilefacenet import mobilefacenet
from models.resface import resface

BACKBONES = {
    "resface20": functools.partial(resface, 20),
    "resface36": functools.partial(resface, 36),
    "inception_resnet_v1": inception_resnet_v1,
    "mobilefacenet": mobilefacenet,
}
IMAGE_SIZES = ((112, 96), (112, 112))
# Options every backbone accepts through **extra (the BN settings of the article's TF version).
EXTRA_OPTIONS = {"bn_decay": 0.995, "bn_epsilon": 1e-3}


def available() -> list[str]:
    """Names accepted by `build`."""
    return sorted(BACKBONES)


def build(name: str, image_size=(112, 96), embedding_size: int = 512, bn_mode: str = "switch",
          width: float = 1.0, dropout_keep: float = 0.8, **extra) -> keras.Model:
    """Build backbone `name`: float32 RGB pixels [B, H, W, 3] in 0..255 -> un-normalised embeddings.

    image_size: (112, 96) or (112, 112), or "112x96". bn_mode: switch | always_train | none.
    width scales every channel count (1.0 = the paper's network). dropout_keep: keep probability
    of the dropout before the embedding FC, train mode only (1.0 = no dropout).
    extra: bn_decay, bn_epsilon.
    """
    if name not in BACKBONES:
        raise ValueError(f"unknown model {name!r}; valid: {', '.join(available())}")
    unknown = sorted(set(extra) - set(EXTRA_OPTIONS))
    if unknown:
        raise ValueError(f"unknown option(s) {', '.join(unknown)} for model {name!r}; valid extra "
                         f"options: {', '.join(EXTRA_OPTIONS)}")
    if isinstance(image_size, str):
        image_size = parse_image_size(image_size)
    image_size = tuple(int(v) for v in image_size)
    if image_size not in IMAGE_SIZES:
        valid = ", ".join(f"{h}x{w}" for h, w in IMAGE_SIZES)
        raise ValueError(f"image_size must be one of {valid}, got {image_size}")
    if bn_mode not in BN_MODES:
        raise ValueError(f"unknown bn_mode {bn_mode!r}; valid: {', '.join(BN_MODES)}")
    if not width > 0:
        raise ValueError(f"width must be > 0, got {width}")
    if int(embedding_size) != embedding_size or embedding_size < 1:
        raise ValueError(f"embedding_size must be a positive integer, got {embedding_size}")
    if not 0.0 < dropout_keep <= 1.0:
        raise ValueError(f"dropout_keep must be in (0, 1], got {dropout_keep}")
    options = {**EXTRA_OPTIONS, **extra}
    bn = BatchNormConfig(bn_mode, decay=options["bn_decay"], epsilon=options["bn_epsilon"])
    return BACKBONES[name](image_size=image_size, embedding_size=int(embedding_size), bn=bn,
                           width=float(width), dropout_keep=float(dropout_keep))


def parse_image_size(text: str) -> tuple[int, int]:
    """'112x96' -> (112, 96): image sizes are always written HxW on command lines."""
    try:
        height, width = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise ValueError(f"image size must be written HxW (e.g. 112x96), got {text!r}") from None
    return height, width

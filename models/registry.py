"""`models.build(name, ...)`: every backbone by name, with the options checked up front."""

from __future__ import annotations

import functools
import inspect

import keras

from common.choices import BN_DECAY, BN_EPSILON, BN_MODES, DEFAULT_IMAGE_SIZE, IMAGE_SIZES, parse_image_size
from common.errors import UserValueError
from models.inception_resnet_v1 import inception_resnet_v1
from models.layers import BatchNormConfig
from models.mobilefacenet import mobilefacenet
from models.resface import resface

BACKBONES = {
    "resface20": functools.partial(resface, 20),
    "resface36": functools.partial(resface, 36),
    "inception_resnet_v1": inception_resnet_v1,
    "mobilefacenet": mobilefacenet,
}
# Options every backbone accepts (the BN settings of the author's TensorFlow code): they make its
# BatchNormConfig. Any other keyword argument of a backbone's function is an option of that one.
EXTRA_OPTIONS = {"bn_decay": BN_DECAY, "bn_epsilon": BN_EPSILON}
# The arguments `build` passes to every backbone itself (not options).
COMMON_ARGUMENTS = ("image_size", "embedding_size", "bn", "width", "dropout_keep")


def available() -> list[str]:
    """Names accepted by `build`."""
    return sorted(BACKBONES)


def options(name: str) -> dict:
    """{option: default} of backbone `name` (config key `model.options`): the BN settings and the
    keyword arguments of its function beyond the common ones, read from its signature."""
    parameters = inspect.signature(_backbone(name)).parameters.values()
    own = {
        p.name: p.default
        for p in parameters
        if p.name not in COMMON_ARGUMENTS
        and p.kind in (inspect.Parameter.KEYWORD_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    }
    return {**EXTRA_OPTIONS, **own}


def check_options(
    name: str,
    image_size=DEFAULT_IMAGE_SIZE,
    embedding_size: int = 512,
    bn_mode: str = "switch",
    width: float = 1.0,
    dropout_keep: float = 0.8,
    **extra,
) -> dict:
    """The arguments of `build`, checked and normalised, without building anything (cheap: the
    training run calls it before it writes its run dir). A bad one is a ValueError naming it."""
    defaults = options(name)
    unknown = sorted(set(extra) - set(defaults))
    if unknown:
        raise UserValueError(
            f"unknown option(s) {', '.join(unknown)} for model {name!r}; valid extra options: {', '.join(defaults)}"
        )
    if isinstance(image_size, str):
        image_size = parse_image_size(image_size)
    image_size = tuple(int(v) for v in image_size)
    if image_size not in IMAGE_SIZES:
        valid = ", ".join(f"{h}x{w}" for h, w in IMAGE_SIZES)
        raise UserValueError(f"image_size must be one of {valid}, got {image_size}")
    if bn_mode not in BN_MODES:
        raise UserValueError(f"unknown bn_mode {bn_mode!r}; valid: {', '.join(BN_MODES)}")
    if not width > 0:
        raise UserValueError(f"width must be > 0, got {width}")
    if int(embedding_size) != embedding_size or embedding_size < 1:
        raise UserValueError(f"embedding_size must be a positive integer, got {embedding_size}")
    if not 0.0 < dropout_keep <= 1.0:
        raise UserValueError(f"dropout_keep must be in (0, 1], got {dropout_keep}")
    checked = dict(
        image_size=image_size,
        embedding_size=int(embedding_size),
        bn_mode=bn_mode,
        width=float(width),
        dropout_keep=float(dropout_keep),
        **{**defaults, **extra},
    )
    for key in EXTRA_OPTIONS:
        if isinstance(checked[key], bool) or not isinstance(checked[key], (int, float)):
            raise UserValueError(f"{key} must be a number, got {checked[key]!r}")
    batch_norm(checked)  # refuses a BN decay or epsilon out of range
    return checked


def build(
    name: str,
    image_size=DEFAULT_IMAGE_SIZE,
    embedding_size: int = 512,
    bn_mode: str = "switch",
    width: float = 1.0,
    dropout_keep: float = 0.8,
    **extra,
) -> keras.Model:
    """Build backbone `name`: float32 RGB pixels [B, H, W, 3] in 0..255 -> un-normalised embeddings.

    image_size: (112, 96) or (112, 112), or "112x96". bn_mode: switch | always_train | none.
    width scales every channel count (1.0 = the paper's network). dropout_keep: keep probability
    of the dropout before the embedding FC, train mode only (1.0 = no dropout).
    extra: the backbone's options (`options(name)`: bn_decay, bn_epsilon and its own).
    """
    checked = check_options(name, image_size, embedding_size, bn_mode, width, dropout_keep, **extra)
    bn = batch_norm(checked)
    arguments = {key: value for key, value in checked.items() if key not in ("bn_mode", *EXTRA_OPTIONS)}
    return BACKBONES[name](bn=bn, **arguments)


def batch_norm(checked: dict) -> BatchNormConfig:
    """The BatchNormConfig of `check_options`' result."""
    return BatchNormConfig(checked["bn_mode"], decay=checked["bn_decay"], epsilon=checked["bn_epsilon"])


def _backbone(name: str):
    try:
        return BACKBONES[name]
    except KeyError:
        raise UserValueError(f"unknown model {name!r}; valid: {', '.join(available())}") from None

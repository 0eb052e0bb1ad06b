"""Loss registry: ``build(name, num_classes=..., embedding_size=..., **hparams)``."""

from __future__ import annotations

import inspect
from typing import Any, NamedTuple

from common.errors import UserValueError
from losses.base import LossLayer, constructor_arguments
from losses.center import CenterLoss
from losses.contrastive import ContrastiveLoss
from losses.margin import AMSoftmax, ArcFace, CombinedMargin, NormFace
from losses.margin_loss import MarginLoss
from losses.softmax import SoftmaxLoss
from losses.sphereface import LSoftmax, SphereFace
from losses.triplet import BatchHardTripletLoss, SemiHardTripletLoss, SoftMarginTripletLoss


class Entry(NamedTuple):
    cls: type
    defaults: dict  # paper defaults that differ from the class's own (e.g. CosFace's s = 64)


LOSSES: dict[str, Entry] = {
    "softmax": Entry(SoftmaxLoss, {}),
    "center": Entry(CenterLoss, {}),
    "contrastive": Entry(ContrastiveLoss, {}),
    "triplet": Entry(SemiHardTripletLoss, {}),
    "batch_hard": Entry(BatchHardTripletLoss, {}),
    "soft_margin": Entry(SoftMarginTripletLoss, {}),
    "margin": Entry(MarginLoss, {}),
    "lsoftmax": Entry(LSoftmax, {}),
    "sphereface": Entry(SphereFace, {}),
    "normface": Entry(NormFace, {}),
    "am_softmax": Entry(AMSoftmax, {}),
    "cosface": Entry(AMSoftmax, {"scale": 64.0}),
    "arcface": Entry(ArcFace, {}),
    "combined": Entry(CombinedMargin, {}),
}

# Keras layer arguments accepted by every loss besides its hyperparameters.
LAYER_ARGUMENTS = ("name", "dtype")
SIZE_ARGUMENTS = ("num_classes", "embedding_size")


def hyperparameters(name: str) -> list[str]:
    """The hyperparameters ``build`` accepts for loss ``name`` (sizes and layer arguments aside)."""
    return [p for p in constructor_arguments(_entry(name).cls) if p not in SIZE_ARGUMENTS]


def build(name: str, num_classes: int | None = None, embedding_size: int | None = None, **hparams: Any) -> LossLayer:
    """A loss layer by registry name. Sizes are passed to the losses that use them (classification
    heads need both; the margin loss needs embedding_size) and ignored by the others."""
    entry = _entry(name)
    valid = hyperparameters(name)
    unknown = sorted(set(hparams) - set(valid) - set(LAYER_ARGUMENTS))
    if unknown:
        raise UserValueError(
            f"loss {name!r}: unknown hyperparameter(s) {', '.join(unknown)}; valid: {', '.join(valid) or '(none)'}"
        )
    parameters = inspect.signature(entry.cls.__init__).parameters
    sizes = {"num_classes": num_classes, "embedding_size": embedding_size}
    kwargs = dict(entry.defaults)
    for size_name, value in sizes.items():
        if size_name not in parameters:
            continue
        required = parameters[size_name].default is inspect.Parameter.empty
        if value is None and required:
            raise ValueError(f"loss {name!r} needs {size_name}=...")
        if value is not None:
            kwargs[size_name] = value
    kwargs.update(hparams)
    return entry.cls(**kwargs)


def _entry(name: str) -> Entry:
    try:
        return LOSSES[name]
    except KeyError:
        raise UserValueError(f"unknown loss {name!r}; valid: {', '.join(sorted(LOSSES))}") from None

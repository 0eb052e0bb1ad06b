"""Every loss of the reproduction, one small module each, built by name through the registry.

``losses.build(name, num_classes=..., embedding_size=..., **hparams)`` returns a Keras layer;
``layer(embeddings, labels, step=step)`` returns ``{"loss": ..., "logits": ...?, parts...}``.
"""

from losses.base import ClassificationHead, LossLayer, MetricLoss
from losses.center import CenterLoss
from losses.contrastive import ContrastiveLoss
from losses.margin import AMSoftmax, ArcFace, CombinedMargin, MarginSoftmax, NormFace
from losses.margin_loss import MarginLoss
from losses.registry import LOSSES, build, hyperparameters
from losses.softmax import SoftmaxLoss
from losses.sphereface import LSoftmax, SphereFace
from losses.triplet import BatchHardTripletLoss, SemiHardTripletLoss, SoftMarginTripletLoss

__all__ = [
    "AMSoftmax",
    "ArcFace",
    "BatchHardTripletLoss",
    "CenterLoss",
    "ClassificationHead",
    "CombinedMargin",
    "ContrastiveLoss",
    "LOSSES",
    "LSoftmax",
    "LossLayer",
    "MarginLoss",
    "MarginSoftmax",
    "MetricLoss",
    "NormFace",
    "SemiHardTripletLoss",
    "SoftMarginTripletLoss",
    "SoftmaxLoss",
    "SphereFace",
    "build",
    "hyperparameters",
]

"""The margin-softmax family: one base class, each paper only changes the target logit.

All members compute cos(theta_j) between the normalised embedding and the normalised class
weight j, replace the target class's cos by ``target_logit(cos)`` (the paper's margin, without
the scale), multiply every logit by a scale (s, or ||x|| for SphereFace, ||W_j|| ||x|| for
L-softmax) and apply cross-entropy. The reported ``logits`` are scale * cos without the margin,
which is what accuracy should be measured on.
"""

from __future__ import annotations

import math

import keras
import tensorflow as tf

from losses.base import ClassificationHead, l2_normalize, sparse_cross_entropy

# The derivatives of acos and of sqrt(1 - cos^2) are infinite at cos = +-1. Both helpers return
# exact values but floor 1 - cos^2 at COS_EPSILON inside their gradients, so gradients stay finite.
COS_EPSILON = 1e-7


@tf.custom_gradient
def sin_from_cos(cos: tf.Tensor) -> tf.Tensor:
    """sin(theta) = sqrt(1 - cos^2) for theta in [0, pi], with a bounded gradient."""
    one_minus_square = tf.maximum(1.0 - tf.square(cos), 0.0)

    def gradient(upstream):
        return upstream * -cos * tf.math.rsqrt(tf.maximum(one_minus_square, COS_EPSILON))

    return tf.sqrt(one_minus_square), gradient


@tf.custom_gradient
def angle_from_cos(cos: tf.Tensor) -> tf.Tensor:
    """theta = acos(cos) in [0, pi], with a bounded gradient."""
    clipped = tf.clip_by_value(cos, -1.0, 1.0)

    def gradient(upstream):
        return upstream * -tf.math.rsqrt(tf.maximum(1.0 - tf.square(clipped), COS_EPSILON))

    return tf.acos(clipped), gradient


class MarginSoftmax(ClassificationHead):
    """Base of NormFace, AM-softmax/CosFace, ArcFace, the combined margin, SphereFace, L-softmax.

    Subclasses override ``target_logit(cos, step)`` (cos of the target class -> modified target
    logit without scale) and, where the scale is not a constant s, ``scale_of``.
    """

    def cosines(self, embeddings: tf.Tensor) -> tf.Tensor:
        """[B, C] cosines between embeddings and class weights, clipped to [-1, 1]."""
        cos = tf.matmul(l2_normalize(embeddings), l2_normalize(self.kernel, axis=0))
        return tf.clip_by_value(cos, -1.0, 1.0)

    def target_logit(self, cos: tf.Tensor, step=None) -> tf.Tensor:
        """Maps the target class's cos(theta) to the margin-modified value (no scale)."""
        raise NotImplementedError

    def scale_of(self, embeddings: tf.Tensor) -> tf.Tensor:
        """The factor every logit is multiplied by: a scalar or a tensor broadcastable to [B, C]."""
        raise NotImplementedError

    def compute(self, embeddings, labels, step, training):
        cos = self.cosines(embeddings)
        target_mask = tf.one_hot(labels, self.num_classes, dtype=cos.dtype) > 0
        target_cos = tf.gather(cos, labels, axis=1, batch_dims=1)
        modified = tf.cast(self.target_logit(target_cos, step=step), cos.dtype)
        margin_cos = tf.where(target_mask, modified[:, None], cos)
        scale = self.scale_of(embeddings)
        loss = sparse_cross_entropy(labels, scale * margin_cos)
        return {"loss": loss, "logits": scale * cos}


class ScaledMarginSoftmax(MarginSoftmax):
    """Members whose scale is one number s, fixed or (NormFace) learnable."""

    def __init__(self, num_classes: int, embedding_size: int, scale: float, learnable_scale: bool = False, **kwargs):
        super().__init__(num_classes, embedding_size, **kwargs)
        self.learnable_scale = bool(learnable_scale)
        # Always a weight (trainable or not) so a checkpoint records the value in use.
        self.scale = self.add_weight(
            shape=(),
            name="scale",
            trainable=self.learnable_scale,
            initializer=keras.initializers.Constant(float(scale)),
        )
        self._initial_scale = float(scale)

    def scale_of(self, embeddings):
        return tf.cast(self.scale, embeddings.dtype)

    def config_value(self, name: str):
        # `scale` is the weight (it may have learnt); the config records the initial value.
        return self._initial_scale if name == "scale" else super().config_value(name)


class NormFace(ScaledMarginSoftmax):
    """NormFace (Wang et al., 2017): logits s * cos, no margin; s learnable (init 10) or fixed."""

    def __init__(
        self, num_classes: int, embedding_size: int, scale: float = 10.0, learnable_scale: bool = True, **kwargs
    ):
        super().__init__(num_classes, embedding_size, scale=scale, learnable_scale=learnable_scale, **kwargs)

    def target_logit(self, cos, step=None):
        return cos


class AMSoftmax(ScaledMarginSoftmax):
    """AM-softmax / CosFace: target s * (cos - m). Defaults s = 30, m = 0.35 (AM-softmax paper;
    the CosFace paper uses s = 64)."""

    def __init__(
        self,
        num_classes: int,
        embedding_size: int,
        scale: float = 30.0,
        margin: float = 0.35,
        learnable_scale: bool = False,
        **kwargs,
    ):
        super().__init__(num_classes, embedding_size, scale=scale, learnable_scale=learnable_scale, **kwargs)
        self.margin = float(margin)

    def target_logit(self, cos, step=None):
        return cos - self.margin


class ArcFace(ScaledMarginSoftmax):
    """ArcFace: target s * cos(theta + m), s = 64, m = 0.5.

    For theta + m > pi, cos(theta + m) would rise again (the curve stops being monotonic); like the
    reference implementations we continue with the linear cos - m * sin(m) where
    cos <= cos(pi - m) (as in insightface, the curve steps down by cos(m) + m sin(m) - 1 ~ 0.12 there
    for m = 0.5). ``easy_margin`` instead applies the margin only where cos > 0.
    """

    def __init__(
        self,
        num_classes: int,
        embedding_size: int,
        scale: float = 64.0,
        margin: float = 0.5,
        easy_margin: bool = False,
        learnable_scale: bool = False,
        **kwargs,
    ):
        super().__init__(num_classes, embedding_size, scale=scale, learnable_scale=learnable_scale, **kwargs)
        self.margin = float(margin)
        self.easy_margin = bool(easy_margin)

    def target_logit(self, cos, step=None):
        with_margin = cos * math.cos(self.margin) - sin_from_cos(cos) * math.sin(self.margin)
        if self.easy_margin:
            return tf.where(cos > 0, with_margin, cos)
        threshold = math.cos(math.pi - self.margin)
        return tf.where(cos > threshold, with_margin, cos - self.margin * math.sin(self.margin))


class CombinedMargin(ScaledMarginSoftmax):
    """insightface's combined margin: target s * (cos(m1 * theta + m2) - m3).

    (m1, m2, m3) = (1, 0, m) is AM-softmax, (1, m, 0) ArcFace, (m, 0, 0) a SphereFace-like
    multiplicative margin (without its piecewise psi). Defaults are insightface's typical combined
    setting s = 64, m1 = 1.0, m2 = 0.3, m3 = 0.2. Computed literally, as insightface does: for
    m1 * theta + m2 > pi the curve is not monotonic.
    """

    def __init__(
        self,
        num_classes: int,
        embedding_size: int,
        scale: float = 64.0,
        m1: float = 1.0,
        m2: float = 0.3,
        m3: float = 0.2,
        learnable_scale: bool = False,
        **kwargs,
    ):
        super().__init__(num_classes, embedding_size, scale=scale, learnable_scale=learnable_scale, **kwargs)
        self.m1, self.m2, self.m3 = float(m1), float(m2), float(m3)

    def target_logit(self, cos, step=None):
        return tf.cos(self.m1 * angle_from_cos(cos) + self.m2) - self.m3

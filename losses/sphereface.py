"""Multiplicative angular margins: SphereFace (A-softmax) and L-softmax.

Both replace the target cos(theta) by psi(theta) = (-1)^k cos(m theta) - 2k for
theta in [k pi / m, (k + 1) pi / m], blended with the plain logit while training starts:
(lambda * cos + psi) / (1 + lambda), lambda = max(lambda_min, base * (1 + gamma * step)^-power).
cos(m theta) is computed as the Chebyshev polynomial T_m(cos) and k by comparing cos with
cos(j pi / m), as the Caffe release does, so no acos (and no infinite gradient at +-1) is needed.
"""

from __future__ import annotations

import inspect
import math

import tensorflow as tf

from common.errors import UserValueError
from losses.base import safe_norm
from losses.margin import MarginSoftmax


def chebyshev_cos_multiple(cos: tf.Tensor, m: int) -> tf.Tensor:
    """cos(m theta) from cos(theta): T_0 = 1, T_1 = c, T_{n+1} = 2 c T_n - T_{n-1}."""
    previous, current = tf.ones_like(cos), cos
    if m == 0:
        return previous
    for _ in range(m - 1):
        previous, current = current, 2.0 * cos * current - previous
    return current


def psi(cos: tf.Tensor, m: int) -> tf.Tensor:
    """SphereFace's monotonic psi(theta) = (-1)^k cos(m theta) - 2k, as a function of cos(theta)."""
    # k = number of interval boundaries j pi / m (j = 1 .. m - 1) that theta has passed.
    k = tf.add_n([tf.cast(cos <= math.cos(j * math.pi / m), cos.dtype) for j in range(1, m)] + [tf.zeros_like(cos)])
    sign = 1.0 - 2.0 * tf.math.floormod(k, 2.0)
    return sign * chebyshev_cos_multiple(cos, m) - 2.0 * k


class SphereFace(MarginSoftmax):
    """A-softmax (Liu et al., CVPR 2017): normalised class weights, logits scaled by ||x||.

    ``step`` (the training iteration) drives the lambda annealing and must be passed.
    Defaults are the Caffe release's: m = 4, base 1000, gamma 0.12, power 1, lambda_min 5.
    """

    def __init__(
        self,
        num_classes: int,
        embedding_size: int,
        margin: int = 4,
        lambda_base: float = 1000.0,
        lambda_gamma: float = 0.12,
        lambda_power: float = 1.0,
        lambda_min: float = 5.0,
        **kwargs,
    ):
        super().__init__(num_classes, embedding_size, **kwargs)
        if int(margin) != margin or margin < 1:
            raise UserValueError(f"{type(self).__name__}: margin must be a positive integer, got {margin}")
        self.margin = int(margin)
        self.lambda_base = float(lambda_base)
        self.lambda_gamma = float(lambda_gamma)
        self.lambda_power = float(lambda_power)
        self.lambda_min = float(lambda_min)

    def compute(self, embeddings, labels, step, training):
        # `lambda` is reported as train/lambda beside the loss: the curve shows where it reaches its floor.
        return dict(super().compute(embeddings, labels, step, training), **{"lambda": self.lambda_at(step)})

    @classmethod
    def describe_schedule(cls, hparams: dict) -> str:
        """Whether the blend reached the paper's loss: the step lambda reaches its floor."""
        floor, step = cls.lambda_floor(hparams)
        return f"lambda at its floor {floor:g} from step {step}"

    @classmethod
    def lambda_floor(cls, hparams: dict) -> tuple[float, int]:
        """(lambda_min, the first step at which lambda is at it) for a config's loss hparams, the
        constructor's defaults filling the gaps: the smallest s with
        base * (1 + gamma s)^-power <= lambda_min (0 when base starts at the floor)."""
        defaults = {name: parameter.default for name, parameter in inspect.signature(cls.__init__).parameters.items()}
        base, gamma, power, floor = (
            float(hparams.get(name, defaults[name]))
            for name in ("lambda_base", "lambda_gamma", "lambda_power", "lambda_min")
        )
        if base <= floor:
            return floor, 0
        if gamma <= 0 or power <= 0:
            raise UserValueError("lambda never reaches its floor: lambda_gamma and lambda_power must be > 0")
        step = max(0, math.floor(((base / floor) ** (1.0 / power) - 1.0) / gamma) - 1)
        while base * (1.0 + gamma * step) ** -power > floor:
            step += 1  # the closed form's rounding can leave it a step short
        return floor, step

    def lambda_at(self, step) -> tf.Tensor:
        """lambda = max(lambda_min, base * (1 + gamma * step)^-power)."""
        if step is None:
            raise ValueError(
                f"{type(self).__name__} anneals lambda with the training step: "
                "call it as loss_layer(embeddings, labels, step=step)"
            )
        step = tf.cast(step, tf.float32)
        annealed = self.lambda_base * tf.pow(1.0 + self.lambda_gamma * step, -self.lambda_power)
        return tf.maximum(self.lambda_min, annealed)

    def target_logit(self, cos, step=None):
        lam = tf.cast(self.lambda_at(step), cos.dtype)
        return (lam * cos + psi(cos, self.margin)) / (1.0 + lam)

    def scale_of(self, embeddings):
        return safe_norm(embeddings)  # [B, 1]


class LSoftmax(SphereFace):
    """L-softmax (Liu et al., ICML 2016): as SphereFace but class weights keep their norm, so every
    logit is ||W_j|| ||x|| cos(theta_j) (the target uses psi). Same psi and annealing defaults
    as SphereFace (assumed: the L-softmax face experiments share the schedule)."""

    def scale_of(self, embeddings):
        return safe_norm(embeddings) * safe_norm(self.kernel, axis=0)  # [B, 1] * [1, C]

"""Shared base classes for every loss layer.

Contract (docs/design.md): ``loss_layer(embeddings, labels, step=step)`` returns a dict with
``loss`` (scalar), ``logits`` ([B, C], classification heads only) and named parts where a loss
has them. A call is inference unless ``training=True`` (or a true tf.bool) is passed: only then
may a loss update its state (center loss's centres), so evaluating a head never changes it.
``needs_pk_batches`` tells the input pipeline whether the loss wants P x K identity-balanced
batches. Embeddings arrive un-normalised; each loss normalises as its paper does.
"""

from __future__ import annotations

import inspect

import keras
import tensorflow as tf

from common.errors import UserValueError
from losses.diagnostics import CENTRE_ANGLE, angle_to_batch_centres, angle_to_class_weights

# Floor on squared norms / squared distances before a sqrt or a division: keeps values and
# gradients finite for zero-norm embeddings and coincident points.
NORM_EPSILON = 1e-12


def l2_normalize(x: tf.Tensor, axis: int = -1) -> tf.Tensor:
    """x / ||x|| with the squared norm floored: a zero vector maps to zero, gradient finite."""
    return tf.math.l2_normalize(x, axis=axis, epsilon=NORM_EPSILON)


def safe_norm(x: tf.Tensor, axis: int = -1, keepdims: bool = True) -> tf.Tensor:
    """||x|| whose gradient is 0 (not NaN) at x = 0."""
    squared = tf.reduce_sum(tf.square(x), axis=axis, keepdims=keepdims)
    return safe_sqrt(squared)


def safe_sqrt(squared: tf.Tensor) -> tf.Tensor:
    """sqrt of a non-negative tensor, with gradient 0 where the input is ~0 (sqrt'(0) = inf)."""
    positive = squared > NORM_EPSILON
    # Feed 1 to sqrt where the value is ~0 so neither branch of tf.where has an infinite gradient.
    root = tf.sqrt(tf.where(positive, squared, tf.ones_like(squared)))
    return tf.where(positive, root, tf.zeros_like(squared))


class LossLayer(keras.layers.Layer):
    """A loss as a Keras layer: hyperparameters in the constructor, state as layer weights.

    Subclasses implement ``compute(embeddings, labels, step, training)`` returning the output dict.
    Their constructor arguments are their hyperparameters, each stored under its own name:
    ``get_config`` and the registry read them from the signature (``constructor_arguments``), so a
    new hyperparameter is one constructor argument. ``diagnostics`` may report scalar statistics
    of a batch for TensorBoard.
    """

    needs_pk_batches: bool = False

    @classmethod
    def describe_schedule(cls, hparams: dict) -> str:
        """One line on a schedule the loss follows by itself over the steps (e.g. SphereFace's lambda
        annealing), for results tables; "" for a loss without one."""
        return ""

    def __init__(self, **kwargs):
        # Losses compute in float32 even under a mixed_float16 global policy: the norm floors and
        # large-scale logits are not representable in float16. Pass dtype="float64" for checks.
        kwargs.setdefault("dtype", "float32")
        super().__init__(**kwargs)

    def call(self, embeddings, labels, step=None, training=False):
        embeddings = tf.convert_to_tensor(embeddings, dtype=self.compute_dtype)
        labels = tf.reshape(tf.cast(labels, tf.int32), [-1])
        outputs = self.compute(embeddings, labels, step=step, training=training)
        if "loss" not in outputs:
            raise RuntimeError(f"{type(self).__name__}.compute returned no 'loss' entry")
        return outputs

    def compute(self, embeddings, labels, step, training):
        raise NotImplementedError

    def diagnostics(self, embeddings, labels) -> dict:
        """Extra scalar statistics of a batch, reported by the training step (none by default)."""
        return {}

    def get_config(self):
        config = super().get_config()
        config.update({name: self.config_value(name) for name in constructor_arguments(type(self))})
        return config

    def config_value(self, name: str):
        """The value of constructor argument `name` to record; override where the attribute of that
        name holds something else (a weight initialised from it)."""
        return getattr(self, name)


def constructor_arguments(cls: type) -> list[str]:
    """The named arguments of `cls`'s own constructor (what it passes on through **kwargs aside)."""
    parameters = inspect.signature(cls.__init__).parameters.values()
    return [
        p.name
        for p in parameters
        if p.name != "self" and p.kind not in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)
    ]


class ClassificationHead(LossLayer):
    """A loss with a class-weight matrix ``kernel`` of shape [embedding_size, num_classes].

    The kernel is an ordinary trainable layer weight so the trainer can apply weight decay to it.
    Weights are created in the constructor (sizes are known), so the trainer sees them before the
    first call.
    """

    def __init__(self, num_classes: int, embedding_size: int, **kwargs):
        super().__init__(**kwargs)
        if int(num_classes) < 2 or int(embedding_size) < 1:
            raise UserValueError(
                f"{type(self).__name__}: need num_classes >= 2 and embedding_size >= 1, "
                f"got num_classes={num_classes}, embedding_size={embedding_size}"
            )
        self.num_classes = int(num_classes)
        self.embedding_size = int(embedding_size)
        self.kernel = self.add_weight(
            shape=(self.embedding_size, self.num_classes), initializer="glorot_uniform", name="kernel"
        )

    def diagnostics(self, embeddings, labels) -> dict:
        return {CENTRE_ANGLE: angle_to_class_weights(embeddings, labels, self.kernel)}


class MetricLoss(LossLayer):
    """A loss on distances between the batch's embeddings (no class weights): P x K batches."""

    needs_pk_batches = True

    def diagnostics(self, embeddings, labels) -> dict:
        return {CENTRE_ANGLE: angle_to_batch_centres(embeddings, labels)}


def sparse_cross_entropy(labels: tf.Tensor, logits: tf.Tensor) -> tf.Tensor:
    """Mean softmax cross-entropy; the fused op is stable for very large logits."""
    return tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits))

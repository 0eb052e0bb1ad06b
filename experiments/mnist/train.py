"""Training the feature net under one loss head, and measuring the features it learns."""

from __future__ import annotations

from dataclasses import dataclass

import keras
import numpy as np
import tensorflow as tf


@dataclass(frozen=True)
class TrainConfig:
    """Optimisation settings shared by every loss in the figure."""

    epochs: int = 8
    batch_size: int = 50
    learning_rate: float = 3e-3
    seed: int = 0
    max_steps: int | None = None  # stops early: for smoke tests


@dataclass
class TrainResult:
    """Test-split features and the history of the training loss."""

    features: np.ndarray  # [N, D] un-normalised test features
    labels: np.ndarray  # [N]
    predictions: np.ndarray  # [N] classes predicted by the loss head
    loss_history: list[float]  # mean training loss per epoch (or per partial epoch)
    steps: int

    @property
    def accuracy(self) -> float:
        return float(np.mean(self.predictions == self.labels))


def train_features(
    model: keras.Model,
    loss_layer,
    x_train: np.ndarray,
    y_train: np.ndarray,
    x_test: np.ndarray,
    y_test: np.ndarray,
    config: TrainConfig,
) -> TrainResult:
    """Adam on the CNN and the loss head's weights together; returns the test features.

    Adam without weight decay, the article's "works in TensorFlow" setting: nothing then holds the
    feature norms down, so their growth under each loss is visible.
    """
    keras.utils.set_random_seed(config.seed)
    # A constant rate: a cosine decay to 0 (tried) tightened the softmax-family clusters but left
    # NormFace / AM-softmax / ArcFace, which converge more slowly, clearly less accurate.
    optimizer = keras.optimizers.Adam(config.learning_rate)
    step = tf.Variable(0, dtype=tf.int64, trainable=False, name="step")
    # Build the head once so its weights exist before the optimiser sees the variable list.
    loss_layer(model(x_train[:2], training=False), tf.constant(y_train[:2]), step=step)
    variables = model.trainable_variables + loss_layer.trainable_variables

    @tf.function(reduce_retracing=True)
    def train_step(images, labels):
        with tf.GradientTape() as tape:
            out = loss_layer(model(images, training=True), labels, step=step)
            loss = out["loss"]
        optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables, strict=True))
        step.assign_add(1)
        return loss

    rng = np.random.default_rng(config.seed)
    history: list[float] = []
    for _ in range(config.epochs):
        order = rng.permutation(len(y_train))
        epoch_losses = []
        for start in range(0, len(order), config.batch_size):
            if config.max_steps is not None and int(step.numpy()) >= config.max_steps:
                break
            batch = order[start : start + config.batch_size]
            loss = float(train_step(tf.constant(x_train[batch]), tf.constant(y_train[batch])))
            if not np.isfinite(loss):
                raise FloatingPointError(f"training loss became {loss} at step {int(step.numpy())}")
            epoch_losses.append(loss)
        if epoch_losses:
            history.append(float(np.mean(epoch_losses)))
    features = model.predict(x_test, batch_size=500, verbose=0)
    predictions = predict_classes(loss_layer, features, step)
    return TrainResult(features, y_test, predictions, history, int(step.numpy()))


def predict_classes(loss_layer, features: np.ndarray, step) -> np.ndarray:
    """argmax of the head's reported logits.

    Classification heads report logits without the margin (docs/design.md; losses/margin.py), so
    the placeholder labels passed here only feed the loss value, which is ignored.
    """
    placeholder_labels = tf.zeros(len(features), dtype=tf.int32)
    logits = loss_layer(tf.constant(features), placeholder_labels, step=step)["logits"]
    return np.argmax(logits.numpy(), axis=1).astype(np.int32)

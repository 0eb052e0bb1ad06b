"""TensorBoard content: batch statistics computed in the step, hparams, images, histograms."""
from __future__ import annotations

import math

import tensorflow as tf
from tensorboard.plugins.hparams import api as hparams_api

LFW_ACCURACY_TAG = "lfw/accuracy"


def batch_accuracy(logits: tf.Tensor, labels: tf.Tensor) -> tf.Tensor:
    """Fraction of the batch whose arg-max logit is the label."""
    predictions = tf.argmax(logits, axis=-1, output_type=tf.int32)
    return tf.reduce_mean(tf.cast(tf.equal(predictions, labels), tf.float32))


def mean_angle_to_centres(embeddings: tf.Tensor, labels: tf.Tensor, class_kernel=None,
                          num_classes: int | None = None) -> tf.Tensor:
    """Mean angle in degrees between each embedding and its class centre.

    The centre is the class weight vector (a column of `class_kernel`, [E, C]) for classification
    heads, else the normalised mean of the batch's normalised embeddings of that class.
    """
    unit = tf.math.l2_normalize(embeddings, axis=-1)
    if class_kernel is not None:
        centres = tf.math.l2_normalize(tf.transpose(tf.cast(class_kernel, unit.dtype)), axis=-1)
    else:
        centres = tf.math.unsorted_segment_mean(unit, labels, num_classes)
        centres = tf.math.l2_normalize(centres, axis=-1)
    cosines = tf.reduce_sum(unit * tf.gather(centres, labels), axis=-1)
    return tf.reduce_mean(tf.acos(tf.clip_by_value(cosines, -1.0, 1.0))) * (180.0 / math.pi)


def mean_embedding_norm(embeddings: tf.Tensor) -> tf.Tensor:
    return tf.reduce_mean(tf.norm(embeddings, axis=-1))


def write_scalars(values: dict, step: int, prefix: str = "") -> None:
    """One scalar per entry (inside an active default writer)."""
    for name, value in values.items():
        tf.summary.scalar(prefix + name, float(value), step=step)


def write_images(images: tf.Tensor, step: int, max_images: int) -> None:
    """Input images as the network sees them before its own normalisation (0..255 -> 0..1)."""
    tf.summary.image("input/images", tf.clip_by_value(images[:max_images] / 255.0, 0.0, 1.0),
                     step=step, max_outputs=max_images)


def write_histograms(variables, step: int) -> None:
    for variable in variables:
        name = getattr(variable, "path", None) or variable.name
        tf.summary.histogram("weights/" + name.replace(":", "_"), variable, step=step)


def hparams_of(config) -> dict:
    """The run's comparable settings for the HParams dashboard (scalars and strings only)."""
    values = {
        "loss": config.loss.name,
        "optimizer": config.optimizer.name,
        "bn_mode": config.model.bn_mode,
        "model": config.model.name,
        "width": config.model.width,
        "embedding_size": config.model.embedding_size,
        "batch_size": config.train.batch_size,
        "weight_decay": config.optimizer.weight_decay,
        "ema_decay": config.train.ema_decay,
        "dropout_keep": config.model.dropout_keep,
        "lr_schedule": config.optimizer.schedule.file or str(config.optimizer.schedule.values),
    }
    for key, value in config.loss.hparams.items():
        if isinstance(value, (bool, int, float, str)):
            values[f"loss.{key}"] = value
    return values


def write_hparams(config, run_name: str) -> None:
    """HParams session for this run; its metric is the LFW accuracy scalar written during training."""
    hparams_api.hparams_config(hparams=[], metrics=[hparams_api.Metric(LFW_ACCURACY_TAG, display_name="LFW accuracy")])
    hparams_api.hparams(hparams_of(config), trial_id=run_name)

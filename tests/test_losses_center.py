"""Center loss: value/gradient against the paper's formula, and the centre update rule (eq. 4)."""

import numpy as np
import pytest
import tensorflow as tf

from losses import CenterLoss
from tests.helpers.loss_reference import cross_entropy, numerical_gradient, tf_loss_and_gradients


def reference_center_loss(x, w, b, centers, labels, weight):
    softmax = cross_entropy(x @ w + b, labels)
    center = np.mean([0.5 * np.sum((x[i] - centers[y]) ** 2) for i, y in enumerate(labels)])
    return softmax + weight * center, softmax, center


def test_center_loss_value_parts_and_gradient_match_numpy():
    rng = np.random.default_rng(1)
    layer = CenterLoss(num_classes=3, embedding_size=4, center_weight=0.05, alpha=0.5, dtype="float64")
    centers = rng.normal(size=(3, 4))
    layer.centers.assign(centers)
    x, labels = rng.normal(size=(5, 4)), np.array([0, 2, 2, 1, 0])
    w, b = layer.kernel.numpy(), layer.bias.numpy()

    out = layer(tf.constant(x), tf.constant(labels), training=False)
    total, softmax, center = reference_center_loss(x, w, b, centers, labels, 0.05)
    assert float(out["loss"]) == pytest.approx(total, rel=1e-10)
    assert float(out["softmax"]) == pytest.approx(softmax, rel=1e-10)
    assert float(out["center"]) == pytest.approx(center, rel=1e-10)

    _, (gx,) = tf_loss_and_gradients(layer, x, labels, training=False)
    expected = numerical_gradient(lambda v: reference_center_loss(v, w, b, centers, labels, 0.05)[0], x)
    np.testing.assert_allclose(gx, expected, rtol=1e-6, atol=1e-9)


def test_centre_update_follows_paper_rule_hand_worked():
    layer = CenterLoss(num_classes=2, embedding_size=2, alpha=0.5, dtype="float64")
    x = np.array([[2.0, 0.0], [4.0, 0.0], [0.0, 3.0]])
    out = layer(x, np.array([0, 0, 1]), training=True)
    # Centres start at 0. Class 0: delta = ((0-2) + (0-4)) / (1 + 2) = -2 -> c = 0 - 0.5 * -2 = 1.
    # Class 1: delta = (0 - 3) / (1 + 1) = -1.5 -> c = 0.75.
    np.testing.assert_allclose(layer.centers.numpy(), [[1.0, 0.0], [0.0, 0.75]])
    # The reported loss used the centres from before the update (all zero).
    assert float(out["center"]) == pytest.approx(np.mean([0.5 * 4, 0.5 * 16, 0.5 * 9]))
    assert not layer.centers.trainable


def test_centres_frozen_when_not_training_including_bool_tensor_in_tf_function():
    layer = CenterLoss(num_classes=2, embedding_size=2, dtype="float64")
    x, labels = tf.constant([[1.0, 1.0]], tf.float64), tf.constant([1])
    layer(x, labels, training=False)
    np.testing.assert_array_equal(layer.centers.numpy(), 0.0)

    step = tf.function(lambda flag: layer(x, labels, training=flag)["loss"])
    step(tf.constant(False))
    np.testing.assert_array_equal(layer.centers.numpy(), 0.0)
    step(tf.constant(True))
    np.testing.assert_allclose(layer.centers.numpy()[1], [0.25, 0.25])  # 0.5 * (1 / 2)


def test_calling_the_head_without_training_is_inference_and_leaves_centres_unchanged():
    """Evaluating or predicting with the head (no `training`) must not move the centres."""
    layer = CenterLoss(num_classes=2, embedding_size=2, alpha=0.5, dtype="float64")
    start = np.array([[1.0, 1.0], [-1.0, 0.0]])
    layer.centers.assign(start)
    x, labels = np.array([[3.0, 1.0], [1.0, 3.0], [-1.0, 2.0]]), np.array([0, 0, 1])
    layer(x, labels)
    tf.function(lambda v: layer(v, labels)["loss"])(tf.constant(x))
    np.testing.assert_array_equal(layer.centers.numpy(), start)

    layer(x, labels, training=True)
    # Class 0: ((1-3) + (1-1), (1-1) + (1-3)) / (1 + 2) = (-2/3, -2/3) -> c = (1, 1) + 0.5 (2/3, 2/3).
    # Class 1: ((-1+1), (0-2)) / (1 + 1) = (0, -1) -> c = (-1, 0) + 0.5 (0, 1).
    np.testing.assert_allclose(layer.centers.numpy(), [[4 / 3, 4 / 3], [-1.0, 0.5]])


def test_the_real_training_step_moves_the_centres_by_the_paper_rule():
    """training/step.py must call the head in training mode, or centre loss never learns centres."""
    import keras

    from training.optimizers import build_optimizer
    from training.schedules import PiecewiseWithWarmup
    from training.step import TrainState, make_replica_step, make_train_step

    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    head = CenterLoss(num_classes=2, embedding_size=2, alpha=0.5)
    optimizer = build_optimizer("sgd")
    variables = model.trainable_variables + head.trainable_variables
    optimizer.build(variables)
    state = TrainState()
    replica_step = make_replica_step(model, head, optimizer, state, decayed_variables=[], weight_decay=0.0)
    step = make_train_step(
        tf.distribute.get_strategy(), replica_step, False, optimizer, PiecewiseWithWarmup([], [0.1]), state
    )
    images = np.random.default_rng(0).normal(size=(4, 3)).astype(np.float32)
    labels = np.array([0, 0, 0, 1], np.int32)
    x = model(images).numpy()  # the features the step sees (weights change only after)
    step(tf.constant(images), tf.constant(labels))
    # Centres start at 0: c_j = alpha * sum_{y_i = j} x_i / (1 + n_j).
    expected = 0.5 * np.stack([x[:3].sum(0) / 4, x[3] / 2])
    np.testing.assert_allclose(head.centers.numpy(), expected, rtol=1e-5, atol=1e-6)

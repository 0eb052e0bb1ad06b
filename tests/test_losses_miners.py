"""Miners on small hand-made distance matrices: which negative / positive / sample is chosen."""

import numpy as np
import pytest
import tensorflow as tf

from losses.distances import pairwise_distances, pairwise_squared_distances
from losses.miners import (
    batch_hard,
    distance_weighted_probabilities,
    sample_negatives,
    semi_hard_negatives,
    uniform_probabilities,
)
from tests.helpers.loss_reference import distance_matrix, distance_weight


def symmetric(upper_rows):
    d = np.array(upper_rows, dtype=np.float64)
    return tf.constant(np.triu(d, 1) + np.triu(d, 1).T)


def test_semi_hard_picks_closest_farther_negative_else_the_farthest_or_hardest():
    d = symmetric(
        [[0, 0.5, 0.3, 0.7, 0.9], [0, 0, 0.6, 0.4, 0.2], [0, 0, 0, 0.8, 0.5], [0, 0, 0, 0, 0.6], [0, 0, 0, 0, 0]]
    )
    labels = tf.constant([0, 0, 1, 1, 2])
    negative, valid = semi_hard_negatives(d, labels)
    negative, valid = negative.numpy(), valid.numpy()
    assert negative[0, 1] == 3  # d(0,1) = .5: negatives .3 (2), .7 (3), .9 (4) -> 3
    assert negative[1, 0] == 2  # d = .5: negatives .6 (2), .4 (3), .2 (4) -> 2
    assert negative[2, 3] == 1  # d = .8: none farther (.3, .6, .5): the farthest is 1 (.6)
    assert negative[3, 2] == 0  # d = .8: none farther (.7, .4, .6): the farthest is 0 (.7)
    hardest, _ = semi_hard_negatives(d, labels, fallback="hardest")
    assert (hardest[0, 1], hardest[1, 0]) == (3, 2)  # semi-hard choices do not depend on it
    assert hardest[2, 3] == 0  # none farther: the closest is 0 (.3)
    assert hardest[3, 2] == 1  # none farther: the closest is 1 (.4)
    expected_valid = np.zeros((5, 5), bool)
    expected_valid[0, 1] = expected_valid[1, 0] = expected_valid[2, 3] = expected_valid[3, 2] = True
    np.testing.assert_array_equal(valid, expected_valid)  # anchor 4 has no positive


def test_batch_hard_picks_farthest_positive_and_closest_negative():
    d = symmetric(
        [[0, 0.2, 0.9, 0.5, 0.3], [0, 0, 0.4, 0.1, 0.7], [0, 0, 0, 0.6, 0.8], [0, 0, 0, 0, 0.35], [0, 0, 0, 0, 0]]
    )
    positive, negative, valid = batch_hard(d, tf.constant([0, 0, 0, 1, 1]))
    np.testing.assert_array_equal(positive.numpy(), [2, 2, 0, 4, 3])
    np.testing.assert_array_equal(negative.numpy(), [4, 3, 3, 1, 0])
    assert valid.numpy().all()
    _, _, valid = batch_hard(d[:3, :3], tf.constant([0, 0, 1]))
    np.testing.assert_array_equal(valid.numpy(), [True, True, False])  # 2 has no positive


def test_distance_weights_hand_worked():
    # n = 3: (n - 3) / 2 = 0 so the weight is 1 / d (d clipped below at 0.5).
    d = symmetric(
        [[0, 0.3, 1.0, 0.25, 1.5], [0, 0, 1.6, 1.7, 1.8], [0, 0, 0, 0.9, 0.9], [0, 0, 0, 0, 0.9], [0, 0, 0, 0, 0]]
    )
    labels = tf.constant([0, 0, 1, 1, 1])
    p = distance_weighted_probabilities(d, labels, embedding_size=3).numpy()
    # Anchor 0: negatives 2 (1/1.0), 3 (1/0.5 = 2), 4 (d >= 1.4: weight 0).
    np.testing.assert_allclose(p[0], [0, 0, 1 / 3, 2 / 3, 0])
    # Anchor 1: every negative at d >= 1.4 -> uniform over its negatives.
    np.testing.assert_allclose(p[1], [0, 0, 1 / 3, 1 / 3, 1 / 3])
    # Anchor 2: negatives 0 (1/1.0) and 1 (1.6, cut) -> all mass on 0; positives never chosen.
    np.testing.assert_allclose(p[2], [1, 0, 0, 0, 0])


def test_distance_weights_match_inverse_density_in_high_dimension():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(8, 16))
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    labels = np.array([0, 0, 1, 1, 2, 2, 3, 3])
    d = distance_matrix(x)
    p = distance_weighted_probabilities(tf.constant(d), tf.constant(labels), embedding_size=16).numpy()
    for a in range(8):
        w = np.array(
            [distance_weight(d[a, n], 16) if labels[n] != labels[a] and d[a, n] < 1.4 else 0.0 for n in range(8)]
        )
        expected = w / w.sum() if w.sum() > 0 else (labels != labels[a]) / np.sum(labels != labels[a])
        np.testing.assert_allclose(p[a], expected, rtol=1e-8, atol=1e-12)


def test_sampling_follows_the_probabilities():
    probabilities = tf.constant(
        [[0.0, 0.0, 0.25, 0.75], [0.0, 0.0, 1.0, 0.0], [0.5, 0.5, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0]]
    )
    tf.random.set_seed(0)
    draws = np.concatenate([sample_negatives(probabilities).numpy() for _ in range(500)], axis=1)  # [4, 2000]
    assert np.mean(draws[0] == 3) == pytest.approx(0.75, abs=0.04)
    assert set(draws[0]) == {2, 3}
    assert set(draws[1]) == {2}
    assert set(draws[2]) == {0, 1}


def test_uniform_probabilities_hand_worked():
    p = uniform_probabilities(tf.constant([0, 0, 1, 2, 2]), tf.float64).numpy()
    np.testing.assert_allclose(p[0], [0, 0, 1 / 3, 1 / 3, 1 / 3])
    np.testing.assert_allclose(p[2], [1 / 4, 1 / 4, 0, 1 / 4, 1 / 4])
    np.testing.assert_allclose(p[3], [1 / 3, 1 / 3, 1 / 3, 0, 0])
    np.testing.assert_array_equal(uniform_probabilities(tf.constant([4, 4, 4])).numpy(), 0.0)  # no negative


def test_uniform_sampling_draws_only_negatives_each_about_equally_often():
    from scipy.stats import chisquare

    labels = np.array([0, 0, 0, 1, 1, 2, 2, 2])
    tf.random.set_seed(0)
    probabilities = uniform_probabilities(tf.constant(labels))
    draws = np.concatenate([sample_negatives(probabilities).numpy() for _ in range(500)], axis=1)  # [8, 4000]
    for anchor in range(8):
        negatives = np.flatnonzero(labels != labels[anchor])
        assert set(draws[anchor]) == set(negatives)  # every negative, and nothing else
        counts = np.array([np.sum(draws[anchor] == n) for n in negatives])
        assert chisquare(counts).pvalue > 1e-3, (anchor, counts)  # equal frequencies


def test_sampling_repeats_with_the_seeds_and_differs_without():
    probabilities = uniform_probabilities(tf.constant([0, 0, 0, 1, 1, 2, 2, 2]))

    def draw(global_seed, op_seed):
        tf.random.set_seed(global_seed)
        return sample_negatives(probabilities, seed=op_seed).numpy()

    np.testing.assert_array_equal(draw(1, 3), draw(1, 3))
    assert not np.array_equal(draw(1, 3), draw(1, 4))  # 64 draws over 3 to 6 negatives each


def test_anchors_without_a_negative_are_masked_by_the_margin_loss():
    """A batch of one identity has no negative at all: the sampler then draws any index, and the
    margin loss must mask those pairs, giving loss 0 and gradient 0 (not a pull towards itself)."""
    from losses import MarginLoss

    x = tf.constant(np.random.default_rng(3).normal(size=(4, 8)))
    with tf.GradientTape() as tape:
        tape.watch(x)
        loss = MarginLoss(embedding_size=8, seed=0, dtype="float64")(x, tf.zeros([4], tf.int32))["loss"]
    assert float(loss) == 0.0
    np.testing.assert_array_equal(tape.gradient(loss, x).numpy(), 0.0)


def test_pairwise_distances_match_numpy_and_have_zero_diagonal_gradient():
    x = tf.constant(np.random.default_rng(1).normal(size=(5, 3)))
    np.testing.assert_allclose(pairwise_distances(x), distance_matrix(x.numpy()), atol=1e-7)
    np.testing.assert_allclose(pairwise_squared_distances(x), distance_matrix(x.numpy()) ** 2, atol=1e-12)
    same = tf.constant([[1.0, 2.0], [1.0, 2.0]])
    with tf.GradientTape() as tape:
        tape.watch(same)
        total = tf.reduce_sum(pairwise_distances(same))
    assert np.isfinite(tape.gradient(total, same).numpy()).all()

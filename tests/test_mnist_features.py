"""MNIST feature-visualisation experiment: split, statistics, plots, training, CLI end to end."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

import losses
from experiments import mnist_features
from experiments.mnist.data import MNIST_FILE, load_mnist, load_split, stratified_split
from experiments.mnist.metrics import angle_to_class_mean, feature_stats, radial_elongation
from experiments.mnist.model import build_feature_net
from experiments.mnist.plots import Panel, plot_2d, plot_sphere
from experiments.mnist.specs import FIGURE_LOSSES, select
from experiments.mnist.train import TrainConfig, train_features

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def mnist_root(data_dir):
    if not (data_dir / MNIST_FILE).exists():
        pytest.skip(f"{data_dir / MNIST_FILE} not found")
    return data_dir


# --- data -----------------------------------------------------------------------------------


def test_real_split_is_stratified_disjoint_and_seeded(mnist_root):
    images, labels = load_mnist(mnist_root / MNIST_FILE)
    split = load_split(mnist_root, 4000, 1000, seed=0)
    assert split.x_train.shape == (4000, 28, 28, 1) and split.x_test.shape == (1000, 28, 28, 1)
    assert split.x_train.dtype == np.float32
    assert 0.0 <= split.x_train.min() < split.x_train.max() <= 1.0
    assert np.bincount(split.y_test).tolist() == [100] * 10
    assert np.bincount(split.y_train).tolist() == [400] * 10
    # Disjoint: no test image (as raw bytes) appears in the training part.
    train_bytes = {img.tobytes() for img in (split.x_train[..., 0] * 255).round().astype(np.uint8)}
    test_raw = (split.x_test[..., 0] * 255).round().astype(np.uint8)
    assert sum(img.tobytes() in train_bytes for img in test_raw) <= 2  # MNIST has rare duplicates
    # Labels still match their images after the shuffle: look each test image up in the file.
    index = {img.tobytes(): lab for img, lab in zip(images, labels, strict=True)}
    assert all(index[img.tobytes()] == lab for img, lab in zip(test_raw, split.y_test, strict=True))
    again = load_split(mnist_root, 4000, 1000, seed=0)
    other = load_split(mnist_root, 4000, 1000, seed=1)
    assert np.array_equal(again.y_train, split.y_train)
    assert not np.array_equal(other.y_train, split.y_train)


def test_split_rejects_too_many_images():
    with pytest.raises(ValueError, match="only 20 available"):
        stratified_split(np.zeros((20, 28, 28), np.uint8), np.arange(20) % 10, 15, 10, seed=0)


def test_bad_npz_names_file_and_key(tmp_path):
    path = tmp_path / "broken.npz"
    np.savez(path, images=np.zeros((3, 28, 28), np.uint8), y=np.zeros(3))
    with pytest.raises(ValueError, match=r"broken\.npz: missing key\(s\) \['x'\]"):
        load_mnist(path)
    np.savez(path, x=np.zeros((3, 32, 32), np.uint8), y=np.zeros(3))
    with pytest.raises(ValueError, match=r"broken\.npz: key 'x' has shape"):
        load_mnist(path)
    np.savez(path, x=np.zeros((3, 28, 28), np.uint8), y=np.array([0, 1, 10]))
    with pytest.raises(ValueError, match="labels outside"):
        load_mnist(path)


def test_missing_data_root_says_how_to_fix(tmp_path):
    with pytest.raises(FileNotFoundError, match="--data-root"):
        load_split(tmp_path)


# --- statistics -----------------------------------------------------------------------------


def test_feature_stats_hand_worked():
    # Norms 5, 2, 10, 1; predictions right, right, wrong, right.
    features = np.array([[3.0, 4.0], [0.0, 2.0], [6.0, 8.0], [1.0, 0.0]])
    labels = np.array([0, 0, 1, 1])
    stats = feature_stats(features, labels, np.array([0, 0, 0, 1]))
    assert stats["accuracy"] == 0.75
    assert stats["norm_mean"] == pytest.approx(4.5)
    assert stats["norm_std"] == pytest.approx(math.sqrt((0.25 + 6.25 + 30.25 + 12.25) / 4))
    assert stats["norm_cv"] == pytest.approx(stats["norm_std"] / 4.5)
    assert stats["norm_mean_correct"] == pytest.approx((5 + 2 + 1) / 3)
    assert stats["norm_mean_wrong"] == pytest.approx(10.0)


def test_angle_to_class_mean_ignores_norm():
    # Class 0 at +-30 degrees around the x axis (different norms), class 1 on one ray.
    angles = np.radians([30.0, -30.0])
    features = np.array([[np.cos(a), np.sin(a)] for a in angles]) * np.array([[1.0], [50.0]])
    features = np.vstack([features, [[0.0, 2.0], [0.0, 7.0]]])
    result = angle_to_class_mean(features, np.array([0, 0, 1, 1]))
    np.testing.assert_allclose(result, [30.0, 30.0, 0.0, 0.0], atol=1e-4)


def test_radial_elongation_hand_worked():
    # One class: directions +-0.1 rad, norms 1 and 3. Mean direction is angle 0 by symmetry, so
    # RMS angle = 0.1; norm std / mean = 1 / 2; elongation = 0.5 / 0.1 = 5 (a radial wedge).
    angles, norms = np.array([0.1, -0.1, 0.1, -0.1]), np.array([1.0, 1.0, 3.0, 3.0])
    wedge = np.stack([norms * np.cos(angles), norms * np.sin(angles)], axis=1)
    assert radial_elongation(wedge, np.zeros(4, int)) == pytest.approx(5.0)
    # Same norm everywhere: no radial spread at all, whatever the angles.
    ring = np.stack([np.cos(angles), np.sin(angles)], axis=1) * 4.0
    assert radial_elongation(ring, np.zeros(4, int)) == pytest.approx(0.0, abs=1e-12)
    # Two classes average: the second class (norms 2, 6 at +-0.2 rad) gives 0.5 / 0.2 = 2.5.
    second = np.stack([2 * norms * np.cos(2 * angles + 2), 2 * norms * np.sin(2 * angles + 2)], 1)
    both = np.vstack([wedge, second])
    assert radial_elongation(both, np.repeat([0, 1], 4)) == pytest.approx((5.0 + 2.5) / 2)


def test_feature_stats_rejects_mismatched_shapes():
    with pytest.raises(ValueError, match="expected"):
        feature_stats(np.zeros((4, 2)), np.zeros(3, int), np.zeros(4, int))


# --- specs, model, plots --------------------------------------------------------------------


def test_every_figure_loss_builds_with_its_adapted_hyperparameters():
    assert [s.key for s in FIGURE_LOSSES] == [
        "softmax",
        "sphereface_m1",
        "sphereface_m4",
        "normface",
        "am_softmax",
        "arcface",
    ]
    for spec in FIGURE_LOSSES:
        for dim in (2, 3):
            head = losses.build(spec.loss_name, num_classes=10, embedding_size=dim, **spec.hparams(dim))
            for name, value in spec.hparams(dim).items():
                assert getattr(head, name) == value or name in ("scale", "learnable_scale")
    am_2d = select(["am_softmax"])[0]
    assert am_2d.title(2) == "am_softmax (scale=10, margin=0.1)"
    with pytest.raises(ValueError, match="unknown loss key"):
        select(["cosface_typo"])


def test_feature_net_output_shape():
    model = build_feature_net(3, widths=(4, 8), seed=0)
    assert model(np.zeros((5, 28, 28, 1), np.float32)).shape == (5, 3)
    with pytest.raises(ValueError, match="feature_dim"):
        build_feature_net(0)


def test_plots_write_png_and_reject_wrong_dimension(tmp_path):
    rng = np.random.default_rng(0)
    labels = np.arange(40) % 10
    plot_2d([Panel("a", rng.normal(size=(40, 2)), labels)], tmp_path / "flat.png")
    plot_sphere([Panel("b", rng.normal(size=(40, 3)), labels)] * 2, tmp_path / "sphere.png")
    for name in ("flat.png", "sphere.png"):
        assert (tmp_path / name).read_bytes()[:8] == PNG_SIGNATURE
    with pytest.raises(ValueError, match="sphere plot given features of shape"):
        plot_sphere([Panel("c", rng.normal(size=(40, 2)), labels)], tmp_path / "bad.png")


# --- training ---------------------------------------------------------------------------------


@pytest.mark.integration
def test_cli_smoke_writes_figure_table_and_refuses_to_overwrite(mnist_root, tmp_path, capsys):
    argv = [
        "--data-root",
        str(mnist_root),
        "--out-dir",
        str(tmp_path),
        "--dims",
        "2",
        "--losses",
        "sphereface_m4",
        "--max-steps",
        "2",
        "--num-train",
        "100",
        "--num-test",
        "50",
        "--widths",
        "4",
        "8",
    ]
    assert mnist_features.main(argv) == 0
    png = tmp_path / "features_2d.png"
    assert png.read_bytes()[:8] == PNG_SIGNATURE
    results = json.loads((tmp_path / "results.json").read_text())
    (run,) = results["runs"]
    assert run["key"] == "sphereface_m4" and run["feature_dim"] == 2 and run["steps"] == 2
    assert all(np.isfinite(run["loss_history"])) and len(run["loss_history"]) == 1
    assert "--max-steps 2" in (tmp_path / "README.md").read_text()
    before = png.read_bytes()
    assert mnist_features.main(argv) == 2
    assert "already exist" in capsys.readouterr().err
    assert png.read_bytes() == before


@pytest.mark.integration
def test_short_training_beats_chance_by_far(mnist_root):
    split = load_split(mnist_root, num_train=1000, num_test=500, seed=0)
    head = losses.build("softmax", num_classes=10, embedding_size=2)
    result = train_features(
        build_feature_net(2, widths=(8, 16, 32), seed=0),
        head,
        split.x_train,
        split.y_train,
        split.x_test,
        split.y_test,
        TrainConfig(epochs=2, batch_size=50, learning_rate=3e-3),
    )
    assert result.features.shape == (500, 2) and result.steps == 40
    assert result.loss_history[-1] < result.loss_history[0] < math.log(10) + 0.5
    assert result.accuracy > 0.3  # chance is 0.1; measured 0.44 on this split and seed

"""Each choice list and default has one home (common/choices.py, align/detector.py) that both its
owner and the TF-free config check use, so the two cannot drift apart."""

from __future__ import annotations

import argparse
import inspect
import subprocess
import sys

import pytest

from common import choices
from common.paths import REPO_ROOT
from training.config import CHOICES, ConfigError, load_config


def test_config_check_uses_the_owners_lists():
    from input_pipeline import memory_cache
    from models import layers, registry
    from training import strategy
    from verification import protocol

    assert CHOICES["model.bn_mode"] is layers.BN_MODES is registry.BN_MODES is choices.BN_MODES
    assert CHOICES["eval.flip"] is protocol.FLIP_MODES is choices.FLIP_MODES
    assert CHOICES["data.cache"] is memory_cache.CACHE_MODES is choices.CACHE_MODES
    assert CHOICES["train.precision"] == tuple(strategy.POLICIES) == choices.PRECISIONS


def test_bn_defaults_and_image_sizes_have_one_home():
    import models
    from align import templates
    from models.layers import BatchNormConfig

    defaults = BatchNormConfig()
    assert (defaults.decay, defaults.epsilon) == (choices.BN_DECAY, choices.BN_EPSILON)
    assert models.registry.EXTRA_OPTIONS == {"bn_decay": choices.BN_DECAY, "bn_epsilon": choices.BN_EPSILON}
    assert models.parse_image_size is choices.parse_image_size
    assert templates.IMAGE_SIZES is models.registry.IMAGE_SIZES is choices.IMAGE_SIZES
    for size in choices.IMAGE_SIZES:
        assert templates.template(size).shape == (5, 2)


def test_config_refuses_an_image_size_without_a_template():
    with pytest.raises(ConfigError, match=r"data.image_size' must be one of \[\[112, 96\], \[112, 112\]\]"):
        load_config(REPO_ROOT / "experiments/configs/base.yaml", ["data.image_size=[112, 100]"])


def test_mtcnn_defaults_and_flags_have_one_home():
    from align.align_dataset import AlignConfig, build_parser
    from align.detector import FaceDetector, add_detector_arguments, detector_options

    signature = inspect.signature(FaceDetector).parameters
    config = AlignConfig(input_dir="x")
    args = build_parser().parse_args(["--input-dir", "a", "--output-dir", "b"])
    for name in ("min_face_size", "thresholds", "scale_factor", "max_detect_side"):
        assert signature[name].default == getattr(config, name) == detector_options(args)[name]
    parser = argparse.ArgumentParser()
    add_detector_arguments(parser)
    assert detector_options(parser.parse_args(["--detector-thresholds", "0.5,0.6,0.9"]))["thresholds"] == (
        0.5,
        0.6,
        0.9,
    )


def test_every_face_tool_takes_the_same_detector_flags():
    """align_dataset.py, verify.py and identify.py (enroll and search) take align/detector.py's MTCNN
    flags: the same names and defaults, read into the same FaceDetector settings."""
    import identify
    import verify
    from align.align_dataset import build_parser
    from align.detector import detector_options

    tools = {
        "align_dataset.py": (build_parser(), ["--input-dir", "a", "--output-dir", "b"]),
        "verify.py": (verify.build_parser(), ["a.jpg", "b.jpg", "--model", "m", "--threshold", "0.3"]),
        "identify.py enroll": (identify.build_parser(), ["enroll", "--gallery", "g", "--out", "o", "--model", "m"]),
        "identify.py search": (
            identify.build_parser(),
            ["search", "p.jpg", "--gallery", "g", "--model", "m", "--threshold", "0.3"],
        ),
    }
    flags = [
        "--min-face-size",
        "30",
        "--detector-thresholds",
        "0.5,0.6,0.8",
        "--scale-factor",
        "0.8",
        "--max-detect-side",
        "800",
    ]
    defaults = {name: detector_options(parser.parse_args(argv)) for name, (parser, argv) in tools.items()}
    given = {name: detector_options(parser.parse_args(argv + flags)) for name, (parser, argv) in tools.items()}
    assert all(options == defaults["align_dataset.py"] for options in defaults.values()), defaults
    assert all(
        options == {"min_face_size": 30, "thresholds": (0.5, 0.6, 0.8), "scale_factor": 0.8, "max_detect_side": 800}
        for options in given.values()
    ), given


@pytest.mark.integration
def test_config_module_stays_tensorflow_free():
    code = "import sys, training.config, common.choices; print('tensorflow' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True, timeout=60)
    assert done.stdout.strip() == "False", done.stderr

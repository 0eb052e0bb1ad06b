"""model.options: each backbone's options, read from its signature, reachable from a config."""

from __future__ import annotations

import pytest
import yaml

import models
from models.registry import BACKBONES, check_options, options
from tests.helpers.train_support import BASE_CONFIG
from training.config import load_config, save_config
from training.loop import build_model


def _probe(
    image_size=(112, 96),
    embedding_size: int = 512,
    bn=None,
    width: float = 1.0,
    dropout_keep: float = 0.8,
    stem_stride: int = 2,
):
    """A backbone with one option of its own; returns what it was given."""
    return {"bn": bn, "stem_stride": stem_stride}


def test_a_backbones_own_keyword_is_an_option_checked_and_passed(monkeypatch):
    monkeypatch.setitem(BACKBONES, "probe", _probe)
    assert options("probe") == {"bn_decay": 0.995, "bn_epsilon": 1e-3, "stem_stride": 2}
    built = models.build("probe", stem_stride=1, bn_decay=0.9)
    assert built["stem_stride"] == 1 and built["bn"].decay == 0.9
    with pytest.raises(
        ValueError, match="unknown option.*depth.*valid extra options: bn_decay, bn_epsilon, stem_stride"
    ):
        check_options("probe", depth=3)


@pytest.mark.parametrize(
    "value, message",
    [
        ({"bn_decay": 1.0}, r"bn_decay must be in \[0, 1\), got 1.0"),
        ({"bn_epsilon": 0}, "bn_epsilon must be > 0, got 0"),
        ({"bn_decay": "high"}, "bn_decay must be a number, got 'high'"),
    ],
)
def test_bad_bn_options_are_refused_before_building(value, message):
    with pytest.raises(ValueError, match=message):
        check_options("resface20", **value)


def test_model_options_from_the_config_reach_every_bn_layer():
    config = load_config(
        BASE_CONFIG,
        [
            "model.width=0.0625",
            "model.embedding_size=8",
            "model.options.bn_decay=0.9",
            "model.options.bn_epsilon=1.0e-5",
        ],
    )
    assert config.model.options == {"bn_decay": 0.9, "bn_epsilon": 1e-5}
    bn_layers = [layer for layer in build_model(config).layers if isinstance(layer, models.FlagBatchNormalization)]
    assert bn_layers and all((bn.momentum, bn.epsilon) == (0.9, 1e-5) for bn in bn_layers)


def test_a_run_saved_before_model_options_existed_loads_and_compares_equal(tmp_path):
    saved = tmp_path / "config.yaml"
    save_config(load_config(BASE_CONFIG), saved)
    content = yaml.safe_load(saved.read_text())
    assert "options" not in content["model"]  # empty options: saved as older runs were
    assert load_config(saved).model.options == {}
    assert load_config(BASE_CONFIG, ["model.options={bn_decay: 0.9}"]).to_dict()["model"]["options"] == {
        "bn_decay": 0.9
    }


def test_options_of_another_model_are_replaced_not_merged(tmp_path):
    base = tmp_path / "a.yaml"
    base.write_text(f"base: {BASE_CONFIG}\nmodel: {{options: {{bn_decay: 0.9}}}}\n")
    child = tmp_path / "b.yaml"
    child.write_text("base: a.yaml\nmodel: {options: {bn_epsilon: 0.01}}\n")
    assert load_config(child).model.options == {"bn_epsilon": 0.01}

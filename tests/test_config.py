"""Config loading: base chain, overrides with type checks, and errors that name the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from common.paths import REPO_ROOT
from training.config import ConfigError, load_config

CONFIGS = REPO_ROOT / "experiments" / "configs"


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def experiment(tmp_path, text: str) -> Path:
    return write(tmp_path / "exp.yaml", f"base: {CONFIGS / 'base.yaml'}\n{text}")


def test_base_and_every_config_in_the_tree_load():
    # scales/ holds budget fragments that row configs list among their bases, not whole configs.
    paths = sorted(path for path in CONFIGS.rglob("*.yaml") if path.parent.name != "scales")
    assert CONFIGS / "base.yaml" in paths and len(paths) >= 30
    for path in paths:
        config = load_config(path)
        assert config.name == path.stem


def test_key_given_twice_is_an_error_not_a_silent_override(tmp_path):
    # PyYAML alone would keep only the second `model:` and train the default backbone.
    path = experiment(tmp_path, "model: {name: mobilefacenet}\nmodel: {width: 1.0}\n")
    with pytest.raises(ConfigError, match=r"exp.yaml: line 3: key 'model' appears twice") as error:
        load_config(path)
    assert "\n" not in str(error.value)
    nested = experiment(tmp_path, "optimizer:\n  momentum: 0.9\n  momentum: 0.5\n")
    with pytest.raises(ConfigError, match="line 4: key 'momentum' appears twice"):
        load_config(nested)


def test_experiment_overrides_only_named_keys(tmp_path):
    config = load_config(experiment(tmp_path, "optimizer:\n  name: momentum\n  weight_decay: 5.0e-4\n"))
    base = load_config(CONFIGS / "base.yaml")
    assert config.optimizer.name == "momentum" and config.optimizer.weight_decay == 5e-4
    assert config.optimizer.momentum == base.optimizer.momentum  # sibling key kept from the base
    assert config.optimizer.schedule == base.optimizer.schedule
    assert config.name == "exp"


def test_loss_hparams_replace_as_a_whole(tmp_path):
    config = load_config(experiment(tmp_path, "loss:\n  name: arcface\n  hparams: {margin: 0.5}\n"))
    assert config.loss.hparams == {"margin": 0.5}


@pytest.mark.parametrize(
    "text, key",
    [
        ("bogus: 1\n", "'bogus'"),
        ("optimizer:\n  momemtum: 0.9\n", "'optimizer.momemtum'"),
        ("optimizer:\n  schedule:\n    warmup: 5\n", "'optimizer.schedule.warmup'"),
    ],
)
def test_unknown_key_is_named(tmp_path, text, key):
    with pytest.raises(ConfigError, match=f"unknown key {key}"):
        load_config(experiment(tmp_path, text))


def test_missing_key_is_named(tmp_path):
    path = write(tmp_path / "lonely.yaml", "seed: 1\n")
    with pytest.raises(ConfigError, match="missing key"):
        load_config(path)


@pytest.mark.parametrize(
    "override, message",
    [
        ("train.max_steps=abc", "'train.max_steps' must be int"),
        ("train.max_steps=1.5", "'train.max_steps' must be int"),
        ("train.jit_compile=3", "'train.jit_compile' must be bool"),
        ("data.image_size=112", "'data.image_size' must be a list"),
        ("model.bn_mode=sometimes", "'model.bn_mode' must be one of"),
        ("optimizer.nme=sgd", "unknown key 'optimizer.nme'"),
        ("nosuch.key=1", "unknown key 'nosuch'"),
        ("train.max_steps", "expected key=value"),
    ],
)
def test_bad_overrides(override, message):
    with pytest.raises(ConfigError, match=message):
        load_config(CONFIGS / "base.yaml", [override])


def test_overrides_are_typed():
    config = load_config(
        CONFIGS / "base.yaml",
        [
            "optimizer.weight_decay=1",
            "data.image_size=[112, 112]",
            "eval.folds=null",
            "loss.hparams.margin=0.2",
            "train.jit_compile=true",
        ],
    )
    assert config.optimizer.weight_decay == 1.0 and isinstance(config.optimizer.weight_decay, float)
    assert config.data.image_size == [112, 112]
    assert config.eval.folds is None
    assert config.loss.hparams["margin"] == 0.2 and config.train.jit_compile is True


def test_circular_base_and_invalid_yaml(tmp_path):
    write(tmp_path / "a.yaml", "base: b.yaml\n")
    write(tmp_path / "b.yaml", "base: a.yaml\n")
    with pytest.raises(ConfigError, match="circular"):
        load_config(tmp_path / "a.yaml")
    with pytest.raises(ConfigError, match="invalid YAML"):
        load_config(write(tmp_path / "bad.yaml", "seed: [1\n"))
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "absent.yaml")


@pytest.mark.parametrize(
    "key, value, hint",
    [
        ("data.train_dir", "cache/aligned/x", "it is now data.train_dirs"),
        ("train.mixed_precision", "true", "it is now train.precision"),
    ],
)
def test_renamed_keys_say_what_to_write_instead(tmp_path, key, value, hint):
    with pytest.raises(ConfigError, match=hint):
        load_config(CONFIGS / "base.yaml", [f"{key}={value}"])
    section, name = key.split(".")
    with pytest.raises(ConfigError, match=hint):
        load_config(experiment(tmp_path, f"{section}: {{{name}: {value}}}\n"))


def test_train_dirs_list_precision_and_cache_are_validated():
    config = load_config(
        CONFIGS / "base.yaml", ["data.train_dirs=[a, b]", "train.precision=bfloat16", "data.cache=memory"]
    )
    assert config.data.train_dirs == ["a", "b"] and config.train.precision == "bfloat16"
    with pytest.raises(ConfigError, match="'data.train_dirs' must be a list"):
        load_config(CONFIGS / "base.yaml", ["data.train_dirs=cache/aligned/x"])
    with pytest.raises(ConfigError, match="'train.precision' must be one of"):
        load_config(CONFIGS / "base.yaml", ["train.precision=fp8"])
    with pytest.raises(ConfigError, match="'data.cache' must be one of"):
        load_config(CONFIGS / "base.yaml", ["data.cache=disk"])


def test_a_list_of_bases_merges_left_to_right_under_the_files_own_keys(tmp_path):
    base = (REPO_ROOT / "experiments" / "configs" / "base.yaml").as_posix()
    (tmp_path / "row.yaml").write_text(f"base: {base}\ntrain: {{max_steps: 720, batch_size: 32}}\n")
    (tmp_path / "scale.yaml").write_text("train: {max_steps: 4320}\n")
    (tmp_path / "run.yaml").write_text("base: [row.yaml, scale.yaml]\ntrain: {seed_unused_marker: 1}\n")
    (tmp_path / "run_ok.yaml").write_text("base: [row.yaml, scale.yaml]\n")
    config = load_config(tmp_path / "run_ok.yaml")
    assert (config.train.max_steps, config.train.batch_size) == (4320, 32)
    with pytest.raises(ConfigError, match="seed_unused_marker"):
        load_config(tmp_path / "run.yaml")
    (tmp_path / "bad.yaml").write_text("base: [row.yaml, 3]\n")
    with pytest.raises(ConfigError, match="`base` must be"):
        load_config(tmp_path / "bad.yaml")


def test_eval_targets_default_to_lfw_and_earlier_configs_still_load(tmp_path):
    from training.config import save_config

    config = load_config(CONFIGS / "base.yaml")
    assert config.eval.targets == ["lfw"]
    save_config(config, tmp_path / "saved.yaml")
    assert "targets" not in (tmp_path / "saved.yaml").read_text()  # saved as runs before it were
    assert load_config(tmp_path / "saved.yaml").eval.targets == ["lfw"]
    two = load_config(CONFIGS / "base.yaml", ["eval.targets=[lfw, cfp_fp, mine=/x/pairs_list.txt]"])
    assert two.eval.targets == ["lfw", "cfp_fp", "mine=/x/pairs_list.txt"]
    save_config(two, tmp_path / "two.yaml")
    assert load_config(tmp_path / "two.yaml").eval.targets == two.eval.targets


@pytest.mark.parametrize(
    "targets, message",
    [
        ("[lfw, lfw]", "names lfw more than once"),
        ("[cfp_fp, cfp_fp=/x/cfp_fp.bin]", "names cfp_fp more than once"),
        ("[Bad-Name=/x.bin]", "key 'eval.targets': .*must be lowercase"),
        ("lfw", "'eval.targets' must be a list"),
    ],
)
def test_bad_eval_targets_are_named(targets, message):
    with pytest.raises(ConfigError, match=message):
        load_config(CONFIGS / "base.yaml", [f"eval.targets={targets}"])


def test_the_one_hour_config_is_set_1s_momentum_row_at_cpu_long():
    """experiments/README.md quotes that row's seeds as the one-hour config's result."""
    import dataclasses

    one_hour = load_config(REPO_ROOT / "experiments/configs/cpu_best_1h.yaml")
    row = load_config(REPO_ROOT / "experiments/configs/optimizer_bn/cpu_long_momentum_wd_bn_switch.yaml")
    assert dataclasses.replace(one_hour, name=row.name) == row

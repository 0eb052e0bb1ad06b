"""Typed experiment configuration: YAML files with a `base:` chain plus `--set key=value` overrides.

The dataclasses below are the schema (names and types only); every value comes from the YAML
files, so `experiments/configs/base.yaml` is the single place holding the defaults. Unknown keys,
missing keys and values of the wrong type are errors that name the dotted key and the file.
"""

from __future__ import annotations

import copy
import dataclasses
import math
import typing
from pathlib import Path
from typing import Any

import yaml

from common.atomic_files import atomic_write_text
from common.choices import BN_MODES, CACHE_MODES, DATA_FORMATS, FLIP_MODES, IMAGE_SIZES, PRECISIONS
from common.errors import UserValueError
from common.strict_yaml import DuplicateKeyError, load_unique


class ConfigError(UserValueError):
    """A config file or override that does not fit the schema (the message names the key)."""


@dataclasses.dataclass
class DataConfig:
    train_dirs: list[str]  # aligned identity folders root/<identity>/<image>, one label space
    namespace_by_root: bool  # false: an identity under two roots is an error
    cache: str  # auto / memory / none: keep decoded training images in RAM
    format: str  # "folders" or "tfrecord"
    tfrecord_dir: str | None  # shards written by input_pipeline.write_tfrecords
    min_images_per_identity: int
    image_size: list[int]  # [H, W]
    random_flip: bool
    shuffle_buffer: int
    parallel_calls: int  # -1 = tf.data.AUTOTUNE
    pk_identities: int  # P of P x K batches (metric losses only)
    pk_images: int  # K of P x K batches


@dataclasses.dataclass
class ModelConfig:
    name: str
    width: float
    embedding_size: int
    bn_mode: str  # switch / always_train / none
    dropout_keep: float
    options: dict  # the backbone's own options, checked by models.registry


@dataclasses.dataclass
class LossConfig:
    name: str
    hparams: dict  # free-form, passed to losses.build(**hparams)


@dataclasses.dataclass
class ScheduleConfig:
    file: str | None  # `epoch: lr` file (facenet's format); wins over boundaries
    steps_per_epoch: int
    boundaries: list[int]  # piecewise steps (used when file is null)
    values: list[float]  # len(boundaries) + 1 learning rates
    warmup_steps: int  # linear warm-up from 0 to the scheduled value


@dataclasses.dataclass
class OptimizerConfig:
    name: str  # adam / momentum / sgd
    momentum: float
    weight_decay: float  # explicit L2 added to the loss, see training/optimizers.py
    decay_exclude: list[str]  # substrings of variable paths exempt from weight decay
    schedule: ScheduleConfig


@dataclasses.dataclass
class TrainConfig:
    batch_size: int  # global batch (all replicas); P*K when P x K is used
    max_steps: int
    ema_decay: float  # 0 disables the moving average of weights
    jit_compile: bool
    precision: str  # float32 / bfloat16 / float16 (compute; weights stay float32)
    strategy: str  # default / mirrored / multi_worker
    log_every_steps: int
    checkpoint_every_steps: int
    keep_checkpoints: int


@dataclasses.dataclass
class EvalConfig:
    lfw_every_steps: int  # every target's check cadence; 0 disables the checks
    lfw_dir: str  # LFW's aligned images (target `lfw`)
    pairs: str  # LFW's pairs, relative to the data root unless absolute
    folds: int | None  # evaluate on the first n folds (null = all 10)
    flip: str  # concat / sum / none
    batch_size: int
    targets: list[str]  # benchmark specs (verification/benchmarks.py), e.g. [lfw, cfp_fp]


@dataclasses.dataclass
class SummaryConfig:
    histogram_every_steps: int
    images_every_steps: int
    max_images: int


@dataclasses.dataclass
class Config:
    name: str | None  # run name; null = the config file's stem
    run_dir: str | None  # null = runs/<name>
    seed: int
    data: DataConfig
    model: ModelConfig
    loss: LossConfig
    optimizer: OptimizerConfig
    train: TrainConfig
    eval: EvalConfig
    summaries: SummaryConfig

    def model_kwargs(self) -> dict:
        """Keyword arguments of models.build / models.registry.check_options after the name."""
        model = self.model
        return dict(
            image_size=tuple(self.data.image_size),
            embedding_size=model.embedding_size,
            bn_mode=model.bn_mode,
            width=model.width,
            dropout_keep=model.dropout_keep,
            **model.options,
        )

    def to_dict(self) -> dict:
        """The config as saved; a key added later is left out while it holds its ADDED_KEYS value."""
        content = dataclasses.asdict(self)
        for dotted, value in ADDED_KEYS.items():
            section, key = dotted.split(".")
            if content[section][key] == value:
                del content[section][key]
        return content


# Keys added after runs were saved, with the value those runs had: a config without one gets that
# value and a config holding it saves without the key, so earlier run dirs still load, resume and
# compare equal to a rerun of their command (training/run_dir.py compares configs key by key).
ADDED_KEYS = {"model.options": {}, "eval.targets": ["lfw"]}
# Free-form mappings handed to a registry: an override replaces them whole (another loss or model
# takes other names) and `--set` may add keys inside them.
FREE_FORM_KEYS = ("hparams", "options")


def _read_yaml(path: Path) -> dict:
    try:
        with open(path) as handle:
            content = load_unique(handle)
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file not found") from None
    except DuplicateKeyError as error:
        raise ConfigError(f"{path}: {error}") from None
    except yaml.YAMLError as error:
        raise ConfigError(f"{path}: invalid YAML: {error}") from None
    if content is None:
        return {}
    if not isinstance(content, dict):
        raise ConfigError(f"{path}: top level must be a mapping of keys")
    return content


def _merge(base: dict, override: dict) -> dict:
    """Deep merge: nested mappings merge key by key, anything else replaces."""
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict) and key not in FREE_FORM_KEYS:
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def load_raw(path: str | Path, _seen: tuple = ()) -> dict:
    """The merged mapping of `path` and its `base:` chain (paths relative to the naming file).

    `base` is one file or a list of files merged left to right (a row's config, then a scale's
    budget), and the file's own keys go on top."""
    path = Path(path).resolve()
    if path in _seen:
        raise ConfigError(f"{path}: circular `base:` chain")
    content = _read_yaml(path)
    base_names = content.pop("base", None)
    if base_names is None:
        return content
    if isinstance(base_names, str):
        base_names = [base_names]
    if not isinstance(base_names, list) or not base_names or not all(isinstance(n, str) for n in base_names):
        raise ConfigError(f"{path}: `base` must be a file name or a non-empty list of file names, got {base_names!r}")
    merged: dict = {}
    for base_name in base_names:
        merged = _merge(merged, load_raw(path.parent / base_name, _seen + (path,)))
    return _merge(merged, content)


def _check_type(value: Any, annotation: Any, key: str, source: str) -> Any:
    """`value` converted to `annotation` (int -> float allowed), else a ConfigError naming `key`."""
    origin = typing.get_origin(annotation)
    if origin is typing.Union:
        options = [a for a in typing.get_args(annotation) if a is not type(None)]
        if value is None:
            return None
        return _check_type(value, options[0], key, source)
    if origin is list:
        (item_type,) = typing.get_args(annotation)
        if not isinstance(value, list):
            raise ConfigError(f"{source}: key {key!r} must be a list, got {value!r}")
        return [_check_type(item, item_type, f"{key}[{i}]", source) for i, item in enumerate(value)]
    if annotation is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{source}: key {key!r} must be a mapping, got {value!r}")
        return value
    if annotation is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if annotation is int and isinstance(value, bool):
        raise ConfigError(f"{source}: key {key!r} must be int, got {value!r}")
    if not isinstance(value, annotation):
        raise ConfigError(f"{source}: key {key!r} must be {annotation.__name__}, got {type(value).__name__} {value!r}")
    return value


# Keys renamed since earlier versions: the error says what to write instead.
RENAMED = {
    "data.train_dir": "data.train_dirs (a list of folders, e.g. [cache/aligned/celeba299_112x96])",
    "train.mixed_precision": "train.precision (float32 | bfloat16 | float16)",
}


def _unknown_key(source: str, dotted: str) -> ConfigError:
    hint = f"; it is now {RENAMED[dotted]}" if dotted in RENAMED else ""
    return ConfigError(f"{source}: unknown key {dotted!r}{hint}")


def _build(cls, raw: dict, prefix: str, source: str):
    if not isinstance(raw, dict):
        raise ConfigError(f"{source}: key {prefix.rstrip('.')!r} must be a mapping")
    hints = typing.get_type_hints(cls)
    names = {field.name for field in dataclasses.fields(cls)}
    for key in raw:
        if key not in names:
            raise _unknown_key(source, prefix + str(key))
    values = {}
    for name in names:
        dotted = prefix + name
        if name not in raw and dotted in ADDED_KEYS:
            values[name] = copy.deepcopy(ADDED_KEYS[dotted])
            continue
        if name not in raw:
            raise ConfigError(f"{source}: missing key {dotted!r} (the base config must define it)")
        annotation = hints[name]
        if dataclasses.is_dataclass(annotation):
            values[name] = _build(annotation, raw[name], dotted + ".", source)
        else:
            values[name] = _check_type(raw[name], annotation, dotted, source)
    return cls(**values)


def _set_dotted(raw: dict, dotted: str, value: Any, source: str) -> None:
    """Set `a.b.c` in the nested mapping; the key must already exist (except inside a free-form
    mapping such as loss.hparams or model.options)."""
    parts = dotted.split(".")
    node = raw
    for depth, part in enumerate(parts[:-1]):
        if not isinstance(node.get(part), dict):
            raise ConfigError(f"{source}: unknown key {'.'.join(parts[: depth + 1])!r}")
        node = node[part]
    if parts[-1] not in node and not set(parts[-2:-1]) & set(FREE_FORM_KEYS):
        raise _unknown_key(source, dotted)
    node[parts[-1]] = value


def apply_overrides(raw: dict, overrides: list[str]) -> dict:
    """Apply `key=value` strings; values are parsed as YAML (`0.1`, `true`, `[112, 96]`, `null`)."""
    raw = _merge(raw, {})
    for override in overrides:
        if "=" not in override:
            raise ConfigError(f"--set {override!r}: expected key=value")
        key, text = override.split("=", 1)
        try:
            value = yaml.safe_load(text)
        except yaml.YAMLError as error:
            raise ConfigError(f"--set {override!r}: value is not valid YAML: {error}") from None
        _set_dotted(raw, key.strip(), value, f"--set {override!r}")
    return raw


def load_config(path: str | Path, overrides: list[str] = ()) -> Config:
    """The typed, validated config of `path` (with its base chain) and `--set` overrides."""
    raw = load_raw(path)
    raw = apply_overrides(raw, list(overrides))
    if raw.get("name") is None:
        raw["name"] = Path(path).stem
    config = _build(Config, raw, "", str(path))
    validate(config, str(path))
    return config


CHOICES = {
    "data.format": DATA_FORMATS,
    "data.cache": CACHE_MODES,
    "train.precision": PRECISIONS,
    "model.bn_mode": BN_MODES,
    "optimizer.name": ("adam", "momentum", "sgd"),
    "train.strategy": ("default", "mirrored", "multi_worker"),
    "eval.flip": FLIP_MODES,
}


def _check_targets(targets: list[str], source: str) -> None:
    """Each `eval.targets` entry parses and names a benchmark once (files are checked when the
    run loads them)."""
    from verification.benchmarks import parse_spec

    names = []
    for spec in targets:
        try:
            names.append(parse_spec(spec)[0])
        except UserValueError as error:
            raise ConfigError(f"{source}: key 'eval.targets': {error}") from None
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise ConfigError(f"{source}: key 'eval.targets' names {', '.join(repeated)} more than once")


INF = float("inf")
# Every numeric key's range [low, high] (a null value is left to the key's own meaning); a value
# outside stops the load naming the key, e.g. train.log_every_steps 0 (a division by zero at the
# first step) or train.max_steps -5 (an untrained model exported as "done"). The model.* numbers
# are models.registry.check_options's, run by training/preflight.py before the run dir exists.
RANGES = {
    "seed": (0, 2**32 - 1),
    "data.min_images_per_identity": (1, INF),
    "data.shuffle_buffer": (1, INF),
    "data.parallel_calls": (-1, INF),
    "data.pk_identities": (1, INF),
    "data.pk_images": (1, INF),
    "optimizer.momentum": (0.0, 1.0),
    "optimizer.weight_decay": (0.0, INF),
    "optimizer.schedule.steps_per_epoch": (1, INF),
    "optimizer.schedule.warmup_steps": (0, INF),
    "train.batch_size": (1, INF),
    "train.max_steps": (1, INF),
    "train.log_every_steps": (1, INF),
    "train.checkpoint_every_steps": (1, INF),
    "train.keep_checkpoints": (1, INF),
    "eval.lfw_every_steps": (0, INF),
    "eval.folds": (1, 10),
    "eval.batch_size": (1, INF),
    "summaries.histogram_every_steps": (0, INF),
    "summaries.images_every_steps": (0, INF),
    "summaries.max_images": (0, INF),
}


def _check_ranges(config: Config, source: str) -> None:
    """Every RANGES key finite and in range (a null is left to the key's own meaning)."""
    for dotted, (low, high) in RANGES.items():
        value = config
        for part in dotted.split("."):
            value = getattr(value, part)
        if value is None:
            continue
        if not (math.isfinite(value) and low <= value <= high):
            bounds = f"[{low:g}, {'inf' if high == INF else f'{high:g}'}]"
            raise ConfigError(f"{source}: key {dotted!r} must be in {bounds}, got {value!r}")
    for index, rate in enumerate(config.optimizer.schedule.values):
        if not (math.isfinite(rate) and rate >= 0):
            raise ConfigError(
                f"{source}: key 'optimizer.schedule.values' entry {index} must be a "
                f"finite learning rate >= 0, got {rate!r}"
            )


def validate(config: Config, source: str) -> None:
    """Value checks that types alone cannot express."""
    _check_targets(config.eval.targets, source)
    _check_ranges(config, source)
    flat = config.to_dict()
    for dotted, allowed in CHOICES.items():
        section, key = dotted.split(".")
        if flat[section][key] not in allowed:
            raise ConfigError(f"{source}: key {dotted!r} must be one of {allowed}, got {flat[section][key]!r}")
    if tuple(config.data.image_size) not in IMAGE_SIZES:
        raise ConfigError(
            f"{source}: key 'data.image_size' must be one of "
            f"{[list(size) for size in IMAGE_SIZES]} ([H, W]), got {config.data.image_size}"
        )
    schedule = config.optimizer.schedule
    if schedule.file is None and len(schedule.values) != len(schedule.boundaries) + 1:
        raise ConfigError(f"{source}: key 'optimizer.schedule.values' needs len(boundaries) + 1 entries")
    if not 0.0 <= config.train.ema_decay < 1.0:
        raise ConfigError(f"{source}: key 'train.ema_decay' must be in [0, 1)")


def save_config(config: Config, path: str | Path) -> None:
    atomic_write_text(path, yaml.safe_dump(config.to_dict(), sort_keys=False))

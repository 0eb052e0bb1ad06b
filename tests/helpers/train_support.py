"""The training tests' tiny config (the stand-in dataset is the `standin_train_dir` fixture in
tests/conftest.py)."""

from __future__ import annotations

from pathlib import Path

from common.paths import REPO_ROOT
from training.config import load_config

BASE_CONFIG = REPO_ROOT / "experiments" / "configs" / "base.yaml"


def tiny_overrides(train_dir: Path, run_dir: Path, **extra) -> list[str]:
    """--set strings for a run that takes seconds: width 1/16, batch 8, no LFW check."""
    values = {
        "data.train_dirs": f"[{train_dir}]",
        "data.min_images_per_identity": 2,
        "run_dir": str(run_dir),
        "model.width": 0.0625,
        "model.embedding_size": 16,
        "train.batch_size": 8,
        "train.max_steps": 20,
        "train.log_every_steps": 5,
        "train.checkpoint_every_steps": 10,
        "eval.lfw_every_steps": 0,
        "summaries.images_every_steps": 10,
        "summaries.histogram_every_steps": 10,
        "optimizer.schedule.boundaries": "[]",
        "optimizer.schedule.values": "[0.001]",
    }
    values.update(extra)
    return [f"{key}={value}" for key, value in values.items()]


def tiny_config(train_dir: Path, run_dir: Path, **extra):
    return load_config(BASE_CONFIG, tiny_overrides(train_dir, run_dir, **extra))

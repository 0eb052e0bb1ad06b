"""Running every loss of the figure at one feature size and collecting what the report needs."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import losses
from experiments.mnist.data import NUM_CLASSES, Split
from experiments.mnist.metrics import feature_stats
from experiments.mnist.model import build_feature_net
from experiments.mnist.specs import LossSpec
from experiments.mnist.train import TrainConfig, TrainResult, train_features


@dataclass
class LossRun:
    """One trained panel: its spec, feature size, features and summary numbers."""

    spec: LossSpec
    feature_dim: int
    result: TrainResult
    stats: dict[str, float]
    seconds: float

    @property
    def title(self) -> str:
        return self.spec.title(self.feature_dim)


def run_losses(
    specs: Sequence[LossSpec],
    feature_dim: int,
    split: Split,
    config: TrainConfig,
    widths: Sequence[int],
    log: Callable[[str], None] = print,
) -> list[LossRun]:
    """Train a fresh network (same seed, same initial weights) under each loss in turn."""
    runs = []
    for spec in specs:
        started = time.perf_counter()
        model = build_feature_net(feature_dim, widths, seed=config.seed)
        head = losses.build(
            spec.loss_name, num_classes=NUM_CLASSES, embedding_size=feature_dim, **spec.hparams(feature_dim)
        )
        result = train_features(model, head, split.x_train, split.y_train, split.x_test, split.y_test, config)
        run = LossRun(
            spec,
            feature_dim,
            result,
            feature_stats(result.features, result.labels, result.predictions),
            time.perf_counter() - started,
        )
        log(
            f"{feature_dim}-D {run.title}: test accuracy {run.stats['accuracy']:.3f}, "
            f"mean feature norm {run.stats['norm_mean']:.2f}, {run.seconds:.0f} s"
        )
        runs.append(run)
    return runs

"""What batch norm costs in the compiled training step: no BN vs the BN switch with TensorFlow's
fused kernel (models/layers.py) vs the same switch through Keras 3's own BatchNormalization
(moments, then normalize, in float32). The real model, loss head and optimizer of a config, one
in-memory batch, interleaved rounds in one process; prints images/s and ratios against no BN.

    python benchmarks/bench_batch_norm.py [--config experiments/configs/demo.yaml] [--steps 30]
                                          [--rounds 3] [--precision bfloat16|float32]
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from common.errors import entry_point  # noqa: E402
from common.paths import REPO_ROOT, data_root  # noqa: E402
from common.tf_startup import import_tensorflow  # noqa: E402

tf = import_tensorflow()

import keras  # noqa: E402

from input_pipeline.standin import centre_crop_folders  # noqa: E402
from models.layers import FlagBatchNormalization  # noqa: E402
from training.config import load_config  # noqa: E402
from training.loop import Trainer  # noqa: E402

PROG = "benchmarks/bench_batch_norm.py"

VARIANTS = ("no BN", "BN switch, fused kernel", "BN switch, Keras BatchNormalization")


@contextlib.contextmanager
def keras_batch_norm():
    """While open, FlagBatchNormalization normalises through Keras' BatchNormalization.call."""
    fused = FlagBatchNormalization._normalize

    def through_keras(layer, inputs, train):
        return keras.layers.BatchNormalization.call(layer, inputs, training=train)

    FlagBatchNormalization._normalize = through_keras
    try:
        yield
    finally:
        FlagBatchNormalization._normalize = fused


def make_step(args, variant: str, work: Path, train_dirs: list[Path]):
    """A warmed-up function(steps) running the compiled step of `variant` on one batch."""
    run_dir = work / variant.replace(" ", "_").replace(",", "")
    run_dir.mkdir()
    config = load_config(
        args.config,
        [
            f"data.train_dirs=[{', '.join(map(str, train_dirs))}]",
            f"run_dir={run_dir}",
            f"train.precision={args.precision}",
            f"model.bn_mode={'none' if variant == 'no BN' else 'switch'}",
            "data.cache=none",
            "eval.lfw_every_steps=0",
            "summaries.images_every_steps=0",
            "summaries.histogram_every_steps=0",
        ],
    )
    trainer = Trainer(config, run_dir, data_root(), logging.getLogger("bench"))
    images, labels = next(iter(trainer.make_dataset(0)))

    def run(steps: int) -> None:
        for _ in range(steps):
            stats = trainer.train_step(images, labels)
        float(stats["total_loss"])

    run(3)  # tracing
    return run, config.train.batch_size


@entry_point(PROG)
def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog=PROG, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--config", default=str(REPO_ROOT / "experiments/configs/demo.yaml"))
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--precision", choices=("bfloat16", "float32"), default="bfloat16")
    args = parser.parse_args(argv)

    work = Path(tempfile.mkdtemp(prefix="bench_batch_norm_"))
    train_dirs = [Path(path) for path in load_config(args.config).data.train_dirs]
    if not all((REPO_ROOT / path).is_dir() for path in train_dirs):
        train_dirs = [
            centre_crop_folders(
                data_root() / "celeba299", work / "standin", identities=40, images_per_identity=20, min_images=10
            )
        ]
    else:
        train_dirs = [REPO_ROOT / path for path in train_dirs]
    steps = {}
    for variant in VARIANTS:
        patch = keras_batch_norm() if "Keras" in variant else contextlib.nullcontext()
        with patch:  # the patch only matters while the step is traced
            steps[variant] = make_step(args, variant, work, train_dirs)
    rounds = {variant: [] for variant in VARIANTS}
    for _ in range(args.rounds):
        for variant, (run, batch) in steps.items():
            start = time.perf_counter()
            run(args.steps)
            rounds[variant].append(args.steps * batch / (time.perf_counter() - start))
    speed = {variant: statistics.median(values) for variant, values in rounds.items()}
    config = load_config(args.config)
    print(
        f"{config.model.name} x{config.model.width}, batch {config.train.batch_size}, {args.precision}, "
        f"{os.cpu_count()} CPUs, {args.rounds} rounds x {args.steps} steps, medians"
    )
    for variant in VARIANTS:
        print(f"  {variant:<38} {speed[variant]:7.1f} img/s   ratio vs no BN {speed[variant] / speed['no BN']:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

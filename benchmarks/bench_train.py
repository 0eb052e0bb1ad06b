"""Training throughput: train.py's real loop (aligned images from disk) vs the bare compiled step
on in-memory tensors, and vs an eager (uncompiled) step. Prints images/s and ratios measured in
the same process, so machine load cancels out as far as possible.

    python benchmarks/bench_train.py [--train-dir cache/aligned/celeba299_112x96] [--steps 30]

Target: real loop / bare step >= 0.9 (the input pipeline keeps up). Without the aligned cache, a
centre-crop stand-in of celeba299 is built in a temporary folder.
"""
from __future__ import annotations

import argparse
import logging
import statistics
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import tensorflow as tf  # noqa: E402

from common.paths import REPO_ROOT, data_root  # noqa: E402
from input_pipeline.standin import centre_crop_folders  # noqa: E402
from training.config import load_config  # noqa: E402
from training.loop import Trainer, _train  # noqa: E402
from training.optimizers import decayed_variables  # noqa: E402
from training.step import make_replica_step  # noqa: E402


def timed(function, steps: int, batch_size: int) -> float:
    """Images per second of `function()` run `steps` times (it must block until done)."""
    start = time.perf_counter()
    function(steps)
    return steps * batch_size / (time.perf_counter() - start)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--train-dir", default=str(REPO_ROOT / "cache/aligned/celeba299_112x96"))
    parser.add_argument("--config", default=str(REPO_ROOT / "experiments/configs/base.yaml"))
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--eager-steps", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=3, help="interleaved measurement rounds")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--width", type=float, default=0.25)
    args = parser.parse_args(argv)

    work = Path(tempfile.mkdtemp(prefix="bench_train_"))
    train_dir = Path(args.train_dir)
    if not train_dir.is_dir():
        train_dir = centre_crop_folders(data_root() / "celeba299", work / "standin", identities=40,
                                        images_per_identity=20, min_images=10)
        print(f"aligned cache absent: using a centre-crop stand-in ({train_dir})")
    config = load_config(args.config, [
        f"data.train_dir={train_dir}", f"run_dir={work / 'run'}", f"train.batch_size={args.batch_size}",
        f"model.width={args.width}", "eval.lfw_every_steps=0", "train.checkpoint_every_steps=1000000",
        "summaries.images_every_steps=0", "summaries.histogram_every_steps=0",
        "train.log_every_steps=1000000"])
    (work / "run").mkdir()
    logger = logging.getLogger("bench")
    trainer = Trainer(config, work / "run", data_root(), logger)
    writer = tf.summary.create_file_writer(str(work / "run" / "tensorboard"))

    def real_loop(steps):
        trainer.config.train.max_steps = trainer.state.current_step() + steps
        _train(trainer, writer, trainer.state.current_step())

    images, labels = next(iter(trainer.make_dataset(0)))

    def bare_step(steps):
        for _ in range(steps):
            stats = trainer.train_step(images, labels)
        float(stats["total_loss"])

    eager = make_replica_step(
        trainer.model, trainer.loss_layer, trainer.optimizer, trainer.state,
        decayed_variables=decayed_variables(trainer.variables, config.optimizer.decay_exclude),
        weight_decay=config.optimizer.weight_decay, ema=trainer.ema,
        class_kernel=getattr(trainer.loss_layer, "kernel", None), num_classes=len(trainer.identities))

    def eager_step(steps):
        for _ in range(steps):
            stats = eager(images, labels)
        float(stats["total_loss"])

    real_loop(3)      # warm-up: tracing, pipeline start
    bare_step(2)
    eager_step(1)
    # Interleaved rounds, median per variant: the 2 CPUs are shared, so load drifts over a run.
    rounds = {"bare": [], "real": [], "eager": []}
    for _ in range(args.rounds):
        rounds["bare"].append(timed(bare_step, args.steps, args.batch_size))
        rounds["real"].append(timed(real_loop, args.steps, args.batch_size))
        rounds["eager"].append(timed(eager_step, args.eager_steps, args.batch_size))
    bare, real, slow = (statistics.median(rounds[k]) for k in ("bare", "real", "eager"))
    ratios = [r / b for r, b in zip(rounds["real"], rounds["bare"])]
    print("per-round real/bare ratios: " + ", ".join(f"{r:.2f}" for r in ratios))
    print(f"model {config.model.name} width {args.width}, batch {args.batch_size}, {os.cpu_count()} CPUs")
    print(f"bare compiled step (in-memory batch): {bare:8.1f} img/s")
    print(f"train.py loop (images from disk):     {real:8.1f} img/s   ratio vs bare {real / bare:.2f} (medians) (target >= 0.9)")
    print(f"eager step (no tf.function):          {slow:8.1f} img/s   compiled speed-up x{bare / slow:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Training throughput: train.py's real loop reading images from disk and from the in-RAM
decoded cache (data.cache: memory), vs the bare compiled step on one in-memory batch, at float32
and (where the CPU has native bfloat16) bfloat16, and with XLA off and/or on (train.jit_compile).
Prints images/s and ratios measured in the same process, interleaved, so machine load cancels
out as far as possible.

    python benchmarks/bench_train.py [--train-dirs A B] [--steps 40] [--rounds 3] [--width 0.25]
                                     [--xla off|on|both] [--bare-only]

With bfloat16 it first checks every convolution, dense and pooling shape of the model in bfloat16 against
float32, as train.py does (training/bf16_check.py; why: docs/benchmarks.md), and leaves bfloat16 out
where one is wrong.

Targets: real loop from the cache / bare step >= 0.95; from disk >= 0.9. Without the aligned
cache, a centre-crop stand-in of celeba299 is built in a temporary folder.
"""

from __future__ import annotations

import argparse
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

tf = import_tensorflow()  # before input_pipeline/ and training/ import it: without the CPU-only notices

from input_pipeline.standin import centre_crop_folders  # noqa: E402
from training import bf16_check  # noqa: E402
from training.config import load_config  # noqa: E402
from training.loop import Trainer, build_model  # noqa: E402
from training.strategy import cpu_has_native_bf16  # noqa: E402

PROG = "benchmarks/bench_train.py"

XLA_MODES = {"off": (False,), "on": (True,), "both": (False, True)}


def bf16_layers_right(config, batch_size: int) -> bool:
    """Prints training.bf16_check's result for the benchmarked model; False where one is wrong."""
    result = bf16_check.check_model(build_model(config), batch_size)
    problem = bf16_check.verdict(result, config.model.name)
    isa = os.environ.get("ONEDNN_MAX_CPU_ISA", "not set")
    print(
        f"bfloat16 convolution, dense and pooling check (ONEDNN_MAX_CPU_ISA {isa}): "
        f"{len(result.wrong)} of {result.checked} shapes wrong, {result.seconds:.1f} s"
        + (f"; bfloat16 left out: {problem}" if problem else "")
    )
    return problem is None


def timed(function, steps: int, batch_size: int) -> float:
    """Images per second of `function()` run `steps` times (it must block until done)."""
    start = time.perf_counter()
    function(steps)
    return steps * batch_size / (time.perf_counter() - start)


def make_trainer(args, train_dirs, work: Path, precision: str, xla: bool, cache: str, warm_loop: bool = True):
    run_dir = work / f"{precision}_xla{int(xla)}_{cache}"
    run_dir.mkdir()
    config = load_config(
        args.config,
        [
            f"data.train_dirs=[{', '.join(map(str, train_dirs))}]",
            f"run_dir={run_dir}",
            f"train.batch_size={args.batch_size}",
            f"model.width={args.width}",
            f"train.precision={precision}",
            f"data.cache={cache}",
            f"train.jit_compile={xla}",
            "eval.lfw_every_steps=0",
            "train.checkpoint_every_steps=1000000",
            "summaries.images_every_steps=0",
            "summaries.histogram_every_steps=0",
            "train.log_every_steps=1000000",
        ],
    )
    trainer = Trainer(config, run_dir, data_root(), logging.getLogger("bench"))
    writer = tf.summary.create_file_writer(str(run_dir / "tensorboard"))

    def real_loop(steps):
        trainer.train_until(trainer.state.current_step() + steps, writer)

    images, labels = next(iter(trainer.make_dataset(0)))

    def bare_step(steps):
        for _ in range(steps):
            stats = trainer.train_step(images, labels)
        float(stats["total_loss"])

    if warm_loop:
        real_loop(3)  # warm-up: tracing, pipeline start
    bare_step(2)
    return real_loop, bare_step


def report_variant(speed, precision: str, xla: bool, bare_only: bool) -> None:
    label = f"{precision}{' + XLA' if xla else ''}"
    bare = speed[(precision, xla, "bare")]
    print(f"{label:>15} bare compiled step (one in-memory batch): {bare:7.1f} img/s")
    if bare_only:
        return
    for kind, what, target in (("disk", "images from disk:     ", 0.9), ("cache", "decoded cache in RAM: ", 0.95)):
        print(
            f"{label:>15} train.py loop, {what}{speed[(precision, xla, kind)]:7.1f} img/s"
            f"   ratio vs bare {speed[(precision, xla, kind)] / bare:.2f} (target >= {target})"
        )


@entry_point(PROG)
def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog=PROG, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--train-dirs",
        nargs="+",
        default=[str(REPO_ROOT / "cache/aligned/celeba299_112x96"), str(REPO_ROOT / "cache/aligned/celeba841_112x96")],
    )
    parser.add_argument("--config", default=str(REPO_ROOT / "experiments/configs/base.yaml"))
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--rounds", type=int, default=3, help="interleaved measurement rounds")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--width", type=float, default=0.25)
    parser.add_argument(
        "--xla",
        choices=XLA_MODES,
        default="off",
        help="XLA-compile the step (train.jit_compile): off, on, or both in the same run",
    )
    parser.add_argument(
        "--bare-only",
        action="store_true",
        help="time only the bare compiled step (skip the real loops: quicker at full width)",
    )
    parser.add_argument(
        "--precisions", nargs="+", default=None, help="default: float32, plus bfloat16 where the CPU has it natively"
    )
    args = parser.parse_args(argv)

    work = Path(tempfile.mkdtemp(prefix="bench_train_"))
    train_dirs = [Path(path) for path in args.train_dirs]
    if not all(path.is_dir() for path in train_dirs):
        train_dirs = [
            centre_crop_folders(
                data_root() / "celeba299", work / "standin", identities=40, images_per_identity=20, min_images=10
            )
        ]
        print(f"aligned cache absent: using a centre-crop stand-in ({train_dirs[0]})")
    precisions = args.precisions or (["float32", "bfloat16"] if cpu_has_native_bf16() else ["float32"])
    if "bfloat16" in precisions and not bf16_layers_right(
        load_config(args.config, [f"model.width={args.width}"]), args.batch_size
    ):
        precisions = [precision for precision in precisions if precision != "bfloat16"]
    xla_modes = XLA_MODES[args.xla]
    variants = {}
    for precision in precisions:
        for xla in xla_modes:
            disk_loop, bare = make_trainer(args, train_dirs, work, precision, xla, "none", warm_loop=not args.bare_only)
            variants[(precision, xla, "bare")] = bare
            if not args.bare_only:
                variants[(precision, xla, "disk")] = disk_loop
                variants[(precision, xla, "cache")] = make_trainer(args, train_dirs, work, precision, xla, "memory")[0]
    # Interleaved rounds, median per variant: the 2 CPUs are shared, so load drifts over a run.
    rounds = {key: [] for key in variants}
    for _ in range(args.rounds):
        for key, function in variants.items():
            rounds[key].append(timed(function, args.steps, args.batch_size))
    speed = {key: statistics.median(values) for key, values in rounds.items()}
    print(
        f"model {args.width}x {load_config(args.config).model.name}, batch {args.batch_size}, XLA {args.xla}, "
        f"{os.cpu_count()} CPUs, "
        f"native bf16: {cpu_has_native_bf16()}, {args.rounds} rounds x {args.steps} steps, medians"
    )
    for precision in precisions:
        for xla in xla_modes:
            report_variant(speed, precision, xla, args.bare_only)
    for xla in xla_modes:
        if "float32" in precisions and "bfloat16" in precisions:
            print(
                f"XLA {'on' if xla else 'off'}: bfloat16 / float32, bare step "
                f"{speed[('bfloat16', xla, 'bare')] / speed[('float32', xla, 'bare')]:.2f}"
                + (
                    ""
                    if args.bare_only
                    else "; real loop with cache "
                    f"{speed[('bfloat16', xla, 'cache')] / speed[('float32', xla, 'cache')]:.2f}"
                )
            )
    if len(xla_modes) == 2:
        for precision in precisions:
            print(
                f"{precision}: XLA on / off, bare step "
                f"{speed[(precision, True, 'bare')] / speed[(precision, False, 'bare')]:.2f}"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())

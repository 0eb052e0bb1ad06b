"""The check to run on the day a GPU is available: one command, under 8 minutes on one H200.

    python benchmarks/gpu_check.py [--out runs/gpu_check] [--data-root DIR]
    python benchmarks/gpu_check.py --dry-run      # the same code paths on CPU, tiny sizes (CI)

1. Device: TensorFlow's view of the GPU(s) (name, compute capability) and the CPU count.
2. Training throughput of full-width Resface20 (the article's full-scale config,
   experiments/configs/full_resface20_am_vggface2.yaml) at batch 256: train.py's compiled step
   (Trainer.train_step) on one batch held on the device, so input is not measured, for float32,
   bfloat16 and bfloat16 + XLA (train.precision, train.jit_compile). Model FLOP utilisation (MFU)
   = images/s x 3 x 2 x multiply-adds per image / peak: a training step is taken as 3 forward
   passes (forward, backward for activations and for weights), the multiply-adds are counted from
   the model (1.75 G for Resface20 at 112x96, BN/activations/loss head not counted). Peaks assumed
   (dense, no sparsity): H200 and H100 SXM 989 TFLOP/s bf16 tensor cores, 67 TFLOP/s float32 CUDA
   cores; H100 PCIe 756 and 51. TensorFlow runs float32 convolutions and matmuls as TF32 on tensor
   cores by default (494 TFLOP/s on an H200, 378 on an H100 PCIe), so float32 is also shown against
   that. Other GPUs: --peak-bf16 / --peak-fp32.
3. Training: train.py on the demo config (experiments/configs/demo.yaml) at full width (model.width
   1.0) for 500 steps, TensorBoard and checkpoints into <out>/demo_full_width (--overwrite).
4. Evaluation: eval_lfw.py on that run, LFW View 2 (10 folds), JSON into <out>/lfw_view2.json.

Needs the data the demo needs (LFW, lfw_pairs.txt, the training sets); aligned caches missing from
cache/aligned/ are aligned first with the demo's commands (minutes on CPU, not counted in the 8).
Everything printed is also written to <out>/gpu_check.json.

--dry-run: CPU only (GPUs hidden), Resface20 at width 1/16, batch 8, 3 timed steps, 10 training
steps on generated identity folders and a generated 2-fold LFW-like pairs set (no data needed).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")
REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from common.errors import UserError, entry_point  # noqa: E402
from common.tf_startup import import_tensorflow  # noqa: E402

PROG = "benchmarks/gpu_check.py"

FULL_CONFIG = REPO / "experiments/configs/full_resface20_am_vggface2.yaml"
DEMO_CONFIG = REPO / "experiments/configs/demo.yaml"
# Dense peaks in TFLOP/s by GPU name (the first key found in the name): float32 on CUDA cores,
# TF32 and bfloat16 on tensor cores. An H100 not named PCIe is the SXM part, the H200's chip.
PEAKS = {
    "H200": {"float32": 67.0, "tf32": 494.0, "bfloat16": 989.0},
    "H100 PCIe": {"float32": 51.0, "tf32": 378.0, "bfloat16": 756.0},
    "H100": {"float32": 67.0, "tf32": 494.0, "bfloat16": 989.0},
}
VARIANTS = (("float32", False), ("bfloat16", False), ("bfloat16", True))
BUDGET_MINUTES = 8.0


def log(message: str) -> None:
    print(message, flush=True)


def run(command: list[str], env: dict | None = None) -> float:
    """Run a repository command as a user would (printed first); returns its wall time in s."""
    log("$ " + shlex.join(command))
    started = time.time()
    result = subprocess.run(command, cwd=REPO, env=env)
    if result.returncode != 0:  # its own error is above; exit with its code (common/errors.py)
        print(
            f"benchmarks/gpu_check.py: error: step failed (exit code {result.returncode}): {shlex.join(command)}",
            file=sys.stderr,
        )
        sys.exit(result.returncode)
    return time.time() - started


# ---------------------------------------------------------------- generated data (dry run)


def textured_images(rng, count: int, size=(112, 96)):
    """`count` images of one 'person': a shared random texture plus a little noise."""
    import numpy as np

    texture = rng.uniform(0, 200, size=(*size, 3))
    return [np.clip(texture + rng.uniform(0, 40, size=(*size, 3)), 0, 255).astype("uint8") for _ in range(count)]


def make_identity_folders(root: Path, identities: int, per_identity: int, seed: int = 0) -> Path:
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(seed)
    for i in range(identities):
        folder = root / f"id{i:04d}"
        folder.mkdir(parents=True, exist_ok=True)
        for n, image in enumerate(textured_images(rng, per_identity)):
            Image.fromarray(image).save(folder / f"{n:04d}.png")
    return root


def make_lfw_like(root: Path, folds: int = 2, per_class: int = 6) -> tuple[Path, Path]:
    """A generated aligned LFW folder and a View 2 style pairs file over it."""
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(1)
    lines, person = [f"{folds} {per_class}"], 0
    for _ in range(folds):
        lines += [f"P{person + k} 1 2" for k in range(per_class)]
        person += per_class
        lines += [f"P{person + 2 * k} 1 P{person + 2 * k + 1} 1" for k in range(per_class)]
        person += 2 * per_class
    lfw = root / "lfw_aligned"
    for p in range(person):
        (lfw / f"P{p}").mkdir(parents=True, exist_ok=True)
        for n, image in enumerate(textured_images(rng, 2), start=1):
            Image.fromarray(image).save(lfw / f"P{p}" / f"P{p}_{n:04d}.png")
    pairs = root / "pairs.txt"
    pairs.write_text("\n".join(lines) + "\n")
    return lfw, pairs


# ---------------------------------------------------------------- stages


def describe_device(dry_run: bool) -> dict:
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    details = [tf.config.experimental.get_device_details(gpu) for gpu in gpus]
    names = [d.get("device_name", "GPU") for d in details]
    info = {
        "tensorflow": tf.__version__,
        "gpus": names,
        "compute_capability": [".".join(map(str, d.get("compute_capability", ()))) for d in details],
        "cpu_count": os.cpu_count(),
        "dry_run": dry_run,
    }
    if dry_run:
        from training.strategy import cpu_has_native_bf16

        info["cpu_native_bf16"] = cpu_has_native_bf16()
    log(
        f"device: {', '.join(names) or 'CPU only'} (TensorFlow {tf.__version__}, {os.cpu_count()} CPUs"
        f"{', dry run' if dry_run else ''})"
    )
    return info


def peaks_for(device_names: list[str], args) -> dict:
    """Peak TFLOP/s per precision for the first GPU, from the table or the command line."""
    peaks = next((dict(p) for key, p in PEAKS.items() if any(key in name for name in device_names)), {})
    if args.peak_bf16:
        peaks["bfloat16"] = args.peak_bf16
    if args.peak_fp32:
        peaks["float32"] = args.peak_fp32
        peaks.pop("tf32", None)
    return peaks


def measure_throughput(args, work: Path, peaks: dict) -> list[dict]:
    import logging

    from models.complexity import count_macs
    from training.config import load_config
    from training.loop import Trainer

    train_dir = make_identity_folders(work / "throughput_ids", identities=16, per_identity=4)
    rows = []
    for precision, jit in VARIANTS:
        name = f"{precision}{'_xla' if jit else ''}"
        run_dir = work / f"throughput_{name}"
        run_dir.mkdir()
        config = load_config(
            FULL_CONFIG,
            [
                f"data.train_dirs=[{train_dir}]",
                f"run_dir={run_dir}",
                f"model.width={args.width}",
                f"train.batch_size={args.batch_size}",
                f"train.precision={precision}",
                f"train.jit_compile={str(jit).lower()}",
                "data.cache=none",
                "eval.lfw_every_steps=0",
            ],
        )
        trainer = Trainer(config, run_dir, work, logging.getLogger("gpu_check"))
        images, labels = next(iter(trainer.make_dataset(0)))
        started = time.time()
        float(trainer.train_step(images, labels)["total_loss"])  # trace / XLA compile
        first_step_s = time.time() - started
        for _ in range(args.warmup):
            stats = trainer.train_step(images, labels)
        float(stats["total_loss"])
        started = time.time()
        for _ in range(args.steps):
            stats = trainer.train_step(images, labels)
        loss = float(stats["total_loss"])  # waits for the device
        images_per_s = args.steps * args.batch_size / (time.time() - started)
        macs = count_macs(trainer.model)
        tflops = images_per_s * 6 * macs / 1e12
        row = {
            "variant": name,
            "precision": precision,
            "xla": jit,
            "batch": args.batch_size,
            "width": args.width,
            "images_per_s": round(images_per_s, 1),
            "model_tflops": round(tflops, 3),
            "macs_per_image": macs,
            "first_step_s": round(first_step_s, 1),
            "loss": loss,
        }
        peak_key = "bfloat16" if precision == "bfloat16" else "float32"
        if peak_key in peaks:
            row["mfu"] = tflops / peaks[peak_key]
        if precision == "float32" and "tf32" in peaks:
            row["mfu_vs_tf32"] = tflops / peaks["tf32"]
        mfu = f"MFU {100 * row['mfu']:.1f}% of {peaks[peak_key]:g}" if "mfu" in row else "MFU n/a (no peak)"
        if "mfu_vs_tf32" in row:
            mfu += f" ({100 * row['mfu_vs_tf32']:.1f}% of TF32 {peaks['tf32']:g})"
        log(
            f"  {name:<14} {images_per_s:9.1f} img/s  {tflops:8.2f} TFLOP/s  {mfu}  "
            f"(first step incl. tracing {first_step_s:.1f}s, loss {loss:.3f})"
        )
        rows.append(row)
        del trainer, images, labels, stats
    return rows


def demo_training(args, work: Path, out: Path) -> dict:
    """train.py on the demo config at full width; returns wall time and logged images/s."""
    from training.config import load_config

    run_dir = out / "demo_full_width"
    sets = [f"model.width={args.demo_width}", f"train.max_steps={args.demo_steps}", f"run_dir={run_dir}"]
    if args.dry_run:
        train_dir = make_identity_folders(work / "demo_ids", identities=8, per_identity=4, seed=2)
        lfw_dir, pairs = make_lfw_like(work)
        sets += [
            f"data.train_dirs=[{train_dir}]",
            "data.min_images_per_identity=1",
            "train.batch_size=8",
            "train.log_every_steps=5",
            "train.checkpoint_every_steps=5",
            "eval.lfw_every_steps=5",
            "eval.folds=2",
            f"eval.lfw_dir={lfw_dir}",
            f"eval.pairs={pairs}",
            "summaries.images_every_steps=5",
            "summaries.histogram_every_steps=5",
        ]
    else:
        config = load_config(DEMO_CONFIG)
        ensure_aligned(config, args)
        lfw_dir, pairs = REPO / config.eval.lfw_dir, data_root_of(args) / "lfw_pairs.txt"
    command = [sys.executable, "train.py", "--config", str(DEMO_CONFIG), "--overwrite"]
    if args.data_root:
        command += ["--data-root", args.data_root]
    command += [arg for value in sets for arg in ("--set", value)]
    wall = run(command)
    logged = [float(v) for v in re.findall(r" ([\d.]+) img/s ETA", (run_dir / "train.log").read_text())]
    steady = logged[1:] or logged
    result = {
        "run_dir": str(run_dir),
        "steps": args.demo_steps,
        "width": args.demo_width,
        "wall_s": round(wall, 1),
        "images_per_s_median": round(statistics.median(steady), 1) if steady else None,
        "tensorboard_files": len(list((run_dir / "tensorboard").rglob("events.out.tfevents.*"))),
        "lfw_dir": str(lfw_dir),
        "pairs": str(pairs),
    }
    log(
        f"  trained {args.demo_steps} steps in {wall:.0f}s (process start included), median "
        f"{result['images_per_s_median']} img/s, {result['tensorboard_files']} TensorBoard event files"
    )
    return result


def evaluate_lfw(training: dict, out: Path) -> dict:
    result_json = out / "lfw_view2.json"
    wall = run(
        [
            sys.executable,
            "eval_lfw.py",
            "--model",
            training["run_dir"],
            "--lfw-dir",
            training["lfw_dir"],
            "--pairs",
            training["pairs"],
            "--json",
            str(result_json),
        ]
    )
    result = json.loads(result_json.read_text())
    summary = {
        "wall_s": round(wall, 1),
        "accuracy_mean": result["accuracy_mean"],
        "accuracy_std": result["accuracy_std"],
        "val_mean": result["val_mean"],
        "auc": result["auc"],
        "folds": result.get("num_folds"),
    }
    log(
        f"  LFW: {100 * summary['accuracy_mean']:.2f} +- {100 * summary['accuracy_std']:.2f}% "
        f"({summary['folds']} folds), VAL@FAR=1e-3 {100 * summary['val_mean']:.2f}%, AUC {summary['auc']:.4f}, "
        f"{wall:.0f}s"
    )
    return summary


def data_root_of(args) -> Path:
    from common.paths import data_root

    return data_root(args.data_root)


def ensure_aligned(config, args) -> None:
    """Align what the demo config needs and cache/aligned/ lacks, with the demo's commands."""
    from align.inputs import alignment_commands

    commands = alignment_commands(
        sys.executable,
        data_root_of(args),
        config.data.train_dirs,
        config.eval.lfw_dir,
        config.data.image_size,
        os.cpu_count(),
        REPO / "cache" / "lfw_pairs_images.txt",
    )
    for aligned, command in commands:
        if not (REPO / aligned).is_dir():
            run(command)


@entry_point(PROG)
def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog=PROG, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--dry-run", action="store_true", help="CPU, tiny sizes: check the code paths in seconds")
    parser.add_argument("--out", default=None, help="output folder (default runs/gpu_check, dry run: a temp dir)")
    parser.add_argument("--data-root", default=None, help="data root (default $FACEREC_DATA or ../shared/data)")
    parser.add_argument("--peak-bf16", type=float, default=None, help="peak bf16 TFLOP/s of this GPU (dense)")
    parser.add_argument("--peak-fp32", type=float, default=None, help="peak float32 TFLOP/s of this GPU")
    args = parser.parse_args(argv)
    if args.dry_run:
        os.environ["CUDA_VISIBLE_DEVICES"] = "-1"  # the CPU path, also on a GPU machine
    args.width, args.batch_size = (0.0625, 8) if args.dry_run else (1.0, 256)
    args.steps, args.warmup = (3, 1) if args.dry_run else (30, 5)
    args.demo_width, args.demo_steps = (0.0625, 10) if args.dry_run else (1.0, 500)

    tf = import_tensorflow()  # after CUDA_VISIBLE_DEVICES: without the CPU-only start-up notices

    started = time.time()
    work = Path(tempfile.mkdtemp(prefix="gpu_check_"))
    out = Path(args.out) if args.out else (work / "out" if args.dry_run else REPO / "runs" / "gpu_check")
    out.mkdir(parents=True, exist_ok=True)
    for gpu in tf.config.list_physical_devices("GPU"):
        tf.config.experimental.set_memory_growth(gpu, True)  # leave memory to train.py / eval_lfw.py
    report = {"device": describe_device(args.dry_run)}
    if not args.dry_run and not report["device"]["gpus"]:
        raise UserError(
            "no GPU visible to TensorFlow (install tensorflow[and-cuda]); --dry-run checks the code paths on CPU"
        )
    peaks = peaks_for(report["device"]["gpus"], args)
    report["peaks_tflops"] = peaks
    stages = {}

    log(
        f"\n[1/3] training throughput, Resface20 width {args.width}, batch {args.batch_size}, "
        f"one batch on the device, {args.steps} timed steps"
    )
    stage = time.time()
    report["throughput"] = measure_throughput(args, work, peaks)
    stages["throughput_s"] = time.time() - stage

    log(f"\n[2/3] train.py: demo config at width {args.demo_width}, {args.demo_steps} steps")
    stage = time.time()
    report["training"] = demo_training(args, work, out)
    stages["training_s"] = time.time() - stage

    log("\n[3/3] eval_lfw.py: LFW View 2 on the trained run")
    stage = time.time()
    report["lfw"] = evaluate_lfw(report["training"], out)
    stages["eval_s"] = time.time() - stage

    total = (time.time() - started) / 60
    report["stages_s"] = {key: round(value, 1) for key, value in stages.items()}
    report["total_minutes"] = round(total, 2)
    (out / "gpu_check.json").write_text(json.dumps(report, indent=2) + "\n")
    log(
        f"\ngpu_check {'dry run ' if args.dry_run else ''}finished in {total:.1f} min "
        f"(budget {BUDGET_MINUTES:g} min on one H200); report: {out / 'gpu_check.json'}"
    )
    if not args.dry_run and total > BUDGET_MINUTES:
        log(f"warning: over the {BUDGET_MINUTES:g}-minute budget")
    if work not in out.parents:  # generated data and throughput runs; the report is elsewhere
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

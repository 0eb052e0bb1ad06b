"""Single-image latency and file size of the TFLite variants against their SavedModel, measured in
the same run, plus the embedding agreement on LFW where eval_lfw.py cached both.

    python benchmarks/bench_tflite.py runs/cpu/optimizer_bn/adam_bn_switch/seed0
    python benchmarks/bench_tflite.py --untrained mobilefacenet --width 1.0

A run dir's export/ holds the SavedModel and the .tflite files `python -m models export-tflite`
wrote. `--untrained NAME` builds a seeded untrained network, exports and converts it to every
variant in a temporary folder (latency and size do not depend on training; int8 calibrates on
the aligned CPU-scale training images). Latency: one aligned LFW face per call, the variants
timed in turns (round robin) so a busy machine slows them alike; medians, and each variant's
ratio to the SavedModel. Agreement: the cosine between each variant's cached LFW embeddings and
the SavedModel's (eval_lfw.py --model on each), over every image (and its mirror where the
variant's cache holds mirrors).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402

from common.errors import entry_point  # noqa: E402
from common.paths import CACHE_DIR  # noqa: E402
from common.tf_startup import import_tensorflow  # noqa: E402

PROG = "benchmarks/bench_tflite.py"

FACE = CACHE_DIR / "aligned" / "lfw_112x96" / "Aaron_Peirsol" / "Aaron_Peirsol_0001.jpg"
CALIBRATION = [CACHE_DIR / "aligned" / "celeba299_112x96"]


def untrained_export(name: str, width: float, folder: Path) -> Path:
    """A seeded untrained `name` exported with every TFLite variant into `folder`/export."""
    import keras

    import models
    from models.tflite import QUANTIZE_MODES, calibration_images, export_tflite

    keras.utils.set_random_seed(0)
    model = models.build(name, embedding_size=128, width=width)
    export = models.export_embedder(
        model, folder / "export", (112, 96), {"note": f"untrained {name} x{width}, bench_tflite.py"}
    )
    images = calibration_images(CALIBRATION, 200, (112, 96))
    for quantize in QUANTIZE_MODES:
        export_tflite(export, quantize, images if quantize == "int8" else None)
    return export


def variants(export: Path) -> dict[str, Path]:
    """The SavedModel and every .tflite variant present, by quantize mode."""
    from models.tflite import QUANTIZE_MODES, tflite_path

    found = {"savedmodel": export / "embedder"}
    found.update({q: tflite_path(export, q) for q in QUANTIZE_MODES if tflite_path(export, q).is_file()})
    return found


def size_mib(path: Path) -> float:
    files = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]
    return sum(p.stat().st_size for p in files) / 2**20


def latencies_ms(embedders: dict, face: np.ndarray, rounds: int, calls: int) -> dict[str, float]:
    """Median milliseconds per single-image call, the variants timed in turns."""
    for embed in embedders.values():  # warm-up: graph building, first allocations
        for _ in range(3):
            embed(face)
    times = {name: [] for name in embedders}
    for _ in range(rounds):
        for name, embed in embedders.items():
            started = time.perf_counter()
            for _ in range(calls):
                embed(face)
            times[name].append((time.perf_counter() - started) / calls * 1e3)
    return {name: float(np.median(values)) for name, values in times.items()}


def agreement(run_dir: Path, names: list[str]) -> dict[str, float]:
    """Minimum cosine over LFW images (and mirrors, where cached) of each variant's cached embeddings against
    the SavedModel's: the newest cache in run/eval/ and run/eval/<tflite stem>/."""
    from verification.embeddings_file import load_embedding_table, path_stem

    def newest(folder: Path):
        caches = sorted(folder.glob("lfw_embeddings_*.npz"), key=lambda p: p.stat().st_mtime)
        return load_embedding_table(caches[-1]) if caches else None

    reference = newest(run_dir / "eval")
    result = {}
    for name in names:
        table = newest(run_dir / "eval" / variants(run_dir / "export")[name].stem)
        if reference is None or table is None:
            continue
        rows = table.rows_for([path_stem(p) for p in reference.paths])
        a, b = reference.embeddings, table.embeddings[rows]
        if table.embeddings_flip is not None:  # mirrors too, where both caches hold them
            a = np.concatenate([a, reference.embeddings_flip])
            b = np.concatenate([b, table.embeddings_flip[rows]])
        cos = np.sum(a * b, 1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))
        result[name] = float(cos.min())
    return result


@entry_point(PROG)
def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__.split("\n\n")[0])
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("run_dir", nargs="?", type=Path, help="run dir with export/*.tflite")
    source.add_argument("--untrained", help="registry name: build, export and convert it")
    parser.add_argument("--width", type=float, default=1.0, help="--untrained: width")
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--calls", type=int, default=5, help="calls per variant per round")
    args = parser.parse_args(argv)
    import_tensorflow()  # before models/ imports it: without the CPU-only start-up notices

    from PIL import Image

    import models

    with tempfile.TemporaryDirectory() as scratch:
        export = (
            untrained_export(args.untrained, args.width, Path(scratch)) if args.untrained else args.run_dir / "export"
        )
        found = variants(export)
        embedders = {name: models.load_embedder(path) for name, path in found.items()}
        face = np.asarray(Image.open(FACE).convert("RGB"), np.float32)[None]
        parity = {} if args.untrained else agreement(args.run_dir, list(found)[1:])
        ms = latencies_ms(embedders, face, args.rounds, args.calls)
        label = args.untrained or str(args.run_dir)
        print(
            f"{label}: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}, "
            f"{args.rounds} rounds x {args.calls} single-image calls per variant"
        )
        print(f"{'variant':<11} {'size MiB':>9} {'ms/image':>9} {'vs SavedModel':>14} {'min cosine LFW':>15}")
        for name, path in found.items():
            cosine = f"{parity[name]:.6f}" if name in parity else "-"
            print(
                f"{name:<11} {size_mib(path):>9.2f} {ms[name]:>9.2f} {ms[name] / ms['savedmodel']:>13.2f}x {cosine:>15}"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())

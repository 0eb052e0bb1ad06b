"""Input throughput without a model: how many CPU cores each training input route needs to feed a
GPU. The three routes of `input_pipeline.train_data.build_train_dataset` (decode + random flip +
batch, single images as the classification losses use) on the real aligned faces:

- folders: JPEGs read and decoded every step (training's route for sets too big for RAM);
- tfrecord: the same files in shards written here by `input_pipeline.write_tfrecords`;
- memory: decoded once into RAM (`data.cache: memory`), then gathered and flipped per batch.

    python benchmarks/bench_input.py [--train-dirs A B] [--batches 20] [--rounds 2] [--gpu-rate 2000]

Per route: images/s (wall) and images per CPU-second (user + sys time of every thread of this
process while the batches are drawn, i.e. per core used), as ratios against the folder route
measured in the same run, rounds interleaved, a fresh iterator each round (warm-up untimed).
"Cores to feed R img/s" = R / (images per CPU-second), assuming the route scales with cores.
The default R (2,000 img/s, Resface20 at batch 256 on one GPU) is an assumption, not a
measurement: pass what gpu_check.py measured. Also reported: the writer's images/s for each
--writer-workers, and the one-off decode into RAM. Files come from the page cache after the
first pass (warm), as in training after epoch 1 when the set fits in RAM.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from common.errors import UserError, entry_point  # noqa: E402
from common.paths import REPO_ROOT  # noqa: E402
from common.tf_startup import import_tensorflow  # noqa: E402

tf = import_tensorflow()  # first: without the CPU-only start-up notices

from input_pipeline.file_list import check_image_size, scan_identity_folders  # noqa: E402
from input_pipeline.memory_cache import decode_all  # noqa: E402
from input_pipeline.train_data import TrainSource, build_train_dataset  # noqa: E402
from input_pipeline.write_tfrecords import write_tfrecords  # noqa: E402

PROG = "benchmarks/bench_input.py"

IMAGE_SIZE = (112, 96)
ASSUMED_GPU_RATE = 2000  # img/s, Resface20 batch 256 on one GPU: an assumption until measured


def cpu_seconds(children: bool = False) -> float:
    """User + sys time of this process (all its threads), or of its finished child processes."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN if children else resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def time_batches(dataset: tf.data.Dataset, batches: int, warmup: int) -> tuple[float, float]:
    """(wall seconds, CPU seconds) to draw `batches` batches from a fresh iterator after `warmup`."""
    iterator = iter(dataset)
    for _ in range(warmup):
        next(iterator)
    started, cpu = time.perf_counter(), cpu_seconds()
    for _ in range(batches):
        next(iterator)
    return time.perf_counter() - started, cpu_seconds() - cpu


def write_shards(file_list, output_dir: Path, shards: int, workers: int) -> tuple[float, float]:
    """(wall seconds, CPU seconds incl. worker processes) of writing every shard."""
    started, cpu = time.perf_counter(), cpu_seconds() + cpu_seconds(children=True)
    result = write_tfrecords(file_list, output_dir, shards, workers=workers, show_progress=False)
    if result["bad"]:
        print(f"writer: {len(result['bad'])} bad images left out, e.g. {result['bad'][0]}")
    return time.perf_counter() - started, cpu_seconds() + cpu_seconds(children=True) - cpu


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
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--batches", type=int, default=20, help="timed batches per route and round")
    parser.add_argument("--warmup", type=int, default=3, help="untimed batches per fresh iterator")
    parser.add_argument("--rounds", type=int, default=2, help="interleaved rounds (median)")
    parser.add_argument("--shards", type=int, default=16)
    parser.add_argument("--writer-workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument(
        "--gpu-rate",
        type=float,
        default=ASSUMED_GPU_RATE,
        help="images/s the GPU trains at (default: an assumed 2,000 for Resface20, batch 256)",
    )
    args = parser.parse_args(argv)
    try:
        file_list = scan_identity_folders(args.train_dirs)
        check_image_size(file_list, IMAGE_SIZE)
    except UserError as error:
        raise UserError(f"{error} (align the sets first: python demo.py, or align/align_dataset.py)") from error
    images = len(file_list.paths)
    print(
        f"{images} images of {file_list.num_classes} identities in {', '.join(args.train_dirs)}; "
        f"batch {args.batch_size}, {args.batches} timed batches x {args.rounds} rounds per route; "
        f"{os.cpu_count()} CPUs visible"
    )

    with tempfile.TemporaryDirectory() as work:
        for workers in args.writer_workers:
            wall, cpu = write_shards(file_list, Path(work) / f"shards_{workers}", args.shards, workers)
            print(
                f"write_tfrecords --workers {workers}: {images / wall:7.0f} img/s wall, "
                f"{images / cpu:7.0f} img per CPU-second ({args.shards} shards, worker start-up included)"
            )
        started, cpu = time.perf_counter(), cpu_seconds()
        decoded = decode_all(file_list, IMAGE_SIZE)
        wall, cpu = time.perf_counter() - started, cpu_seconds() - cpu
        print(
            f"decode into RAM (once): {images / wall:7.0f} img/s wall, {images / cpu:7.0f} img per CPU-second, "
            f"{decoded.images.shape.num_elements() / 2**20:.0f} MiB"
        )

        sources = {
            "folders": TrainSource(file_list=file_list),
            "tfrecord": TrainSource(tfrecord_dir=Path(work) / f"shards_{args.writer_workers[0]}"),
            "memory": TrainSource(file_list=decoded.file_list, decoded=decoded),
        }
        timings = {route: [] for route in sources}
        for round_number in range(args.rounds):
            for route, source in sources.items():
                dataset = build_train_dataset(source, IMAGE_SIZE, args.batch_size, seed=round_number)
                timings[route].append(time_batches(dataset, args.batches, args.warmup))

    drawn = args.batches * args.batch_size
    rates = {
        route: (
            drawn / statistics.median(w for w, _ in runs),
            drawn / statistics.median(c for _, c in runs),
            statistics.median(c / w for w, c in runs),
        )
        for route, runs in timings.items()
    }
    base_wall, base_cpu, _ = rates["folders"]
    print(
        f"\n{'route':10s} {'img/s':>8s} {'vs folders':>10s} {'img/CPU-s':>10s} {'vs folders':>10s} "
        f"{'cores used':>10s} {'cores for R':>11s}"
    )
    for route, (wall, cpu, cores) in rates.items():
        print(
            f"{route:10s} {wall:8.0f} {wall / base_wall:9.2f}x {cpu:10.0f} {cpu / base_cpu:9.2f}x "
            f"{cores:10.2f} {args.gpu_rate / cpu:11.1f}"
        )
    assumed = " (an assumption: pass --gpu-rate with a measured rate)" if args.gpu_rate == ASSUMED_GPU_RATE else ""
    print(f"R = {args.gpu_rate:.0f} img/s{assumed}; cores for R = R / (img per CPU-second)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

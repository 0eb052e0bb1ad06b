"""Start-up cost of a VGGFace2-sized training set: the identity-folder scan as training does it.

    python benchmarks/bench_scan.py [--tree DIR] [--identities 9131] [--repeats 3]

Builds a synthetic VGGFace2-like tree of empty files (9,131 identity folders `n000002/0001_01.jpg`,
87-638 files each, ~3.3 M in all: VGGFace2's train + test folder and file counts; an empty file
costs an inode and no data), then times each stage in a fresh process, in train.py's order:
`scan_identity_folders`, `check_image_size`, `FileList.save` (file_list.tsv in the run dir) and
`FileList.absolute_paths` (what the datasets turn into a tensor). Peak memory: the growth of
ru_maxrss during the stage (a high-water mark: it shows only what rises above the earlier
stages' peak) and the stage's tracemalloc peak (a separate run, as tracemalloc slows allocation). Baseline, measured in the same run: a bare `os.scandir` walk
that only counts the names, the floor of any scan in Python. Warm page cache: the tree was just
built or scanned (a cold scan of a network disk can be much slower). With --identities below
9,131 the tree is scaled down, and the report says so.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import resource
import shutil
import stat
import statistics
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from common.errors import UserError, UserFileExistsError, entry_point  # noqa: E402

PROG = "benchmarks/bench_scan.py"

VGGFACE2_IDENTITIES = 9131
MIN_FILES, MAX_FILES = 87, 638  # uniform: mean 362.5 per identity, VGGFace2's 3.31 M / 9,131
COMPLETE_MARKER = ".complete.json"


def files_per_identity(identities: int, seed: int = 0) -> np.ndarray:
    """Files in each of the first `identities` folders: a scaled-down tree is a prefix of the full one."""
    return np.random.default_rng(seed).integers(MIN_FILES, MAX_FILES + 1, VGGFACE2_IDENTITIES)[:identities]


def build_tree(root: Path, counts: np.ndarray) -> None:
    """root/n<id>/<NNNN>_01.jpg, empty files; a marker records a complete tree for reuse."""
    marker = root / COMPLETE_MARKER
    wanted = {"identities": len(counts), "files": int(counts.sum())}
    if marker.is_file() and json.loads(marker.read_text()) == wanted:
        return
    if root.exists() and any(root.iterdir()):
        raise UserFileExistsError(f"{root}: not empty and not a complete tree of {wanted}; choose a new folder")
    started = time.perf_counter()
    for number, count in enumerate(counts):
        folder = f"{root}/n{number + 2:06d}"
        os.makedirs(folder)
        for image in range(1, int(count) + 1):
            os.mknod(f"{folder}/{image:04d}_01.jpg", 0o644 | stat.S_IFREG)  # one syscall, no open/close
        if number % 500 == 0:
            print(f"\rbuilding {root}: {number}/{len(counts)} identities", end="", file=sys.stderr, flush=True)
    marker.write_text(json.dumps(wanted))
    print(
        f"\rbuilt {wanted['files']} empty files in {wanted['identities']} folders in "
        f"{time.perf_counter() - started:.0f}s",
        file=sys.stderr,
    )


def bare_walk(root: Path) -> int:
    """The baseline: every name of every identity folder counted, nothing kept."""
    count = 0
    with os.scandir(root) as identities:
        for identity in identities:
            if identity.is_dir():
                with os.scandir(identity.path) as images:
                    count += sum(1 for _ in images)
    return count


STAGES = (
    "bare os.scandir walk",
    "scan_identity_folders",
    "check_image_size",
    "FileList.save",
    "FileList.absolute_paths",
)


def _measure(root: str, traced: bool, queue) -> None:
    """In a fresh process: every stage in training's order, each timed, with its memory peak."""
    from common.run_layout import RunLayout
    from input_pipeline.file_list import check_image_size, scan_identity_folders

    if traced:
        tracemalloc.start()
    found = {}
    with tempfile.TemporaryDirectory() as run_dir:
        stages = {
            "bare os.scandir walk": lambda: bare_walk(Path(root)),
            "scan_identity_folders": lambda: found.setdefault("file_list", scan_identity_folders(root)),
            "check_image_size": lambda: check_image_size(found["file_list"], (112, 96)),
            "FileList.save": lambda: found["file_list"].save(RunLayout(Path(run_dir)).file_list),
            "FileList.absolute_paths": lambda: found["file_list"].absolute_paths(),
        }
        report = {}
        for stage in STAGES:
            rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
            if traced:
                tracemalloc.reset_peak()
            started, cpu = time.perf_counter(), time.process_time()
            result = stages[stage]()
            report[stage] = {
                "seconds": time.perf_counter() - started,
                "cpu": time.process_time() - cpu,
                # ru_maxrss is a high-water mark: a stage's growth shows only above earlier peaks
                "rss_growth_mib": (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before) / 1024,
                "traced_peak_mib": tracemalloc.get_traced_memory()[1] / 2**20 if traced else None,
                "result_mib": result_bytes(result) / 2**20,
            }
    queue.put(report)


def result_bytes(result) -> int:
    if hasattr(result, "paths"):
        return result.paths.nbytes + result.labels.nbytes + result.root_index.nbytes
    return getattr(result, "nbytes", 0)


def measure(root: Path, traced: bool) -> dict:
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    process = context.Process(target=_measure, args=(str(root), traced, queue))
    process.start()
    process.join()  # the report is a few hundred bytes: the pipe holds it until the get
    if process.exitcode != 0:
        raise RuntimeError(f"the measuring process failed (exit code {process.exitcode}); its traceback is above")
    return queue.get()


@entry_point(PROG)
def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog=PROG, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--tree",
        help="folder for the synthetic tree, kept and reused by the next run "
        "(default: a temporary folder, removed at the end)",
    )
    parser.add_argument("--identities", type=int, default=VGGFACE2_IDENTITIES)
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per stage (median)")
    args = parser.parse_args(argv)
    counts = files_per_identity(args.identities)
    root = Path(args.tree) if args.tree else Path(tempfile.mkdtemp(prefix="vggface2_synthetic_"))
    free_inodes = os.statvfs(root.parent if not root.exists() else root).f_favail
    if not (root / COMPLETE_MARKER).is_file() and free_inodes < 1.1 * counts.sum():
        raise UserError(
            f"{root}: {free_inodes} free inodes, the tree needs {counts.sum() + len(counts)}; "
            "use --identities to scale down"
        )
    try:
        build_tree(root, counts)
        scale = (
            ""
            if args.identities == VGGFACE2_IDENTITIES
            else f" (scaled down: {args.identities} of {VGGFACE2_IDENTITIES} identities)"
        )
        print(
            f"tree: {root}, {len(counts)} identities, {counts.sum()} empty files{scale}; "
            f"median of {args.repeats} fresh processes"
        )
        runs = [measure(root, traced=False) for _ in range(args.repeats)]
        traced = measure(root, traced=True)
        baseline = statistics.median(run[STAGES[0]]["seconds"] for run in runs)
        for stage in STAGES:
            seconds = statistics.median(run[stage]["seconds"] for run in runs)
            print(
                f"{stage:24s} {seconds:7.2f}s wall ({seconds / baseline:5.2f}x the bare walk), "
                f"{statistics.median(run[stage]['cpu'] for run in runs):6.2f}s CPU, peak memory: "
                f"+{max(run[stage]['rss_growth_mib'] for run in runs):5.0f} MiB RSS, "
                f"{traced[stage]['traced_peak_mib']:5.0f} MiB tracemalloc; result "
                f"{runs[0][stage]['result_mib']:.0f} MiB"
            )
    finally:
        if args.tree is None:
            shutil.rmtree(root)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Write sharded TFRecords from aligned identity folders, in parallel and resumably.

    python -m input_pipeline.write_tfrecords --input-dir ALIGNED [ALIGNED2 ...] --output-dir OUT \
        --shards N [--workers W]

Files go to shards round-robin in an order fixed by --seed, so a shard's contents depend only on
the file list, --shards and --seed: not on --workers, nor on how often the run was interrupted.
Each shard is written to a `.partial` file and renamed when complete (kill -9 safe). Rerunning the
same command skips finished shards and rewrites a half-written one; a folder written with other
options or from another file list is refused, never overwritten. `labels.txt`, which the reader
needs, is written last, so an unfinished folder cannot be trained on by mistake. Files that are
unreadable or not a decodable JPEG/PNG are left out, counted and listed.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import dataclasses
import hashlib
import io
import json
import multiprocessing
import os
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image
from tqdm import tqdm

from common.atomic_files import atomic_write_text
from common.errors import UserFileExistsError, entry_point
from common.run_layout import write_labels
from common.tf_startup import import_tensorflow

# Before input_pipeline.tfrecords imports it (in spawned workers too): without the CPU-only notices.
tf = import_tensorflow()

from input_pipeline.file_list import FileList, scan_identity_folders  # noqa: E402
from input_pipeline.tfrecords import REPORT_DIR, SHARD_PATTERN, report_path, serialize_example  # noqa: E402

PROG = "python -m input_pipeline.write_tfrecords"

PLAN_FILE = "write_plan.json"
PARTIAL_SUFFIX = ".partial"
PROGRESS_EVERY = 64  # images between updates of the shared progress counter


@dataclasses.dataclass
class ShardTask:
    """One shard to write: its files (absolute path, path stored in the record, label)."""

    index: int
    count: int
    output_dir: Path
    files: list[tuple[bytes, bytes, int]]

    @property
    def path(self) -> Path:
        return self.output_dir / SHARD_PATTERN.format(index=self.index, count=self.count)

    @property
    def report_path(self) -> Path:
        return report_path(self.path)


def bad_image_reason(contents: bytes) -> str | None:
    """Why `contents` would not train (None when it is a decodable JPEG or PNG)."""
    if not contents:
        return "empty file"
    if not (contents.startswith(b"\xff\xd8\xff") or contents.startswith(b"\x89PNG")):
        return "not a JPEG or PNG"
    try:
        with Image.open(io.BytesIO(contents)) as image:
            # Decoding the body catches a truncated file, which the header alone does not. A JPEG is
            # decoded at 1/8 scale: every coefficient is still read, but most of the IDCT is skipped.
            image.draft("RGB", (image.size[0] // 8, image.size[1] // 8))
            image.load()
    except (OSError, ValueError, Image.DecompressionBombError) as error:
        return f"cannot decode ({error})"
    return None


def write_shard(task: ShardTask, progress) -> dict:
    """Write one shard via a `.partial` file and its report; returns the report.

    The report is renamed into place before the shard, so a finished shard always has one; a kill
    between the two renames leaves a report without a shard, and the shard is redone."""
    temporary = task.path.with_name(task.path.name + PARTIAL_SUFFIX)
    written, bad, pending = 0, [], 0
    with tf.io.TFRecordWriter(str(temporary)) as writer:
        for absolute, stored, label in task.files:
            try:
                with open(absolute, "rb") as handle:
                    contents = handle.read()
                reason = bad_image_reason(contents)
            except OSError as error:
                reason = f"unreadable ({error.strerror or error})"
            if reason is None:
                writer.write(serialize_example(contents, label, stored))
                written += 1
            else:
                # A name that is not UTF-8 keeps its bytes, surrogate-escaped (JSON writes \udcXX).
                bad.append(f"{os.fsdecode(stored)}: {reason}")
            pending += 1
            if pending == PROGRESS_EVERY:
                progress(pending)
                pending = 0
    with open(temporary, "rb") as handle:  # durable before the rename makes it count as finished
        os.fsync(handle.fileno())
    # The size lets the reader tell a truncated copy from the shard (input_pipeline.tfrecords).
    report = {
        "shard": task.path.name,
        "files": len(task.files),
        "written": written,
        "bad": bad,
        "bytes": temporary.stat().st_size,
    }
    atomic_write_text(task.report_path, json.dumps(report))
    os.replace(temporary, task.path)
    progress(pending)
    return report


def shard_tasks(file_list: FileList, output_dir: Path, shards: int, seed: int) -> list[ShardTask]:
    """Every shard's files: a seeded permutation of the file list, dealt round-robin."""
    order = np.random.default_rng(seed).permutation(len(file_list.paths))
    absolute = file_list.absolute_paths()
    return [
        ShardTask(
            index,
            shards,
            output_dir,
            [(absolute[i], file_list.paths[i], int(file_list.labels[i])) for i in order[index::shards]],
        )
        for index in range(shards)
    ]


def make_plan(file_list: FileList, shards: int, seed: int, min_images: int) -> dict:
    """What fixes the shards' contents; a resumed run must match it exactly."""
    digest = hashlib.sha256()
    for part in (file_list.absolute_paths(), file_list.labels, os.fsencode("\n".join(file_list.identities))):
        digest.update(np.asarray(part).tobytes())
    return {
        "shards": shards,
        "seed": seed,
        "min_images": min_images,
        "images": len(file_list.paths),
        "identities": file_list.num_classes,
        "file_list_sha256": digest.hexdigest(),
    }


def prepare_output(output_dir: Path, plan: dict) -> None:
    """Create the folder and its plan, or check that a resumed folder was written to the same plan."""
    plan_path = output_dir / PLAN_FILE
    if plan_path.is_file():
        previous = json.loads(plan_path.read_text())
        changed = [f"{key} {previous.get(key)} -> {plan[key]}" for key in plan if previous.get(key) != plan[key]]
        if changed:
            raise UserFileExistsError(
                f"{output_dir} holds shards written with other options or files "
                f"({'; '.join(changed)}); choose a new output folder"
            )
        return
    if output_dir.exists() and any(output_dir.iterdir()):
        raise UserFileExistsError(
            f"{output_dir}: output folder is not empty and holds no {PLAN_FILE}; choose a new one"
        )
    (output_dir / REPORT_DIR).mkdir(parents=True, exist_ok=True)
    atomic_write_text(plan_path, json.dumps(plan, indent=1))


def finished_report(task: ShardTask) -> dict | None:
    """The report of a shard finished by an earlier run, None when it still has to be written."""
    if not task.path.exists():
        return None
    if not task.report_path.is_file():
        raise UserFileExistsError(
            f"{task.path} exists without its report {task.report_path} (not written by "
            "this tool?); remove the shard to have it rewritten"
        )
    return json.loads(task.report_path.read_text())


_shared_counter = None  # a worker process's handle on the parent's progress counter


def _init_worker(counter) -> None:
    global _shared_counter
    _shared_counter = counter


def _add_to_shared_counter(count: int) -> None:
    with _shared_counter.get_lock():
        _shared_counter.value += count


def _write_shard_in_worker(task: ShardTask) -> dict:
    return write_shard(task, _add_to_shared_counter)


def run_tasks(tasks: list[ShardTask], workers: int, bar: tqdm) -> list[dict]:
    """Write `tasks` in this process (workers = 1) or in `workers` processes; progress on `bar`."""
    if workers == 1:
        return [write_shard(task, bar.update) for task in tasks]
    # spawn, not fork: this process has TensorFlow's threads running, which fork does not copy safely.
    context = multiprocessing.get_context("spawn")
    counter = context.Value("q", 0)
    with concurrent.futures.ProcessPoolExecutor(
        workers, mp_context=context, initializer=_init_worker, initargs=(counter,)
    ) as pool:
        futures = [pool.submit(_write_shard_in_worker, task) for task in tasks]
        shown = 0
        while True:
            done, pending = concurrent.futures.wait(
                futures, timeout=0.5, return_when=concurrent.futures.FIRST_EXCEPTION
            )
            bar.update(counter.value - shown)
            shown = counter.value
            failed = next((future for future in done if future.exception() is not None), None)
            if failed is not None:
                for future in pending:
                    future.cancel()
                failed.result()  # re-raises the worker's exception, with its traceback
            if not pending:
                return [future.result() for future in futures]


def write_tfrecords(
    file_list: FileList,
    output_dir: str | Path,
    shards: int,
    *,
    seed: int = 0,
    min_images: int = 1,
    workers: int = 1,
    show_progress: bool = True,
) -> dict:
    """Write (or finish writing) the shards; returns totals over all shards, this run's and earlier."""
    output_dir = Path(output_dir)
    prepare_output(output_dir, make_plan(file_list, shards, seed, min_images))
    tasks = shard_tasks(file_list, output_dir, shards, seed)
    earlier = [report for report in map(finished_report, tasks) if report is not None]
    todo = [task for task in tasks if not task.path.exists()]
    todo_images = sum(len(task.files) for task in todo)
    started = time.perf_counter()
    with tqdm(
        total=len(file_list.paths),
        initial=len(file_list.paths) - todo_images,
        unit="img",
        disable=not show_progress,
        smoothing=0.1,
    ) as bar:
        reports = earlier + run_tasks(todo, min(workers, max(len(todo), 1)), bar)
    seconds = time.perf_counter() - started
    write_labels(output_dir / "labels.txt", file_list.identities)
    return {
        "written": sum(r["written"] for r in reports),
        "bad": [line for r in reports for line in r["bad"]],
        "shards": shards,
        "resumed_shards": len(earlier),
        "this_run_images": todo_images,
        "seconds": seconds,
    }


@entry_point(PROG)
def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog=PROG, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--input-dir", required=True, nargs="+", help="aligned root(s)/<identity>/<image>")
    parser.add_argument("--output-dir", required=True, help="new folder, or the folder of an interrupted run")
    parser.add_argument("--shards", type=int, default=16)
    parser.add_argument("--workers", type=int, default=1, help="processes writing shards in parallel")
    parser.add_argument("--min-images", type=int, default=1, help="minimum images per identity")
    parser.add_argument(
        "--namespace-by-root", action="store_true", help="identity x of root A is A/x (as data.namespace_by_root)"
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the file order")
    args = parser.parse_args(argv)
    if args.shards <= 0 or args.workers <= 0:
        parser.error("--shards and --workers must be positive")
    file_list = scan_identity_folders(args.input_dir, args.min_images, args.namespace_by_root)
    result = write_tfrecords(
        file_list, args.output_dir, args.shards, seed=args.seed, min_images=args.min_images, workers=args.workers
    )
    for line in result["bad"]:
        print(f"skipped: {line}", file=sys.stderr)
    rate = result["this_run_images"] / max(result["seconds"], 1e-9)
    print(
        f"wrote {result['written']} images of {file_list.num_classes} identities into {result['shards']} "
        f"shards in {args.output_dir} ({len(result['bad'])} bad images skipped); this run: "
        f"{result['shards'] - result['resumed_shards']} shards, {result['this_run_images']} files in "
        f"{result['seconds']:.1f}s ({rate:.0f} img/s, {args.workers} workers)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

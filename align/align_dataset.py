"""Align a folder of face photos into 5-point-aligned crops with the same relative layout.

    python align/align_dataset.py --input-dir IN --output-dir OUT [--image-size 112x96|112x112]
        [--workers N] [--shard I/N] [--skip-no-face] [--only-list FILE] [--landmarks FILE] [--png]
        [--method mtcnn|centre_crop]

`--method centre_crop` writes each photo's plain centre crop instead, without the detector: the
unaligned baseline that the alignment set (experiments/sets/alignment.yaml) trains on.

Resumable (finished outputs are skipped; files are written to a temporary name then renamed) and
shardable (a path's shard is a hash of the path). Writes OUT/align_report.csv (one file per shard).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections import Counter, deque
from collections.abc import Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path

if __package__ in (None, ""):  # run by path: make `import align` resolve to this repository
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from align.detector import (  # noqa: E402
    MAX_DETECT_SIDE,
    MIN_FACE_SIZE,
    SCALE_FACTOR,
    THRESHOLDS,
    add_detector_arguments,
    detector_options,
)
from align.file_list import in_shard, parse_shard, read_path_list, walk_images  # noqa: E402
from align.image_io import MAX_PIXELS, ImageReadError, add_max_pixels_argument, load_rgb  # noqa: E402
from align.landmarks_file import read_landmarks_file  # noqa: E402
from align.pipeline import (  # noqa: E402
    CENTRED,
    DETECTED,
    FALLBACK,
    GIVEN,
    SKIPPED,
    align_from_landmarks,
    align_images,
    centre_crop_only,
)
from align.report import (  # noqa: E402
    ReportWriter,
    compact_report,
    error_row,
    first_status_among,
    report_name,
    result_row,
    unfinished_statuses,
)
from align.warp import DEFAULT_CENTER_CROP_FRACTION  # noqa: E402
from common.arg_types import float_in, int_at_least, int_in  # noqa: E402
from common.choices import DEFAULT_IMAGE_SIZE, format_image_size, parse_image_size  # noqa: E402
from common.dir_lock import exclusive_folder  # noqa: E402
from common.errors import UserFileNotFoundError, UserValueError, entry_point  # noqa: E402

PROG = "align/align_dataset.py"

# mtcnn: detect and warp onto the 5-point template; centre_crop: the photo's centre, no detector.
# The report statuses each method writes (errors are either's): one folder holds one kind of crop.
METHOD_STATUSES = {"mtcnn": (DETECTED, GIVEN, FALLBACK, SKIPPED), "centre_crop": (CENTRED,)}
METHODS = tuple(METHOD_STATUSES)


@dataclass
class AlignConfig:
    """Everything a worker needs; picklable so spawned processes get their own copy."""

    input_dir: str
    method: str = "mtcnn"
    image_size: tuple[int, int] = DEFAULT_IMAGE_SIZE
    image_format: str = "jpg"
    jpeg_quality: int = 95
    skip_no_face: bool = False
    fallback_fraction: float = DEFAULT_CENTER_CROP_FRACTION
    min_face_size: int = MIN_FACE_SIZE
    thresholds: tuple[float, float, float] = THRESHOLDS
    scale_factor: float = SCALE_FACTOR
    max_detect_side: int = MAX_DETECT_SIDE
    tf_threads: int = 1
    max_pixels: int = MAX_PIXELS
    landmarks: dict = field(default_factory=dict)


def output_relative_path(relative_path: str, image_format: str) -> str:
    """Same folders and stem as the input; the extension follows the output format."""
    return str(Path(relative_path).with_suffix("." + image_format).as_posix())


# ---- worker side --------------------------------------------------------------------------

_worker_state: dict = {}


def init_worker(config: AlignConfig, limit_threads: bool = True) -> None:
    """Per-process setup: thread limits (worker processes only: TensorFlow refuses changes once
    started, as it may be in an inline caller) and a private detector (none for centre crops)."""
    _worker_state["config"] = config
    if config.method == "centre_crop":
        return
    from align.detector import FaceDetector
    from common.tf_startup import import_tensorflow

    tf = import_tensorflow()

    if limit_threads and config.tf_threads > 0:
        tf.config.threading.set_intra_op_parallelism_threads(config.tf_threads)
        tf.config.threading.set_inter_op_parallelism_threads(config.tf_threads)
    settings = (config.min_face_size, config.thresholds, config.scale_factor, config.max_detect_side)
    if _worker_state.get("detector_settings") != settings:  # inline reruns reuse the detector
        _worker_state["detector"] = FaceDetector(
            min_face_size=config.min_face_size,
            thresholds=config.thresholds,
            scale_factor=config.scale_factor,
            max_detect_side=config.max_detect_side,
        )
        _worker_state["detector_settings"] = settings


def process_chunk(relative_paths: list[str]) -> list[tuple[str, dict, bytes | None]]:
    """Align a chunk of images (detection batched); returns (path, report row, encoded crop)."""
    import cv2

    config: AlignConfig = _worker_state["config"]
    outputs: dict[str, tuple[dict, bytes | None]] = {}
    to_detect: list[tuple[str, object]] = []
    for relative in relative_paths:
        try:
            image = load_rgb(os.path.join(config.input_dir, relative), config.max_pixels)
        except (ImageReadError, OSError) as error:
            outputs[relative] = (error_row(relative, str(error)), None)
            continue
        if config.method == "centre_crop":
            try:
                result = centre_crop_only(image, config.image_size, config.fallback_fraction)
                outputs[relative] = (result_row(relative, result, image.shape), result.crop)
            except Exception as error:  # noqa: BLE001 -- recorded, the run goes on
                outputs[relative] = (error_row(relative, f"{type(error).__name__}: {error}"), None)
        elif relative in config.landmarks:
            try:
                result = align_from_landmarks(image, config.landmarks[relative], config.image_size)
                outputs[relative] = (result_row(relative, result, image.shape), result.crop)
            except Exception as error:  # noqa: BLE001 -- e.g. degenerate landmarks; recorded
                outputs[relative] = (error_row(relative, f"{type(error).__name__}: {error}"), None)
        else:
            to_detect.append((relative, image))

    results = (
        align_images(
            [image for _, image in to_detect],
            _worker_state["detector"],
            config.image_size,
            config.skip_no_face,
            config.fallback_fraction,
        )
        if to_detect
        else []
    )
    for (relative, image), result in zip(to_detect, results, strict=True):
        outputs[relative] = (result_row(relative, result, image.shape), result.crop)

    encoded = []
    for relative in relative_paths:
        row, crop = outputs[relative]
        data = None
        if crop is not None:
            params = (
                [cv2.IMWRITE_JPEG_QUALITY, config.jpeg_quality]
                if config.image_format == "jpg"
                else [cv2.IMWRITE_PNG_COMPRESSION, 3]
            )
            ok, buffer = cv2.imencode("." + config.image_format, crop[:, :, ::-1], params)
            if ok:
                data = buffer.tobytes()
            else:
                row = error_row(relative, f"could not encode the aligned crop as {config.image_format}")
        encoded.append((relative, row, data))
    return encoded


# ---- main process -----------------------------------------------------------------------


def atomic_write(path: Path, data: bytes) -> None:
    """Write to a sibling temporary name then rename: a reader (or a resume) never sees half a file.
    The temporary name carries this process's id (no two writers share one) and does not end in
    an image suffix, so a leftover from a killed run is never taken for an input or an output
    (common/atomic_files.py keeps the target's suffix, which a later walk would list)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.partial")
    with open(temporary, "wb") as handle:
        handle.write(data)
    os.replace(temporary, path)


def pending_paths(
    candidates: Iterable[str],
    output_dir: Path,
    shard: tuple[int, int],
    image_format: str,
    done_without_output: set[str],
    counts: Counter,
) -> Iterator[str]:
    """Inputs of this shard that still need work (streamed; counts already-finished ones)."""
    for relative in candidates:
        if not in_shard(relative, shard):
            continue
        if relative in done_without_output or (output_dir / output_relative_path(relative, image_format)).exists():
            counts["already_done"] += 1
            continue
        yield relative


def chunked(items: Iterator[str], size: int) -> Iterator[list[str]]:
    while chunk := list(islice(items, size)):
        yield chunk


def run_chunks(chunks: Iterator[list[str]], config: AlignConfig, workers: int) -> Iterator[list]:
    """Results of `process_chunk` over `chunks`, computed by `workers` processes (0: inline), with
    a bounded number in flight so a huge file list is never queued up at once."""
    if workers == 0:
        init_worker(config, limit_threads=False)
        for chunk in chunks:
            yield process_chunk(chunk)
        return
    import multiprocessing

    # spawn, not fork: TensorFlow is not fork-safe.
    with ProcessPoolExecutor(
        workers, mp_context=multiprocessing.get_context("spawn"), initializer=init_worker, initargs=(config,)
    ) as pool:
        in_flight: deque = deque()
        max_in_flight = 2 * workers
        for chunk in chunks:
            in_flight.append(pool.submit(process_chunk, chunk))
            while len(in_flight) >= max_in_flight:
                done, _ = wait(in_flight, return_when=FIRST_COMPLETED)
                for future in done:
                    in_flight.remove(future)
                    yield future.result()
        while in_flight:
            yield in_flight.popleft().result()


def align_dataset(
    config: AlignConfig,
    output_dir,
    workers: int = 1,
    shard=(0, 1),
    only_list=None,
    batch_size: int = 32,
    progress: bool = True,
) -> Counter:
    """Align every (pending) input of this shard; returns the report's counts by status."""
    output_dir = Path(output_dir)
    input_dir = Path(config.input_dir)
    check_method(config)
    if not input_dir.is_dir():
        raise UserFileNotFoundError(f"input folder {input_dir} does not exist")
    if output_dir.resolve() == input_dir.resolve():
        raise UserValueError("--output-dir must differ from --input-dir (inputs would be overwritten)")
    output_dir.mkdir(parents=True, exist_ok=True)
    # One process per shard of the output dir (shards may run side by side, each with its own
    # report file); a second one would interleave the same outputs and report.
    with exclusive_folder(output_dir, f"shard {shard[0]}/{shard[1]} of the output dir", part=report_name(shard)):
        check_one_method(config, output_dir)
        return _align_pending(config, output_dir, input_dir, shard, only_list, workers, batch_size, progress)


def check_method(config: AlignConfig) -> None:
    """A known method; the detector's options only where the detector runs."""
    if config.method not in METHODS:
        raise UserValueError(f"--method must be one of {', '.join(METHODS)}, got {config.method!r}")
    if config.method == "centre_crop" and (config.skip_no_face or config.landmarks):
        raise UserValueError("--skip-no-face and --landmarks need --method mtcnn (a centre crop detects nothing)")


def check_one_method(config: AlignConfig, output_dir: Path) -> None:
    """Refuse a folder whose reports show crops of the other method: resuming there would mix two
    kinds of crops and take the other method's outputs for done."""
    others = [status for method, statuses in METHOD_STATUSES.items() if method != config.method for status in statuses]
    for report_path in sorted(output_dir.glob("align_report*.csv")):
        found = first_status_among(report_path, others)
        if found:
            raise UserValueError(
                f"{output_dir} holds crops of another method ({report_path.name} lists status {found!r}); "
                f"--method {config.method} would mix two kinds of crops in one folder: give another --output-dir"
            )


def _align_pending(
    config: AlignConfig,
    output_dir: Path,
    input_dir: Path,
    shard,
    only_list,
    workers: int,
    batch_size: int,
    progress: bool,
) -> Counter:
    from tqdm import tqdm

    report_path = output_dir / report_name(shard)

    # Skipped images have no output file; they count as done only while skipping is allowed.
    unfinished = unfinished_statuses(report_path)
    done_without_output = {p for p, s in unfinished.items() if s == SKIPPED and config.skip_no_face}

    candidates = read_path_list(only_list) if only_list else walk_images(input_dir)
    counts: Counter = Counter()
    start = time.time()
    with (
        ReportWriter(report_path) as report,
        tqdm(unit="img", disable=not progress, desc=f"align {input_dir.name}") as bar,
    ):
        pending = pending_paths(candidates, output_dir, shard, config.image_format, done_without_output, counts)
        for results in run_chunks(chunked(pending, batch_size), config, workers):
            for relative, row, data in results:
                report.write(row)  # row first: an output on disk always has its row
                if data is not None:
                    atomic_write(output_dir / output_relative_path(relative, config.image_format), data)
                counts[row["status"]] += 1
                counts["processed"] += 1
            bar.update(len(results))
    wall = time.time() - start
    processed = counts["processed"]
    run_summary = (
        f"this run: processed={processed} already_done={counts['already_done']} "
        f"wall_s={wall:.1f} images_per_s={processed / wall if wall > 0 else 0:.2f} "
        f"workers={workers} shard={shard[0]}/{shard[1]} size={format_image_size(config.image_size)} "
        f"method={config.method}"
    )
    totals = compact_report(report_path, run_summary)
    print(f"{report_path}: " + " ".join(f"{k}={v}" for k, v in sorted(totals.items())) + f" | {run_summary}")
    return totals


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__.split("\n\n")[0])
    parser.add_argument("--input-dir", required=True, help="folder of raw photos (any nesting)")
    parser.add_argument("--output-dir", required=True, help="aligned crops go here, same layout")
    parser.add_argument(
        "--image-size", default=format_image_size(DEFAULT_IMAGE_SIZE), help="112x96 (SphereFace) or 112x112 (ArcFace)"
    )
    parser.add_argument(
        "--method",
        choices=METHODS,
        default="mtcnn",
        help="mtcnn: detect and align; centre_crop: the photo's centre crop (--fallback-fraction), no detector",
    )
    parser.add_argument("--workers", type=int_at_least(0), default=1, help="worker processes (0: in this process)")
    parser.add_argument("--shard", default="0/1", help="I/N: only paths whose hash falls in shard I of N")
    parser.add_argument("--only-list", help="text file of relative paths to align instead of the whole folder")
    parser.add_argument("--landmarks", help="file of 'name x1 y1 ... x5 y5' lines: align these from the given points")
    parser.add_argument(
        "--skip-no-face",
        action="store_true",
        help="training sets: skip images without a face instead of writing a centre crop",
    )
    parser.add_argument("--png", action="store_true", help="write PNG instead of JPEG")
    parser.add_argument("--jpeg-quality", type=int_in(1, 100), default=95)
    parser.add_argument(
        "--fallback-fraction",
        type=float_in(0.0, 1.0, open_low=True),
        default=DEFAULT_CENTER_CROP_FRACTION,
        help="centre crop height as a fraction of the shorter side (no-face fallback; every crop of centre_crop)",
    )
    add_detector_arguments(parser)
    add_max_pixels_argument(parser)
    parser.add_argument("--batch-size", type=int_at_least(1), default=32, help="images per detector call")
    parser.add_argument(
        "--tf-threads", type=int_at_least(0), default=1, help="TensorFlow threads per worker (0: TF default)"
    )
    parser.add_argument("--no-progress", action="store_true")
    return parser


@entry_point(PROG)
def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    config = AlignConfig(
        input_dir=args.input_dir,
        method=args.method,
        image_size=parse_image_size(args.image_size),
        image_format="png" if args.png else "jpg",
        jpeg_quality=args.jpeg_quality,
        skip_no_face=args.skip_no_face,
        fallback_fraction=args.fallback_fraction,
        tf_threads=args.tf_threads,
        max_pixels=args.max_pixels,
        **detector_options(args),
        landmarks=read_landmarks_file(args.landmarks) if args.landmarks else {},
    )
    shard = parse_shard(args.shard)
    align_dataset(
        config,
        args.output_dir,
        workers=args.workers,
        shard=shard,
        only_list=args.only_list,
        batch_size=args.batch_size,
        progress=not args.no_progress,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

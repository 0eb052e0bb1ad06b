"""Alignment throughput: the dataset pipeline vs a naive one-image-at-a-time loop, same images,
same run.

    python benchmarks/bench_align.py [--num-images 300] [--workers 2] [--data-root DIR]

Naive loop: decode, `MTCNN.detect_faces(image)` on one image, choose a face, warp, write; one
process. Pipeline: `align/align_dataset.py` logic (batched detection, N worker processes). Both
write JPEG crops to temporary folders and include their own detector start-up; the pipeline's
time also counts spawning its workers. Prints images/s for each and the ratio.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from common.errors import entry_point  # noqa: E402
from common.paths import require_data  # noqa: E402
from common.tf_startup import import_tensorflow  # noqa: E402

PROG = "benchmarks/bench_align.py"


def naive_loop(input_dir: Path, relative_paths: list[str], output_dir: Path) -> float:
    """Seconds for the straightforward per-image loop (the baseline)."""
    import cv2
    import numpy as np
    from mtcnn import MTCNN

    from align.warp import align_crop, center_crop

    start = time.perf_counter()
    detector = MTCNN()
    for relative in relative_paths:
        image = cv2.imread(str(input_dir / relative))[:, :, ::-1]
        faces = detector.detect_faces(image, threshold_onet=0.7)
        if faces:
            centre = np.array(image.shape[1::-1]) / 2.0
            face = max(
                faces,
                key=lambda f: (
                    f["box"][2] * f["box"][3]
                    - 2.0 * np.sum((np.array(f["box"][:2]) + np.array(f["box"][2:]) / 2.0 - centre) ** 2)
                ),
            )
            points = np.array(
                [face["keypoints"][k] for k in ("left_eye", "right_eye", "nose", "mouth_left", "mouth_right")], float
            )
            crop = align_crop(image, points)
        else:
            crop = center_crop(image, (112, 96))
        target = output_dir / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(target), crop[:, :, ::-1], [cv2.IMWRITE_JPEG_QUALITY, 95])
    return time.perf_counter() - start


def pipeline(input_dir: Path, relative_paths: list[str], output_dir: Path, workers: int, batch_size: int) -> float:
    """Seconds for the dataset pipeline on the same images (via --only-list)."""
    from align.align_dataset import AlignConfig, align_dataset

    output_dir.parent.mkdir(parents=True, exist_ok=True)
    only_list = output_dir.parent / "only_list.txt"
    only_list.write_text("\n".join(relative_paths) + "\n")
    start = time.perf_counter()
    counts = align_dataset(
        AlignConfig(input_dir=str(input_dir)),
        output_dir,
        workers=workers,
        only_list=only_list,
        batch_size=batch_size,
        progress=False,
    )
    elapsed = time.perf_counter() - start
    if sum(counts.values()) != len(relative_paths):
        raise RuntimeError(f"pipeline produced {dict(counts)} for {len(relative_paths)} images")
    return elapsed


@entry_point(PROG)
def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-root", help="data folder holding lfw/ (default: common.paths)")
    parser.add_argument("--num-images", type=int, default=300)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=32)
    args = parser.parse_args(argv)
    import_tensorflow()  # before mtcnn imports it: without the CPU-only start-up notices

    from align.file_list import walk_images

    input_dir = require_data("lfw", args.data_root)
    # Every 40th file: many different people, deterministic.
    relative_paths = [p for i, p in enumerate(walk_images(input_dir)) if i % 40 == 0][: args.num_images]
    with tempfile.TemporaryDirectory() as scratch:
        scratch = Path(scratch)
        naive_s = naive_loop(input_dir, relative_paths, scratch / "naive")
        pipeline_s = pipeline(input_dir, relative_paths, scratch / "pipeline" / "out", args.workers, args.batch_size)
    n = len(relative_paths)
    print(f"images: {n} LFW 250x250 | cpu cores: {os.cpu_count()}")
    print(f"naive loop (1 process, 1 image per detect_faces): {n / naive_s:7.2f} images/s ({naive_s:.1f} s)")
    print(
        f"pipeline ({args.workers} workers, batch {args.batch_size}):            "
        f"{n / pipeline_s:7.2f} images/s ({pipeline_s:.1f} s)"
    )
    print(f"speed-up: {naive_s / pipeline_s:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())

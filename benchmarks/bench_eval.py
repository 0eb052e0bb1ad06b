#!/usr/bin/env python3
"""Embedding throughput of eval_lfw.py's real path vs the bare compiled model.

Real path: `verification.embedding.embed_paths` (tf.data parallel JPEG decode from disk, batching,
mirror images in the same call, progress bar off) around `compiled_embed_fn(model)`.
Baseline: the same compiled function called on an in-memory float32 tensor of the same batch
shape. Same process, same model, alternating rounds; prints images/s and real / bare (target
>= 0.85: decoding must hide behind the model).

    python benchmarks/bench_eval.py --lfw-dir cache/aligned/lfw_112x96 --width 0.25
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from common.errors import entry_point  # noqa: E402
from common.paths import CACHE_DIR, data_root  # noqa: E402
from common.tf_startup import import_tensorflow  # noqa: E402

tf = import_tensorflow()  # first: without the CPU-only start-up notices

import keras  # noqa: E402

import models  # noqa: E402
from verification.embedding import compiled_embed_fn, embed_paths  # noqa: E402
from verification.pairs import parse_pairs, resolve_images  # noqa: E402

PROG = "benchmarks/bench_eval.py"


@entry_point(PROG)
def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__.split("\n\n")[0])
    parser.add_argument("--lfw-dir", type=Path, default=CACHE_DIR / "aligned" / "lfw_112x96")
    parser.add_argument("--pairs", type=Path, default=None, help="default: data root lfw_pairs.txt")
    parser.add_argument("--model", default="resface20")
    parser.add_argument("--width", type=float, default=0.25, help="narrow keeps the run short")
    parser.add_argument("--image-size", default="112x96")
    parser.add_argument("--num-images", type=int, default=1024)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument(
        "--flip",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="embed mirror images too (eval_lfw.py's default)",
    )
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)

    image_size = models.parse_image_size(args.image_size)
    pairs = parse_pairs(args.pairs or data_root() / "lfw_pairs.txt")
    files = resolve_images(pairs, args.lfw_dir)
    paths = [files[s] for s in pairs.unique_stems()[: args.num_images]]
    keras.utils.set_random_seed(0)
    embed_fn = compiled_embed_fn(models.build(args.model, image_size=image_size, width=args.width), image_size)
    call_batch = args.batch_size * (2 if args.flip else 1)
    in_memory = tf.random.uniform((call_batch, *image_size, 3), 0, 255, seed=0)
    calls = -(-len(paths) // args.batch_size)

    def bare() -> float:
        started = time.perf_counter()
        for _ in range(calls):
            embed_fn(in_memory)
        return len(paths) / (time.perf_counter() - started)

    def real() -> float:
        started = time.perf_counter()
        embed_paths(embed_fn, paths, image_size, args.batch_size, args.flip, progress=False)
        return len(paths) / (time.perf_counter() - started)

    embed_fn(in_memory)  # trace once; both paths then run the same graph
    embed_paths(embed_fn, paths[: args.batch_size], image_size, args.batch_size, args.flip, progress=False)
    bare_rates, real_rates = [], []
    for round_index in range(args.rounds):
        bare_rates.append(bare())
        real_rates.append(real())
        print(f"round {round_index}: bare {bare_rates[-1]:.1f} img/s, real {real_rates[-1]:.1f} img/s")
    bare_rate, real_rate = statistics.median(bare_rates), statistics.median(real_rates)
    print(
        f"{args.model} width {args.width}, {len(paths)} images, batch {args.batch_size}"
        f"{' + mirrors' if args.flip else ''}, {os.cpu_count()} CPUs"
    )
    print(
        f"median images/s: bare compiled model {bare_rate:.1f}, eval path from disk "
        f"{real_rate:.1f}; ratio real/bare = {real_rate / bare_rate:.3f} (target >= 0.85)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""Evaluate face embeddings with the LFW verification protocol, on LFW or another benchmark.

    python eval_lfw.py --model RUN_DIR_OR_SAVED_MODEL_OR_NAME --lfw-dir ALIGNED_LFW --pairs PAIRS.txt
    python eval_lfw.py --embeddings FILE.npz --pairs PAIRS.txt
    python eval_lfw.py --model RUN_DIR --benchmark cfp_fp        (<data root>/cfp_fp.bin)
    python eval_lfw.py --model RUN_DIR --benchmark /data/agedb_30.bin

Benchmarks (verification/benchmarks.py; docs/benchmarks_eval.md): `--benchmark` takes a
registered name (its file under the data root), NAME=PATH, or a .bin path. Without it the pairs
file (`--pairs` over `--lfw-dir`, LFW's format) is the benchmark: `lfw` when it holds LFW View 2's
pairs, else a name made from its file name (or `--benchmark NAME` with `--pairs`). The name keeps
results apart: its TensorBoard chart `<name>/accuracy`, its HParams metrics, its cache and PNG names.

`--model` takes a run dir (runs/<name>, with export/embedder), an exported SavedModel folder, a
.tflite file (`python -m models export-tflite`), or a registry name such as `resface20` (an
untrained, seeded network: the chance baseline). Embeddings are cached as .npz (the same format
`--embeddings` reads) and reused on rerun. A model with BN always_train (test-time batch
statistics) gives embeddings that depend on their batch: it is embedded in batches of
`--batch-size` in the pairs file's order, which the cache key and the JSON record.
Prints a per-fold table; writes a ROC PNG, a gallery of the hardest errors, optional JSON and
the result into a training run's TensorBoard logs.

TensorBoard: when `--model` is a run dir (train.py's output), the result goes into that run's
logs at the step its export was made (model_info.json), as the last point of the benchmark's
curve (lfw/ for View 2) that the in-training checks drew, and, when every fold was used, as the
run's HParams metrics (lfw_view2/* for View 2, <name>_final/* for another; training/summaries.py). `--run-dir DIR [--step N]`
names another run dir or step; `--no-tensorboard` writes nothing there.

`--json` is written whole or not at all and never replaces a file unless `--overwrite`.

Projector (LFW only): the evaluated faces also go to TensorBoard's Projector tab (verification/projector.py):
the flip-combined, L2-normalised features of every image of the people with at least
`--projector-min-images` images among the evaluated ones (`--projector-all`: every image),
labelled by person, with a sprite of the aligned crops. For a run dir they are the run's plugin
assets (`tensorboard --logdir runs` shows them); otherwise `<out-dir>/projector/` is a log dir
of its own. `--no-projector` skips them.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from common.atomic_files import atomic_output, atomic_write_json, private_dir
from common.errors import UserFileExistsError, UserValueError, entry_point
from common.model_trust import add_trust_argument
from common.paths import CACHE_DIR, data_root
from common.run_layout import EMBEDDER_DIR, MODEL_INFO_FILE, RunLayout
from common.tf_startup import import_tensorflow
from verification import benchmarks, projector, protocol, report
from verification.embeddings_file import EmbeddingTable, load_embedding_table, path_stem
from verification.pair_set import PairSet
from verification.pairs import lfw_pair_set, parse_pairs

PROG = "eval_lfw.py"


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__.split("\n\n")[0])
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--model", help="run dir, exported SavedModel dir, .tflite file, or registry name")
    source.add_argument(
        "--embeddings", type=Path, help=".npz with paths, embeddings (and embeddings_flip for flip modes)"
    )
    add_trust_argument(parser)
    parser.add_argument(
        "--lfw-dir",
        type=Path,
        help="aligned LFW folder (required with --model on an LFW-format pairs "
        "file; with --embeddings only needed for the error gallery)",
    )
    parser.add_argument(
        "--pairs", type=Path, default=None, help="LFW-format pairs file (default: <data root>/lfw_pairs.txt)"
    )
    parser.add_argument(
        "--benchmark",
        help="a registered benchmark ("
        + ", ".join(benchmarks.BENCHMARKS)
        + "), NAME=PATH, or a .bin path; with --pairs: the name of that set",
    )
    parser.add_argument("--data-root", help="data root for the default pairs file")
    parser.add_argument("--folds", type=int, default=None, help="evaluate only the first N folds (default: all)")
    parser.add_argument(
        "--flip",
        choices=protocol.FLIP_MODES,
        default=None,
        help="test-time mirror images: none, concat or sum the features "
        "(default: concat; none for an --embeddings file without "
        "embeddings_flip)",
    )
    parser.add_argument("--similarity", choices=protocol.SIMILARITIES, default="cosine")
    parser.add_argument(
        "--subtract-mean", action="store_true", help="SphereFace: subtract the training folds' mean feature first"
    )
    parser.add_argument("--far-target", type=float, default=1e-3, help="FAR for VAL@FAR, in (0, 1)")
    parser.add_argument("--image-size", default=None, help="HxW; for saved models it is read from model_info.json")
    parser.add_argument("--width", type=float, default=1.0, help="registry models: width")
    parser.add_argument("--embedding-size", type=int, default=512, help="registry models: embedding size")
    parser.add_argument("--seed", type=int, default=0, help="registry models: init seed")
    parser.add_argument(
        "--batch-size",
        type=int,
        default=64,
        help="images per model call (plus their mirrors); changes the result only for BN always_train models",
    )
    parser.add_argument("--no-cache", action="store_true", help="recompute the embeddings and write no cache")
    parser.add_argument(
        "--out-dir",
        type=Path,
        default=None,
        help="folder for PNGs and the embedding cache (default: the run dir's eval/ or cache/eval/<model>)",
    )
    parser.add_argument("--json", type=Path, help="write the summary and per-fold numbers here")
    parser.add_argument("--overwrite", action="store_true", help="let --json replace an existing file")
    parser.add_argument(
        "--gallery-size", type=int, default=8, help="hardest false accepts / rejects shown (0: no gallery)"
    )
    parser.add_argument(
        "--run-dir",
        type=Path,
        help="write the result into RUN_DIR's TensorBoard logs (default: --model when it is a run dir)",
    )
    parser.add_argument("--step", type=int, help="TensorBoard step (default: the step of the run's export)")
    parser.add_argument(
        "--no-tensorboard", action="store_true", help="do not write the result into a run's TensorBoard logs"
    )
    parser.add_argument(
        "--no-projector", action="store_true", help="do not write the TensorBoard projector view of the faces"
    )
    parser.add_argument(
        "--projector-min-images",
        type=int,
        default=projector.DEFAULT_MIN_IMAGES,
        help="projector: people with at least this many evaluated images "
        f"(at most {projector.DEFAULT_MAX_POINTS} points)",
    )
    parser.add_argument("--projector-all", action="store_true", help="projector: every evaluated image, no cap")
    args = parser.parse_args(argv)
    if args.no_tensorboard and (args.run_dir or args.step is not None):
        parser.error("--no-tensorboard excludes --run-dir and --step")
    if args.model and args.lfw_dir is None and (args.benchmark is None or args.pairs is not None):
        parser.error("--model needs --lfw-dir (the aligned LFW folder)")
    if not 0.0 < args.far_target < 1.0:
        parser.error(f"--far-target must be in (0, 1), got {args.far_target}")
    if args.batch_size < 1:
        parser.error("--batch-size must be >= 1")
    return args


def tensorboard_target(args) -> tuple[Path, int] | None:
    """(run dir, step) whose TensorBoard logs receive the result, or None: `--run-dir`, else
    `--model` when it is a run dir; the step is `--step`, else the step recorded at export."""
    if args.no_tensorboard:
        return None
    run_dir = args.run_dir
    if run_dir is None and args.model and RunLayout(Path(args.model)).export.joinpath(EMBEDDER_DIR).is_dir():
        run_dir = Path(args.model)
    if run_dir is None:
        if args.step is not None:
            raise UserValueError("--step needs --run-dir, or --model naming a run dir")
        return None
    if args.step is not None:
        return run_dir, args.step
    info = RunLayout(Path(run_dir)).export / MODEL_INFO_FILE
    step = json.loads(info.read_text()).get("step") if info.is_file() else None
    if step is None:
        raise UserValueError(f"{run_dir}: no step recorded in {info}; pass --step N (or --no-tensorboard)")
    return run_dir, int(step)


def final_protocol(summary: dict, pairs: PairSet, args) -> str:
    """The <name>/protocol text of the final evaluation."""
    which = "first" if args.folds is not None else "all"
    return (
        f"eval_lfw.py: {which} {summary['num_folds']} folds ({summary['num_pairs']} pairs) of "
        f"{Path(pairs.source).name}, flip {args.flip}, {args.similarity}"
        f"{', mean subtracted' if args.subtract_mean else ''}"
    )


def load_benchmark(args) -> PairSet:
    """The benchmark to evaluate (first `--folds` folds): `--benchmark` or the pairs file."""
    root = data_root(args.data_root)
    requested = args.benchmark
    if args.benchmark is not None and args.pairs is None:
        target = benchmarks.resolve_target(args.benchmark, root, args.lfw_dir)
        if target.format != "lfw":
            pair_set = benchmarks.load_target(target)
            return pair_set if args.folds is None else pair_set.first_folds(args.folds)
        args.pairs, requested = target.path, target.name
    known = benchmarks.BENCHMARKS.get(requested)
    if known is not None and known.format != "lfw":
        raise UserValueError(
            f"--benchmark {requested} is a {known.format} file, not an LFW-format "
            "--pairs file: drop --pairs or pick another name"
        )
    if args.model and args.lfw_dir is None:
        raise UserValueError("--model on an LFW-format benchmark needs --lfw-dir (its aligned images)")
    args.pairs = args.pairs or root / "lfw_pairs.txt"
    pairs = parse_pairs(args.pairs)
    name = benchmarks.lfw_format_name(pairs, requested)
    if name != benchmarks.LFW:
        print(
            f"{args.pairs}: not LFW View 2's pairs; results are named {name!r}"
            f"{'' if args.benchmark else ' (--benchmark NAME names them)'}"
        )
    if args.folds is not None:
        pairs = pairs.first_folds(args.folds)
    return lfw_pair_set(name, pairs, args.lfw_dir)


def source_files(args, pairs: PairSet) -> dict:
    """What the benchmark's images were read from, for the cache key (a change invalidates it)."""
    if pairs.encoded is not None:
        stat = Path(pairs.source).stat()
        return {"bin": str(Path(pairs.source).resolve()), "bin_version": [stat.st_size, stat.st_mtime_ns]}
    image_dir = args.lfw_dir if args.lfw_dir is not None else Path(pairs.source).parent
    # A re-aligned folder rewrites its align_report.csv, which invalidates the cache.
    align_report = image_dir / "align_report.csv"
    aligned_version = align_report.stat().st_mtime_ns if align_report.is_file() else None
    return {
        "lfw_dir": str(image_dir.resolve()),
        "aligned_version": aligned_version,
        "pairs": str(Path(pairs.source).resolve()),
    }


def table_names(args, pairs: PairSet) -> list[str]:
    """The names the embedding table gives the benchmark's images (relative paths for folders)."""
    if pairs.image_paths is None or args.lfw_dir is None:
        return list(pairs.image_ids)
    return [str(path.relative_to(args.lfw_dir)) for path in pairs.image_paths]


def model_embeddings(args, pairs: PairSet):
    """Embed (or load from cache) every image of `pairs`; returns the table, the out dir and
    the verification.model_source.ModelSource."""
    import models
    from verification import embedding, model_source

    size = models.parse_image_size(args.image_size) if args.image_size else None
    source = model_source.resolve_model(
        args.model, size, args.width, args.embedding_size, args.seed, trust_model=args.trust_model
    )
    out_dir = args.out_dir or source.out_dir
    with_flip = args.flip != "none"  # no --flip (None) means concat
    stems = [path_stem(name) for name in pairs.image_ids]
    files = source_files(args, pairs)

    # Batch statistics make each embedding depend on its batch: the batch size joins the key.
    batch = {"batch_size": args.batch_size} if source.batch_dependent else {}
    if source.batch_dependent:
        print(batch_dependence_note(source.bn_mode, args.batch_size))

    def cache_path(flip_computed: bool) -> Path:
        key = model_source.cache_key(source.identity, **files, folds=args.folds, with_flip=flip_computed, **batch)
        return out_dir / f"{pairs.name}_embeddings_{key}.npz"

    # A cache holding mirror embeddings also serves --flip none.
    reusable = [cache_path(True)] if with_flip else [cache_path(False), cache_path(True)]
    for path in [] if args.no_cache else reusable:
        if path.is_file():
            table = load_embedding_table(path)
            table.rows_for(stems, str(path))  # a stale cache fails here, loudly
            print(f"reusing cached embeddings {path}")
            return table, out_dir, source
    embed_fn = source.load()
    started = time.perf_counter()
    if pairs.image_paths is not None:
        plain, flipped = embedding.embed_paths(
            embed_fn, pairs.image_paths, source.image_size, args.batch_size, with_flip
        )
    else:
        plain, flipped = embedding.embed_array(
            embed_fn, pairs.load_images(source.image_size), args.batch_size, with_flip, progress=True
        )
    seconds = time.perf_counter() - started
    print(
        f"embedded {len(stems)} images{' (+ mirrors)' if with_flip else ''} in {seconds:.1f} s "
        f"({len(stems) / seconds:.1f} img/s)"
    )
    table = EmbeddingTable(tuple(table_names(args, pairs)), plain, flipped)
    make_out_dir(out_dir)
    if not args.no_cache:
        table.save(reusable[0])
        print(f"cached embeddings in {reusable[0]}")
    return table, out_dir, source


def make_out_dir(out_dir: Path) -> None:
    """A new output folder is private (it holds embeddings and face galleries); an existing one
    keeps its mode (it may be any folder the user named)."""
    if not out_dir.exists():
        private_dir(out_dir)


def batch_dependence_note(bn_mode: str | None, batch_size: int) -> str:
    """What eval does with a model whose embeddings may depend on the batch, in one line."""
    why = (
        "BN always_train: each embedding depends on the other images of its batch"
        if bn_mode
        else "the export records no BN mode: embeddings may depend on the batch"
    )
    return (
        f"{why}; embedding {batch_size} images (with their mirrors, if any) per batch in the "
        "pairs file's order, and the result holds for this --batch-size only"
    )


def flip_mode(requested: str | None, table: EmbeddingTable, source_name: str) -> tuple[str, str]:
    """The flip mode to evaluate with and why. None requested: concat where the table holds
    mirror-image embeddings, else none, so a file exported by any other model (only `paths` and
    `embeddings`) just works. A requested mode the table cannot serve is the user's error."""
    has_flip = table.embeddings_flip is not None
    if requested is None:
        if has_flip:
            return "concat", "default"
        return "none", f"{Path(source_name).name} holds no embeddings_flip"
    if requested != "none" and not has_flip:
        raise UserValueError(
            f"{source_name}: --flip {requested} needs 'embeddings_flip'; "
            "pass --flip none or add mirror-image embeddings"
        )
    return requested, "requested"


def write_projector_view(
    args, table: EmbeddingTable, features: np.ndarray, evaluated: np.ndarray, run_dir: Path | None, out_dir: Path
) -> None:
    """The projector files of the evaluated images (rows of `table`), into the run's TensorBoard
    plugin assets when there is a run, else into out_dir/projector/."""
    if args.lfw_dir is None:
        print("no projector view: pass --lfw-dir for the face sprite")
        return
    paths = [table.paths[i] for i in evaluated]
    chosen = np.arange(len(paths)) if args.projector_all else projector.select_rows(paths, args.projector_min_images)
    if not len(chosen):
        print(f"no projector view: nobody has {args.projector_min_images} evaluated images")
        return
    if run_dir is not None:
        from training import summaries

        folder = projector.run_assets_dir(summaries.tensorboard_dir(run_dir))
        shown_with = run_dir
    else:
        folder = shown_with = out_dir / "projector"
    rows = evaluated[chosen]
    projector.write_projector(folder, features[rows], [table.paths[i] for i in rows], args.lfw_dir)
    people = len({projector.person_of(table.paths[i]) for i in rows})
    print(
        f"projector: {len(rows)} faces of {people} people in {folder} "
        f"(tensorboard --logdir {shown_with}, Projector tab)"
    )


@entry_point(PROG)
def main(argv=None) -> int:
    args = parse_args(argv)
    target = tensorboard_target(args)  # a bad target fails before the embedding pass
    if args.model or target is not None:  # (an --embeddings file alone needs no TensorFlow)
        import_tensorflow()  # before models/ or training.summaries do: without the CPU-only notices
    if args.json is not None and args.json.exists() and not args.overwrite:
        raise UserFileExistsError(f"--json {args.json} exists; pass --overwrite to replace it")
    pairs = load_benchmark(args)

    batch_record = {}
    if args.model:
        table, out_dir, source = model_embeddings(args, pairs)
        label, source_name = source.label, "embedding cache"
        if source.batch_dependent:
            batch_record = {"batch_dependent": True, "batch_size": args.batch_size}
    else:
        table = load_embedding_table(args.embeddings)
        out_dir = args.out_dir or CACHE_DIR / "eval" / args.embeddings.stem
        label, source_name = args.embeddings.stem, str(args.embeddings)
    args.flip, why = flip_mode(args.flip, table, source_name)
    print(f"flip mode: {args.flip} ({why})")

    rows = table.rows_for([path_stem(name) for name in pairs.image_ids], source_name)
    left, right = rows[pairs.left_rows], rows[pairs.right_rows]
    features = protocol.combine_flip(table.embeddings, table.embeddings_flip, args.flip)
    result = protocol.evaluate_pairs(
        features[left],
        features[right],
        pairs.is_same,
        pairs.fold_ids,
        args.similarity,
        args.subtract_mean,
        args.far_target,
    )
    summary = result.to_dict()
    tag = f"{pairs.name}_{args.flip}_{args.similarity}{'_meansub' if args.subtract_mean else ''}"
    title = f"{'LFW' if pairs.name == benchmarks.LFW else pairs.name} {label} [{tag}]"
    print(report.format_table(summary, title))

    make_out_dir(out_dir)
    if not args.no_projector and pairs.name == benchmarks.LFW:
        write_projector_view(
            args, table, features, np.unique(np.concatenate([left, right])), target[0] if target else None, out_dir
        )
    roc_path = out_dir / f"roc_{tag}.png"
    with atomic_output(roc_path) as partial:
        report.save_roc_png(result, partial, title)
    print(f"ROC curve: {roc_path}")
    write_gallery(args, result, pairs, out_dir / f"hardest_errors_{tag}.png")
    if args.json:
        summary.update(model=label, benchmark=pairs.name, pairs=str(pairs.source), flip=args.flip, **batch_record)
        atomic_write_json(args.json, summary)
        print(f"JSON: {args.json}")
    if target is not None:
        from training import summaries

        run_dir, step = target
        all_folds = args.folds is None
        final = benchmarks.final_name(pairs.name)
        written = summaries.write_final(
            run_dir, step, pairs.name, summary, final_protocol(summary, pairs, args), all_folds
        )
        print(
            f"TensorBoard: step {step} of {', '.join(map(str, written))} "
            f"({f'{pairs.name}/ and the HParams metrics {final}/' if all_folds else f'{pairs.name}/ only: not every fold'})"
        )
    return 0


def write_gallery(args, result, pairs: PairSet, path: Path) -> None:
    """The hardest false accepts and rejects side by side (a private file: faces)."""
    if args.gallery_size <= 0:
        return
    if pairs.image_paths is None and pairs.encoded is None:
        print("no error gallery: pass --lfw-dir to show the images")
        return
    row = {name: k for k, name in enumerate(pairs.image_ids)}
    with atomic_output(path, private=True) as partial:
        shown = report.save_error_gallery(
            result, pairs.left, pairs.right, lambda name: pairs.image(row[name]), partial, args.gallery_size
        )
    print(f"hardest errors ({shown[0]} false accepts, {shown[1]} false rejects): {path}")


if __name__ == "__main__":
    sys.exit(main())

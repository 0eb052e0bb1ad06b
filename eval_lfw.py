#!/usr/bin/env python3
"""Evaluate face embeddings with the LFW verification protocol.

    python eval_lfw.py --model RUN_DIR_OR_SAVED_MODEL_OR_NAME --lfw-dir ALIGNED_LFW --pairs PAIRS.txt
    python eval_lfw.py --embeddings FILE.npz --pairs PAIRS.txt

`--model` takes a run dir (runs/<name>, with export/embedder), an exported SavedModel folder, a
.tflite file (`python -m models export-tflite`), or a registry name such as `resface20` (an
untrained, seeded network: the chance baseline). Embeddings are cached as .npz (the same format
`--embeddings` reads) and reused on rerun. A model with BN always_train (test-time batch
statistics) gives embeddings that depend on their batch: it is embedded in batches of
`--batch-size` in the pairs file's order, which the cache key and the JSON record.
Prints a per-fold table; writes a ROC PNG, a gallery of the hardest errors, optional JSON and
the result into a training run's TensorBoard logs.

TensorBoard: when `--model` is a run dir (train.py's output), the result goes into that run's
logs at the step its export was made (model_info.json), as the last point of the lfw/ curve that
the in-training checks drew, and, when every fold of the pairs file was used, as the run's
HParams metrics lfw_view2/* (tag scheme: training/summaries.py). `--run-dir DIR [--step N]`
names another run dir or step; `--no-tensorboard` writes nothing there.

Projector: the evaluated faces also go to TensorBoard's Projector tab (verification/projector.py):
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

from common.errors import UserValueError, entry_point
from common.paths import CACHE_DIR, data_root
from common.run_layout import EMBEDDER_DIR, MODEL_INFO_FILE, RunLayout
from common.tf_startup import import_tensorflow
from verification import projector, protocol, report
from verification.embeddings_file import EmbeddingTable, load_embedding_table
from verification.pairs import Pairs, parse_pairs, resolve_images


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--model",
                        help="run dir, exported SavedModel dir, .tflite file, or registry name")
    source.add_argument("--embeddings", type=Path,
                        help=".npz with paths, embeddings (and embeddings_flip for flip modes)")
    parser.add_argument("--lfw-dir", type=Path,
                        help="aligned LFW folder (required with --model; with --embeddings only "
                             "needed for the error gallery)")
    parser.add_argument("--pairs", type=Path, default=None,
                        help="pairs file (default: <data root>/lfw_pairs.txt)")
    parser.add_argument("--data-root", help="data root for the default pairs file")
    parser.add_argument("--folds", type=int, default=None,
                        help="evaluate only the first N folds (default: all)")
    parser.add_argument("--flip", choices=protocol.FLIP_MODES, default=None,
                        help="test-time mirror images: none, concat or sum the features "
                             "(default: concat; none for an --embeddings file without "
                             "embeddings_flip)")
    parser.add_argument("--similarity", choices=protocol.SIMILARITIES, default="cosine")
    parser.add_argument("--subtract-mean", action="store_true",
                        help="SphereFace: subtract the training folds' mean feature first")
    parser.add_argument("--far-target", type=float, default=1e-3, help="FAR for VAL@FAR")
    parser.add_argument("--image-size", default=None,
                        help="HxW; for saved models it is read from model_info.json")
    parser.add_argument("--width", type=float, default=1.0, help="registry models: width")
    parser.add_argument("--embedding-size", type=int, default=512,
                        help="registry models: embedding size")
    parser.add_argument("--seed", type=int, default=0, help="registry models: init seed")
    parser.add_argument("--batch-size", type=int, default=64,
                        help="images per model call (plus their mirrors); changes the result "
                             "only for BN always_train models")
    parser.add_argument("--no-cache", action="store_true", help="recompute embeddings")
    parser.add_argument("--out-dir", type=Path, default=None,
                        help="folder for PNGs and the embedding cache (default: the run dir's "
                             "eval/ or cache/eval/<model>)")
    parser.add_argument("--json", type=Path, help="write the summary and per-fold numbers here")
    parser.add_argument("--gallery-size", type=int, default=8,
                        help="hardest false accepts / rejects shown (0: no gallery)")
    parser.add_argument("--run-dir", type=Path,
                        help="write the result into RUN_DIR's TensorBoard logs (default: --model "
                             "when it is a run dir)")
    parser.add_argument("--step", type=int,
                        help="TensorBoard step (default: the step of the run's export)")
    parser.add_argument("--no-tensorboard", action="store_true",
                        help="do not write the result into a run's TensorBoard logs")
    parser.add_argument("--no-projector", action="store_true",
                        help="do not write the TensorBoard projector view of the faces")
    parser.add_argument("--projector-min-images", type=int, default=projector.DEFAULT_MIN_IMAGES,
                        help="projector: people with at least this many evaluated images "
                             f"(at most {projector.DEFAULT_MAX_POINTS} points)")
    parser.add_argument("--projector-all", action="store_true",
                        help="projector: every evaluated image, no cap")
    args = parser.parse_args(argv)
    if args.no_tensorboard and (args.run_dir or args.step is not None):
        parser.error("--no-tensorboard excludes --run-dir and --step")
    if args.model and args.lfw_dir is None:
        parser.error("--model needs --lfw-dir (the aligned LFW folder)")
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
        raise UserValueError(f"{run_dir}: no step recorded in {info}; pass --step N "
                             "(or --no-tensorboard)")
    return run_dir, int(step)


def final_protocol(summary: dict, pairs: Pairs, args) -> str:
    """The lfw/protocol text of the final evaluation."""
    which = "first" if args.folds is not None else "all"
    return (f"eval_lfw.py: {which} {summary['num_folds']} folds ({summary['num_pairs']} pairs) of "
            f"{Path(pairs.source).name}, flip {args.flip}, {args.similarity}"
            f"{', mean subtracted' if args.subtract_mean else ''}")


def model_embeddings(args, pairs: Pairs, files: dict[str, Path]):
    """Embed (or load from cache) every image of `pairs`; returns the table, the out dir and
    the verification.model_source.ModelSource."""
    from verification import embedding, model_source

    import models

    size = models.parse_image_size(args.image_size) if args.image_size else None
    source = model_source.resolve_model(args.model, size, args.width, args.embedding_size,
                                        args.seed)
    out_dir = args.out_dir or source.out_dir
    with_flip = args.flip != "none"  # no --flip (None) means concat
    stems = pairs.unique_stems()

    # A re-aligned folder rewrites its align_report.csv, which invalidates the cache.
    align_report = args.lfw_dir / "align_report.csv"
    aligned_version = align_report.stat().st_mtime_ns if align_report.is_file() else None

    # Batch statistics make each embedding depend on its batch: the batch size joins the key.
    batch = {"batch_size": args.batch_size} if source.batch_dependent else {}
    if source.batch_dependent:
        print(batch_dependence_note(source.bn_mode, args.batch_size))

    def cache_path(flip_computed: bool) -> Path:
        key = model_source.cache_key(source.identity, lfw_dir=str(args.lfw_dir.resolve()),
                                     aligned_version=aligned_version,
                                     pairs=str(args.pairs.resolve()), folds=args.folds,
                                     with_flip=flip_computed, **batch)
        return out_dir / f"lfw_embeddings_{key}.npz"

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
    plain, flipped = embedding.embed_paths(embed_fn, [files[s] for s in stems],
                                           source.image_size, args.batch_size, with_flip)
    seconds = time.perf_counter() - started
    print(f"embedded {len(stems)} images{' (+ mirrors)' if with_flip else ''} in {seconds:.1f} s "
          f"({len(stems) / seconds:.1f} img/s)")
    relative = [str(files[s].relative_to(args.lfw_dir)) for s in stems]
    table = EmbeddingTable(tuple(relative), plain, flipped)
    table.save(reusable[0])
    print(f"cached embeddings in {reusable[0]}")
    return table, out_dir, source


def batch_dependence_note(bn_mode: str | None, batch_size: int) -> str:
    """What eval does with a model whose embeddings may depend on the batch, in one line."""
    why = ("BN always_train: each embedding depends on the other images of its batch"
           if bn_mode else "the export records no BN mode: embeddings may depend on the batch")
    return (f"{why}; embedding {batch_size} images (with their mirrors, if any) per batch in the "
            "pairs file's order, and the result holds for this --batch-size only")


def flip_mode(requested: str | None, table: EmbeddingTable, source_name: str
              ) -> tuple[str, str]:
    """The flip mode to evaluate with and why. None requested: concat where the table holds
    mirror-image embeddings, else none, so a file exported by any other model (only `paths` and
    `embeddings`) just works. A requested mode the table cannot serve is the user's error."""
    has_flip = table.embeddings_flip is not None
    if requested is None:
        if has_flip:
            return "concat", "default"
        return "none", f"{Path(source_name).name} holds no embeddings_flip"
    if requested != "none" and not has_flip:
        raise UserValueError(f"{source_name}: --flip {requested} needs 'embeddings_flip'; "
                             "pass --flip none or add mirror-image embeddings")
    return requested, "requested"


def write_projector_view(args, table: EmbeddingTable, features: np.ndarray,
                         evaluated: np.ndarray, run_dir: Path | None, out_dir: Path) -> None:
    """The projector files of the evaluated images (rows of `table`), into the run's TensorBoard
    plugin assets when there is a run, else into out_dir/projector/."""
    if args.lfw_dir is None:
        print("no projector view: pass --lfw-dir for the face sprite")
        return
    paths = [table.paths[i] for i in evaluated]
    chosen = (np.arange(len(paths)) if args.projector_all else
              projector.select_rows(paths, args.projector_min_images))
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
    print(f"projector: {len(rows)} faces of {people} people in {folder} "
          f"(tensorboard --logdir {shown_with}, Projector tab)")


@entry_point("eval_lfw.py")
def main(argv=None) -> int:
    args = parse_args(argv)
    target = tensorboard_target(args)  # a bad target fails before the embedding pass
    if args.model or target is not None:  # (an --embeddings file alone needs no TensorFlow)
        import_tensorflow()  # before models/ or training.summaries do: without the CPU-only notices
    args.pairs = args.pairs or data_root(args.data_root) / "lfw_pairs.txt"
    pairs = parse_pairs(args.pairs)
    if args.folds is not None:
        pairs = pairs.first_folds(args.folds)
    files = resolve_images(pairs, args.lfw_dir) if args.lfw_dir else None

    batch_record = {}
    if args.model:
        table, out_dir, source = model_embeddings(args, pairs, files)
        label, source_name = source.label, "embedding cache"
        if source.batch_dependent:
            batch_record = {"batch_dependent": True, "batch_size": args.batch_size}
    else:
        table = load_embedding_table(args.embeddings)
        out_dir = args.out_dir or CACHE_DIR / "eval" / args.embeddings.stem
        label, source_name = args.embeddings.stem, str(args.embeddings)
    args.flip, why = flip_mode(args.flip, table, source_name)
    print(f"flip mode: {args.flip} ({why})")

    left = table.rows_for(list(pairs.left), source_name)
    right = table.rows_for(list(pairs.right), source_name)
    features = protocol.combine_flip(table.embeddings, table.embeddings_flip, args.flip)
    result = protocol.evaluate_pairs(features[left], features[right], pairs.is_same,
                                     pairs.fold_ids, args.similarity, args.subtract_mean,
                                     args.far_target)
    summary = result.to_dict()
    tag = (f"{Path(pairs.source).stem}_{args.flip}_{args.similarity}"
           f"{'_meansub' if args.subtract_mean else ''}")
    title = f"LFW {label} [{tag}]"
    print(report.format_table(summary, title))

    out_dir.mkdir(parents=True, exist_ok=True)
    if not args.no_projector:
        write_projector_view(args, table, features, np.unique(np.concatenate([left, right])),
                             target[0] if target else None, out_dir)
    roc_path = out_dir / f"roc_{tag}.png"
    report.save_roc_png(result, roc_path, title)
    print(f"ROC curve: {roc_path}")
    if args.gallery_size > 0 and files is not None:
        from PIL import Image

        gallery_path = out_dir / f"hardest_errors_{tag}.png"
        shown = report.save_error_gallery(
            result, list(pairs.left), list(pairs.right),
            lambda stem: np.asarray(Image.open(files[stem]).convert("RGB")), gallery_path,
            args.gallery_size)
        print(f"hardest errors ({shown[0]} false accepts, {shown[1]} false rejects): "
              f"{gallery_path}")
    elif args.gallery_size > 0:
        print("no error gallery: pass --lfw-dir to show the images")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        summary.update(model=label, pairs=str(args.pairs), flip=args.flip, **batch_record)
        args.json.write_text(json.dumps(summary, indent=2))
        print(f"JSON: {args.json}")
    if target is not None:
        from training import summaries

        run_dir, step = target
        all_folds = args.folds is None
        written = summaries.write_lfw_final(run_dir, step, summary, final_protocol(summary, pairs, args),
                                            all_folds)
        print(f"TensorBoard: step {step} of {', '.join(map(str, written))} "
              f"({'lfw/ and the HParams metrics lfw_view2/' if all_folds else 'lfw/ only: not every fold'})")
    return 0


if __name__ == "__main__":
    sys.exit(main())

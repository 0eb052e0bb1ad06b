"""Must-show for verification: verify.py's pipeline on RAW LFW photos agrees with eval_lfw.py.

    python tools/demo_verification.py --model runs/<name>/export \\
        --threshold-from eval.json --aligned-lfw cache/aligned/lfw_112x96

For --num-pairs pairs drawn from the pairs file (half same, half different, --seed), scores each
pair twice with the same model and flip mode: from the raw photos (detect, gate, align, embed, as
verify.py does) and as eval_lfw.py does (its embedding cache --eval-embeddings, or the aligned
LFW folder it reads), and reports how often the two decisions at the threshold agree.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from common.errors import UserFileNotFoundError, entry_point  # noqa: E402
from common.paths import data_root, require_data  # noqa: E402
from common.vectors import l2_normalize  # noqa: E402
from recognition import cli  # noqa: E402
from recognition.thresholds import resolve_threshold  # noqa: E402
from verification import protocol  # noqa: E402
from verification.pairs import parse_pairs  # noqa: E402

PROG = "tools/demo_verification.py"


def sample_pairs(pairs, num_pairs: int, seed: int) -> list[int]:
    """Indices of `num_pairs` pairs, half same-person and half different, in file order."""
    rng = random.Random(seed)
    same = [i for i, s in enumerate(pairs.is_same) if s]
    different = [i for i, s in enumerate(pairs.is_same) if not s]
    half = num_pairs // 2
    return sorted(rng.sample(same, half) + rng.sample(different, num_pairs - half))


def aligned_file(folder: Path, stem: str) -> Path:
    """The aligned copy of LFW image `stem` (.jpg or .png, as align_dataset.py writes them)."""
    for suffix in (".jpg", ".png"):
        if (folder / f"{stem}{suffix}").is_file():
            return folder / f"{stem}{suffix}"
    raise UserFileNotFoundError(f"{folder}: no aligned image for {stem} (.jpg or .png)")


def eval_features(args, embedder, stems: list[str]) -> dict[str, np.ndarray]:
    """Flip-combined features of `stems` the way eval_lfw.py computes them."""
    if args.eval_embeddings:
        from verification.embeddings_file import load_embedding_table

        table = load_embedding_table(args.eval_embeddings)
        rows = table.rows_for(stems, str(args.eval_embeddings))
        flipped = None if table.embeddings_flip is None else table.embeddings_flip[rows]
        features = protocol.combine_flip(table.embeddings[rows], flipped, args.flip)
    else:
        from verification import embedding

        plain, flipped = embedding.embed_paths(
            embedder,
            [aligned_file(args.aligned_lfw, s) for s in stems],
            embedder.image_size,
            with_flip=args.flip != "none",
            progress=False,
        )
        features = protocol.combine_flip(plain, flipped, args.flip)
    return dict(zip(stems, l2_normalize(features), strict=True))


@entry_point(PROG)
def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__.split("\n\n")[0])
    cli.add_model_arguments(parser)
    cli.add_threshold_arguments(parser)
    cli.add_face_arguments(parser)
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--eval-embeddings", type=Path, help="eval_lfw.py's embedding cache .npz")
    source.add_argument("--aligned-lfw", type=Path, help="the aligned LFW folder eval_lfw.py reads")
    parser.add_argument("--data-root", help="data root holding lfw/ and the pairs file")
    parser.add_argument("--pairs", type=Path, help="default: <data root>/lfw_pairs.txt")
    parser.add_argument("--num-pairs", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path, help="also write the numbers here")
    args = parser.parse_args(argv)
    threshold = resolve_threshold(args.threshold, args.threshold_from, args.flip, args.far)
    raw_lfw = require_data("lfw", args.data_root)
    pairs = parse_pairs(args.pairs or data_root(args.data_root) / "lfw_pairs.txt")
    chosen = sample_pairs(pairs, args.num_pairs, args.seed)
    stems = sorted({s for i in chosen for s in (pairs.left[i], pairs.right[i])})

    photo_embedder = cli.photo_embedder(args, args.model)
    evaluated = eval_features(args, photo_embedder.embedder, stems)  # cheap: fails first
    raw = {stem: photo_embedder.process(raw_lfw / f"{stem}.jpg") for stem in stems}

    rows, agree, refused, differences = [], 0, 0, []
    for i in chosen:
        left, right = pairs.left[i], pairs.right[i]
        eval_score = float(evaluated[left] @ evaluated[right])
        problems = [p for p in (raw[left].problem(), raw[right].problem()) if p]
        raw_score = None if problems else float(raw[left].usable[0].feature @ raw[right].usable[0].feature)
        if raw_score is None:
            refused += 1
        else:
            agree += (raw_score >= threshold) == (eval_score >= threshold)
            differences.append(abs(raw_score - eval_score))
        rows.append(
            dict(
                left=left,
                right=right,
                same_person=bool(pairs.is_same[i]),
                raw_score=raw_score,
                eval_score=eval_score,
                refused="; ".join(problems),
            )
        )
        shown = "refused" if raw_score is None else f"{raw_score:.4f}"
        print(
            f"{left} vs {right} ({'same' if pairs.is_same[i] else 'diff'}): raw {shown}, "
            f"eval {eval_score:.4f}" + (f" [{'; '.join(problems)}]" if problems else "")
        )
    compared = len(chosen) - refused
    numbers = dict(
        model=args.model,
        threshold=threshold,
        flip=args.flip,
        pairs=len(chosen),
        refused=refused,
        decisions_agree=agree,
        compared=compared,
        agreement=agree / compared if compared else None,
        max_abs_score_difference=max(differences) if differences else None,
        mean_abs_score_difference=float(np.mean(differences)) if differences else None,
    )
    for key, value in numbers.items():
        print(f"{key}: {value}")
    if args.json:
        args.json.write_text(json.dumps(dict(numbers, rows=rows), indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

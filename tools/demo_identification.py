"""Must-show for identification on real raw photos: enroll CelebA identities, search held-out ones.

    python tools/demo_identification.py --model runs/<name>/export --threshold-from eval.json

Identities with at least --min-photos photos are shuffled (--seed); the first --num-known are
enrolled from their first --enroll-photos photos and probed with the next --probe-photos; the
next --num-unknown identities are never enrolled and probe the "unknown" decision. Reports
closed-set top-1 accuracy, the open-set identification rate (correct and above threshold) and
the rejection rate of unknown identities, over probes that yielded a usable face.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from common.errors import UserValueError, entry_point  # noqa: E402
from common.paths import require_data  # noqa: E402
from recognition import cli  # noqa: E402
from recognition.decision import is_match  # noqa: E402
from recognition.enroll import enroll  # noqa: E402
from recognition.gallery import IdentitySearcher  # noqa: E402
from recognition.photos import list_images  # noqa: E402
from recognition.thresholds import resolve_threshold  # noqa: E402

PROG = "tools/demo_identification.py"


def split_identities(
    root: Path, min_photos: int, num_known: int, num_unknown: int, enroll_photos: int, probe_photos: int, seed: int
):
    """({identity: enrolment photos}, {identity: probe photos}, {identity: unknown probes})."""
    rng = random.Random(seed)
    folders = {d.name: list_images([d]) for d in sorted(root.iterdir()) if d.is_dir()}
    eligible = sorted(name for name, photos in folders.items() if len(photos) >= min_photos)
    if len(eligible) < num_known + num_unknown:
        raise UserValueError(
            f"{root}: {len(eligible)} identities with >= {min_photos} photos, "
            f"{num_known} known + {num_unknown} unknown requested"
        )
    rng.shuffle(eligible)
    enrolment, probes, unknown = {}, {}, {}
    for name in eligible[:num_known]:
        photos = rng.sample(folders[name], len(folders[name]))
        # A fixed split: a failed enrolment photo is never replaced by one of the probes.
        enrolment[name] = photos[:enroll_photos]
        probes[name] = photos[enroll_photos : enroll_photos + probe_photos]
    for name in eligible[num_known : num_known + num_unknown]:
        unknown[name] = rng.sample(folders[name], len(folders[name]))[:probe_photos]
    return enrolment, probes, unknown


def top1(embedder, searcher, photos_by_identity):
    """[(true identity, predicted identity, score)] for probes with a usable face; failure count."""
    outcomes, failures = [], 0
    for name, photos in photos_by_identity.items():
        for photo in photos:
            result = embedder.process(photo)
            if result.problem():
                failures += 1
                continue
            match = searcher.search([result.usable[0].feature], k=1)[0][0]
            outcomes.append((name, match.identity, match.score))
    return outcomes, failures


def open_set_rates(known, strangers, threshold: float) -> dict:
    """At `threshold`: the open-set identification rate (top-1 right and accepted) over known
    probes and the rejection rate over never-enrolled ones."""
    correct = np.array([truth == predicted for truth, predicted, _ in known], bool)
    accepted = np.array([is_match(score, threshold) for _, _, score in known], bool)
    rejected = np.array([not is_match(score, threshold) for _, _, score in strangers], bool)
    return dict(
        threshold=threshold,
        open_set_identification_rate=float((correct & accepted).mean()) if len(known) else None,
        unknown_rejection_rate=float(rejected.mean()) if len(strangers) else None,
    )


def threshold_tradeoff(known, strangers, report: str, flip: str | None) -> dict:
    """The rates at the eval report's two thresholds: its LFW accuracy threshold and its
    threshold at the false-accept rate it was computed for (`--far`)."""
    far = json.loads(Path(report).read_text()).get("far_target")
    thresholds = {"accuracy": resolve_threshold(None, report, flip)}
    if far is not None:
        thresholds[f"far {far:g}"] = resolve_threshold(None, report, flip, far)
    return {name: open_set_rates(known, strangers, value) for name, value in thresholds.items()}


@entry_point(PROG)
def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__.split("\n\n")[0])
    cli.add_model_arguments(parser)
    cli.add_threshold_arguments(parser)
    cli.add_face_arguments(parser)
    parser.add_argument("--data-root", help="data root holding --dataset")
    parser.add_argument(
        "--dataset",
        default="celeba299",
        help="identity folders under the data root (default celeba299; lfw: people "
        "none of the CelebA-trained models saw)",
    )
    parser.add_argument("--min-photos", type=int, default=10)
    parser.add_argument("--num-known", type=int, default=100)
    parser.add_argument("--num-unknown", type=int, default=50)
    parser.add_argument("--enroll-photos", type=int, default=5)
    parser.add_argument("--probe-photos", type=int, default=3)
    parser.add_argument("--mode", choices=("mean", "all"), default="mean")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path, help="also write the numbers here")
    args = parser.parse_args(argv)
    threshold = resolve_threshold(args.threshold, args.threshold_from, args.flip, args.far)
    if args.json and args.json.exists():
        parser.error(f"{args.json} exists: choose another --json")

    started = time.time()
    enrolment, probes, unknown = split_identities(
        require_data(args.dataset, args.data_root),
        args.min_photos,
        args.num_known,
        args.num_unknown,
        args.enroll_photos,
        args.probe_photos,
        args.seed,
    )
    embedder = cli.photo_embedder(args, args.model)
    gallery = enroll(
        enrolment, embedder, args.mode, meta=dict(model=args.model), log=lambda message: print(message, file=sys.stderr)
    )
    searcher = IdentitySearcher(gallery)
    known, known_failures = top1(embedder, searcher, probes)
    strangers, stranger_failures = top1(embedder, searcher, unknown)

    correct = np.array([truth == predicted for truth, predicted, _ in known])
    at_threshold = open_set_rates(known, strangers, threshold)
    numbers = dict(
        model=args.model,
        dataset=args.dataset,
        threshold=threshold,
        flip=args.flip,
        enroll_mode=args.mode,
        seed=args.seed,
        enrolled_identities=len(gallery.identities),
        enrolled_photos=len(gallery.sources) if args.mode == "all" else sum(s.count("|") + 1 for s in gallery.sources),
        known_probes=len(known),
        known_probe_failures=known_failures,
        top1_accuracy=float(correct.mean()) if len(known) else None,
        open_set_identification_rate=at_threshold["open_set_identification_rate"],
        unknown_probes=len(strangers),
        unknown_probe_failures=stranger_failures,
        unknown_rejection_rate=at_threshold["unknown_rejection_rate"],
        seconds=round(time.time() - started, 1),
    )
    if args.threshold_from:
        numbers["tradeoff"] = threshold_tradeoff(known, strangers, args.threshold_from, args.flip)
    for key, value in numbers.items():
        print(f"{key}: {value}")
    if args.json:
        args.json.write_text(json.dumps(numbers, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The registry of verification benchmarks: each one's name, file format and files.

A benchmark name names everything a result becomes: the TensorBoard chart `<name>/accuracy`
(training/summaries.py), the HParams metrics `<name>_check/accuracy` and `<final>/...`, and the
run's `eval/<final>.json` (common/run_layout.py), where `final` is `lfw_view2` for LFW and
`<name>_final` for the others. Adding a benchmark in a known format is one line in BENCHMARKS
(docs/design.md, "Adding a benchmark"); a new format is one reader module plus a line in FORMATS.

Where the files are: `eval.targets` in a config and eval_lfw.py's `--benchmark` take a target
spec, `NAME` (the registered file under the data root), `NAME=PATH` (the same benchmark, its
file elsewhere; an unregistered NAME is a custom set whose format the path's suffix gives:
`.bin` or a pair list) or a `.bin` path alone (named after the file). LFW's images are the
aligned folder (`eval.lfw_dir`, `--lfw-dir`), its pairs `eval.pairs` / `--pairs`. TF-free.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from common.errors import UserValueError
from verification.insightface_bin import bin_pair_set
from verification.pair_list import list_pair_set
from verification.pair_set import PairSet, check_name
from verification.pairs import Pairs, lfw_pair_set, parse_pairs

LFW = "lfw"
LFW_FINAL = "lfw_view2"
# Pairs.fingerprint() of LFW View 2's official pairs.txt (10 folds of 300 + 300 pairs).
VIEW2_FINGERPRINT = "d14b88776270e1ee32b500713d50fc67e963539d8cedffe8a10977fdb33c79fa"


@dataclass(frozen=True)
class Target:
    """A benchmark with its files found: what the loaders read."""

    name: str
    format: str
    path: Path  # the pairs file, pair list or .bin
    images: Path | None  # the image folder (LFW format only)

    @property
    def final(self) -> str:
        return final_name(self.name)


def _load_lfw(target: Target) -> PairSet:
    if target.images is None:
        raise UserValueError(f"{target.name}: the LFW format needs its image folder (--lfw-dir, eval.lfw_dir)")
    return lfw_pair_set(target.name, parse_pairs(target.path), target.images)


FORMATS: dict[str, Callable[[Target], PairSet]] = {
    "lfw": _load_lfw,  # verification/pairs.py
    "bin": lambda target: bin_pair_set(target.name, target.path),  # verification/insightface_bin.py
    "list": lambda target: list_pair_set(target.name, target.path),  # verification/pair_list.py
}


@dataclass(frozen=True)
class Benchmark:
    name: str
    format: str  # a key of FORMATS
    file: str  # under the data root: pairs file, .bin or pair list
    measures: str  # one line for docs and `--help`


BENCHMARKS = {
    b.name: b
    for b in (
        Benchmark(LFW, "lfw", "lfw_pairs.txt", "LFW View 2: 6,000 pairs of web photos, mostly frontal"),
        Benchmark("lfw_bin", "bin", "lfw.bin", "LFW View 2's pairs as insightface aligned them (112x112)"),
        Benchmark("cfp_fp", "bin", "cfp_fp.bin", "pose: frontal vs profile photos (CFP)"),
        Benchmark("cfp_ff", "bin", "cfp_ff.bin", "frontal vs frontal photos of the same people (CFP)"),
        Benchmark("cplfw", "bin", "cplfw.bin", "pose: LFW people in different poses (cross-pose LFW)"),
        Benchmark("agedb_30", "bin", "agedb_30.bin", "age: photos 30 years apart (AgeDB-30)"),
        Benchmark("calfw", "bin", "calfw.bin", "age: LFW people at different ages (cross-age LFW)"),
        Benchmark("vgg2_fp", "bin", "vgg2_fp.bin", "pose: frontal vs profile (VGGFace2)"),
    )
}


def final_name(name: str) -> str:
    """The HParams family and eval JSON stem of a run's final evaluation on `name`."""
    return LFW_FINAL if name == LFW else f"{name}_final"


def parse_spec(spec: str) -> tuple[str, Path | None]:
    """`NAME`, `NAME=PATH` or a `.bin` path -> (name, path or None); the name is checked."""
    name, equals, path = spec.partition("=")
    if equals:
        return check_name(name.strip(), f"target {spec!r}"), Path(path.strip()).expanduser()
    if spec.endswith(".bin"):
        return name_of_file(Path(spec)), Path(spec).expanduser()
    return check_name(spec.strip(), f"target {spec!r}"), None


def name_of_file(path: Path) -> str:
    """A benchmark name made from a file name (`CFP_FP-2.bin` -> `cfp_fp_2`)."""
    name = re.sub(r"[^a-z0-9_]+", "_", path.stem.lower()).strip("_")
    return check_name(name if name[:1].isalpha() else f"set_{name}", str(path))


def resolve_target(spec: str, data_root: Path, lfw_images: Path | None = None, lfw_pairs: Path | None = None) -> Target:
    """The Target a spec names (see the module docstring); files are checked when loaded."""
    name, path = parse_spec(spec)
    known = BENCHMARKS.get(name)
    if name == LFW:
        return Target(LFW, "lfw", path or lfw_pairs or data_root / known.file, lfw_images)
    if known is not None:
        return Target(name, known.format, path or data_root / known.file, None)
    if path is None:
        raise UserValueError(
            f"target {spec!r}: unknown benchmark; known: {', '.join(BENCHMARKS)} "
            "(or NAME=PATH for a .bin or a pair list)"
        )
    return Target(name, "bin" if path.suffix == ".bin" else "list", path, None)


def load_target(target: Target) -> PairSet:
    return FORMATS[target.format](target)


def lfw_format_name(pairs: Pairs, requested: str | None) -> str:
    """The benchmark name of an LFW-format pairs file given to eval_lfw.py: `requested` when
    given; else `lfw` for LFW View 2's pairs only (a run's LFW chart and lfw_view2 metrics are
    View 2's), and a name made from the file name for any other pairs file."""
    if requested is not None:
        return check_name(requested, "--benchmark")
    if pairs.fingerprint() == VIEW2_FINGERPRINT:
        return LFW
    name = name_of_file(Path(pairs.source))
    return f"{name}_pairs" if name in BENCHMARKS else name

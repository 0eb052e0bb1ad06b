"""What a config needs aligned before it trains and evaluates: the raw set behind each aligned
training folder, and the LFW images its pairs file names (demo.py and benchmarks/gpu_check.py
align them with align/align_dataset.py)."""

from __future__ import annotations

from pathlib import Path

from common.atomic_files import atomic_write_text
from common.errors import UserFileNotFoundError
from verification.pairs import parse_pairs


def raw_training_sets(root: Path, train_dirs: list[str]) -> list[tuple[Path, str]]:
    """(raw folder under the data root, aligned output folder) per training root of the config:
    cache/aligned/<set>_<H>x<W> is aligned from <data root>/<set>."""
    pairs = []
    for aligned in train_dirs:
        raw = root / Path(aligned).name.rsplit("_", 1)[0]
        if not raw.is_dir():
            raise UserFileNotFoundError(
                f"training set {raw} not found (for {aligned}): point --data-root at a folder holding it, "
                "or give --config a config whose data.train_dirs name sets you have"
            )
        pairs.append((raw, aligned))
    return pairs


def pairs_image_list(pairs_path: Path, out: Path) -> Path:
    """Writes the relative paths of every LFW image the pairs file refers to, one a line, to `out`."""
    names = sorted(f"{stem}.jpg" for stem in parse_pairs(pairs_path).unique_stems())
    out.parent.mkdir(parents=True, exist_ok=True)
    return atomic_write_text(out, "".join(f"{name}\n" for name in names))


def alignment_commands(
    python: str, root: Path, train_dirs: list[str], lfw_dir: str, image_size, workers: int, list_path: Path
) -> list[tuple[str, list[str]]]:
    """(aligned output folder, its align/align_dataset.py command line) for every training root and
    for the LFW images that View 2's pairs name (their list written to `list_path`)."""
    size = "x".join(str(v) for v in image_size)
    common = ["--image-size", size, "--workers", str(workers)]
    commands = [
        (
            aligned,
            [
                python,
                "align/align_dataset.py",
                "--input-dir",
                str(raw),
                "--output-dir",
                aligned,
                *common,
                "--skip-no-face",
            ],
        )
        for raw, aligned in raw_training_sets(root, train_dirs)
    ]
    lfw_list = pairs_image_list(root / "lfw_pairs.txt", list_path)
    commands.append(
        (
            lfw_dir,
            [
                python,
                "align/align_dataset.py",
                "--input-dir",
                str(root / "lfw"),
                "--output-dir",
                lfw_dir,
                *common,
                "--only-list",
                str(lfw_list),
            ],
        )
    )
    return commands

"""Peak memory of verify.py on a normal photo and on an 8000x8000 RGBA PNG (64 Mpx in a few hundred
KiB: a decompression bomb), each in a fresh process.

    python benchmarks/bench_big_image.py [--model runs/<name>/export]

Three runs of `verify.py PHOTO PHOTO --threshold 0.3`: a real LFW photo; the big PNG under the
default pixel budget (refused from its header, align/image_io.MAX_PIXELS); the big PNG with
`--max-pixels 100000000` (decoded). Each run's peak resident memory is read by a wrapper process
(resource.getrusage(RUSAGE_CHILDREN).ru_maxrss after its one child ended); the big-PNG rows also
show the difference to the normal photo. Without --model a seeded untrained Resface20 is exported
to a temporary folder (memory does not depend on training).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from common.errors import entry_point, require_file  # noqa: E402
from common.paths import REPO_ROOT, data_root  # noqa: E402

PROG = "benchmarks/bench_big_image.py"

PHOTO = "lfw/Aaron_Peirsol/Aaron_Peirsol_0001.jpg"
MEASURE = (
    "import resource, subprocess, sys; code = subprocess.run(sys.argv[1:], "
    "capture_output=True).returncode; print(code, "
    "resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
)


def peak_kib(command: list[str]) -> tuple[int, int]:
    """(exit code, peak RSS in KiB) of `command` run as the only child of a fresh process."""
    out = subprocess.run(
        [sys.executable, "-c", MEASURE, *command], cwd=REPO_ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    return int(out[0]), int(out[1])


def big_png(path: Path) -> Path:
    from PIL import Image

    Image.new("RGBA", (8000, 8000), (200, 150, 100, 128)).save(path)
    return path


def untrained_export(folder: Path) -> Path:
    import models

    model = models.build("resface20", embedding_size=128, width=0.25)
    return models.export_embedder(model, folder / "export", (112, 96), {"note": "bench_big_image"})


@entry_point(PROG)
def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", help="exported embedder (default: an untrained one)")
    args = parser.parse_args(argv)
    photo = require_file(data_root() / PHOTO, "LFW photo")
    if args.model:  # a bad --model is one line here, not three failed runs below
        from models import load_embedder

        load_embedder(args.model)
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        model = args.model or str(untrained_export(folder))
        big = str(big_png(folder / "big.png"))
        verify = [sys.executable, "verify.py", "--model", model, "--threshold", "0.3"]
        cases = {
            "normal photo": [str(photo), str(photo)],
            "8000x8000 RGBA PNG, default budget": [big, big],
            "8000x8000 RGBA PNG, --max-pixels 1e8": [big, big, "--max-pixels", "100000000"],
        }
        results = {}
        for name, extra in cases.items():
            code, kib = peak_kib(verify + extra)
            results[name] = dict(
                exit_code=code,
                peak_mib=round(kib / 1024),
                over_normal_mib=round((kib - results.get("normal photo", {}).get("peak_kib", kib)) / 1024),
                peak_kib=kib,
            )
            print(
                f"{name:40s} exit {code}  peak {kib / 1024:7.0f} MiB  "
                f"(+{results[name]['over_normal_mib']} MiB over the normal photo)",
                flush=True,
            )
        print(json.dumps({name: {k: v for k, v in row.items() if k != "peak_kib"} for name, row in results.items()}))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Training step speed with oneDNN free to use every instruction set of this CPU (AMX where it has
it) against oneDNN capped by ONEDNN_MAX_CPU_ISA (AVX512_CORE_BF16 by default: no AMX, the way out
that train.py names where its bfloat16 check finds a wrong kernel). oneDNN reads the variable once,
when TensorFlow starts, so every measurement is a child `benchmarks/bench_train.py --bare-only`
process; the two settings alternate round by round and the medians are compared.

    python benchmarks/bench_onednn_isa.py [--isa AVX512_CORE_BF16] [--rounds 3] [--steps 15]
                                          [--width 0.25] [--precision bfloat16]
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from common.errors import USER_ERROR, UserError, entry_point  # noqa: E402

PROG = "benchmarks/bench_onednn_isa.py"

BENCH_TRAIN = Path(__file__).resolve().parent / "bench_train.py"
# oneDNN's names (its dnnl_cpu_isa_t, upper case); DEFAULT lifts the cap.
ISAS = (
    "SSE41",
    "AVX",
    "AVX2",
    "AVX2_VNNI",
    "AVX2_VNNI_2",
    "AVX512_CORE",
    "AVX512_CORE_VNNI",
    "AVX512_CORE_BF16",
    "AVX512_CORE_FP16",
    "AVX10_1_512",
    "AVX512_CORE_AMX",
    "AVX10_1_512_AMX",
    "AVX512_CORE_AMX_FP16",
    "AVX10_1_512_AMX_FP16",
    "DEFAULT",
)


class BenchTrainError(UserError, RuntimeError):
    """A child bench_train.py refused its input, or printed no bare step for the precision asked for."""


def bare_step_speed(output: str, precision: str) -> float:
    """The images/s of bench_train.py's bare-step line for `precision` (its report_variant format)."""
    match = re.search(rf"^\s*{re.escape(precision)} bare compiled step [^:]*:\s*([\d.]+) img/s", output, re.M)
    if match is None:
        last = output.strip().splitlines()[-3:]
        raise BenchTrainError(
            f"bench_train.py printed no {precision} bare step (left out by its bfloat16 "
            f"check?); its last lines: {' | '.join(last)}"
        )
    return float(match.group(1))


def measure(args, isa: str | None) -> tuple[float, str]:
    """Images/s and bench_train.py's line naming the model, from one child run; `isa` None:
    ONEDNN_MAX_CPU_ISA unset."""
    env = {key: value for key, value in os.environ.items() if key != "ONEDNN_MAX_CPU_ISA"}
    if isa is not None:
        env["ONEDNN_MAX_CPU_ISA"] = isa
    command = [
        sys.executable,
        str(BENCH_TRAIN),
        "--bare-only",
        "--rounds",
        "1",
        "--steps",
        str(args.steps),
        "--width",
        str(args.width),
        "--batch-size",
        str(args.batch_size),
        "--precisions",
        args.precision,
    ]
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    setting = f"ONEDNN_MAX_CPU_ISA {isa or 'unset'}"
    if done.returncode == USER_ERROR:
        raise BenchTrainError(f"bench_train.py ({setting}): {done.stderr.strip().splitlines()[-1]}")
    if done.returncode != 0:  # a bug: its traceback, whole
        raise RuntimeError(f"bench_train.py ({setting}) exited {done.returncode}:\n{done.stderr}")
    model = next((line for line in done.stdout.splitlines() if line.startswith("model ")), "")
    return bare_step_speed(done.stdout, args.precision), model


@entry_point(PROG)
def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog=PROG, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--isa", choices=ISAS, default="AVX512_CORE_BF16", help="the cap to compare with no cap")
    parser.add_argument("--rounds", type=int, default=3, help="alternated rounds (two child processes each)")
    parser.add_argument("--steps", type=int, default=15, help="timed bare steps per child")
    parser.add_argument("--width", type=float, default=0.25)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--precision", choices=("float32", "bfloat16"), default="bfloat16")
    args = parser.parse_args(argv)
    if args.rounds < 1 or args.steps < 1:
        parser.error("--rounds and --steps must be >= 1")

    speeds = {"free": [], "capped": []}
    for round_number in range(1, args.rounds + 1):
        for name, isa in (("free", None), ("capped", args.isa)):
            speed, model = measure(args, isa)
            speeds[name].append(speed)
        print(
            f"round {round_number}: oneDNN free {speeds['free'][-1]:.1f} img/s, "
            f"ONEDNN_MAX_CPU_ISA={args.isa} {speeds['capped'][-1]:.1f} img/s",
            flush=True,
        )
    free, capped = statistics.median(speeds["free"]), statistics.median(speeds["capped"])
    print(
        f"{model.split(', XLA')[0]}, {args.precision}; {args.rounds} rounds x {args.steps} bare steps, "
        f"medians: oneDNN free {free:.1f} img/s, ONEDNN_MAX_CPU_ISA={args.isa} {capped:.1f} img/s, "
        f"capped / free {capped / free:.2f}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

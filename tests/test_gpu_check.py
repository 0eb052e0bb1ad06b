"""benchmarks/gpu_check.py: its --dry-run runs every stage's code path on CPU (no data needed)."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

import pytest

from benchmarks import gpu_check
from common.paths import REPO_ROOT


def test_peaks_come_from_the_gpu_name_or_the_command_line():
    plain = argparse.Namespace(peak_bf16=None, peak_fp32=None)
    assert gpu_check.peaks_for(["NVIDIA H200"], plain) == {"float32": 67.0, "tf32": 494.0, "bfloat16": 989.0}
    assert gpu_check.peaks_for(["NVIDIA H100 80GB HBM3"], plain)["bfloat16"] == 989.0
    assert gpu_check.peaks_for(["NVIDIA H100 PCIe"], plain) == {"float32": 51.0, "tf32": 378.0, "bfloat16": 756.0}
    assert gpu_check.peaks_for(["NVIDIA A10"], plain) == {}
    given = argparse.Namespace(peak_bf16=312.0, peak_fp32=19.5)
    assert gpu_check.peaks_for(["NVIDIA A100"], given) == {"bfloat16": 312.0, "float32": 19.5}


@pytest.mark.integration
@pytest.mark.slow  # three traced steps, train.py and eval_lfw.py
def test_dry_run_measures_trains_and_evaluates_on_cpu(tmp_path):
    out = tmp_path / "out"
    done = subprocess.run(
        [sys.executable, "benchmarks/gpu_check.py", "--dry-run", "--out", str(out)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    report = json.loads((out / "gpu_check.json").read_text())
    assert report["device"]["gpus"] == [] and report["device"]["dry_run"]
    assert [row["variant"] for row in report["throughput"]] == ["float32", "bfloat16", "bfloat16_xla"]
    for row in report["throughput"]:
        assert row["images_per_s"] > 0 and row["macs_per_image"] > 0 and "mfu" not in row  # no peak on CPU
    training = report["training"]
    assert training["steps"] == 10 and training["tensorboard_files"] >= 1
    run_dir = out / "demo_full_width"
    assert (run_dir / "DONE.json").exists() and (run_dir / "export" / "embedder").is_dir()
    assert report["lfw"]["folds"] == 2 and 0.0 <= report["lfw"]["accuracy_mean"] <= 1.0
    assert "img/s" in done.stdout and "LFW:" in done.stdout

"""CPU-only start-up notices are filtered out of the entry points' stderr; real errors stay."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from common.paths import REPO_ROOT
from common.tf_startup import without_startup_notices

CPU_ONLY_START = """WARNING: All log messages before absl::InitializeLog() is called are written to STDERR
I0000 00:00:1796021741.064154   13096 port.cc:153] oneDNN custom operations are on. You may see slightly different numerical results.
I0000 00:00:1796021741.064499   13096 cudart_stub.cc:31] Could not find cuda drivers on your machine, GPU will not be used.
E0000 00:00:1796021744.542044   13096 cuda_platform.cc:52] failed call to cuInit: INTERNAL: CUDA error: Failed call to cuInit: UNKNOWN ERROR (303)
E0000 00:00:1796021744.600000   13096 some_op.cc:10] a real error
"""
CUINIT = CPU_ONLY_START.splitlines(keepends=True)[3]


def test_only_the_notices_go_and_cuinit_only_without_a_driver():
    assert (
        without_startup_notices(CPU_ONLY_START) == "E0000 00:00:1796021744.600000   13096 some_op.cc:10] a real error\n"
    )
    # A driver is installed (no "could not find cuda drivers") but cuInit fails: a real error.
    assert without_startup_notices(CUINIT) == CUINIT
    assert without_startup_notices(CUINIT, gpus_hidden=True) == ""


@pytest.mark.integration
def test_train_py_error_is_its_one_line_only(tmp_path):
    """A config typo through train.py with TensorFlow's logging left at its default: stderr is
    the one error line (on a CPU-only machine it used to start with the cuInit notices)."""
    env = {key: value for key, value in os.environ.items() if key != "TF_CPP_MIN_LOG_LEVEL"}
    done = subprocess.run(
        [
            sys.executable,
            "train.py",
            "--config",
            "experiments/configs/base.yaml",
            "--set",
            "loss.name=am_softmax",
            "--set",
            "loss.hparams.margn=1",
            "--set",
            f"run_dir={tmp_path / 'run'}",
        ],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 2
    assert done.stderr.splitlines() == [
        "train.py: error: loss: loss 'am_softmax': unknown hyperparameter(s) margn; valid: scale, margin, learnable_scale"
    ]
    assert not (tmp_path / "run").exists()

"""Helpers of the verify/identify CLI tests: the tiny model's build options (the `tiny_model`
fixture in tests/conftest.py exports it) and running a tool in its own process."""
import os
import subprocess
import sys

from common.paths import REPO_ROOT

TINY_MODEL = dict(name="resface20", image_size=(112, 96), embedding_size=32, width=0.125,
                  bn_mode="none")


def run_cli(script: str, *args) -> subprocess.CompletedProcess:
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    return subprocess.run([sys.executable, str(REPO_ROOT / script), *map(str, args)],
                          capture_output=True, text=True, cwd=REPO_ROOT, env=env, timeout=300)

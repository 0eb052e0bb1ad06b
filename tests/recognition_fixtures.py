"""Fixtures shared by the verify/identify CLI tests (registered in tests/conftest.py): a tiny
untrained exported model and helper photos.

The model is untrained, so the tests check plumbing and exact agreement, not recognition quality.
"""
import os
import subprocess
import sys

import numpy as np
import pytest

from common.paths import REPO_ROOT

TINY_MODEL = dict(name="resface20", image_size=(112, 96), embedding_size=32, width=0.125,
                  bn_mode="none")


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory):
    import models

    model = models.build(**TINY_MODEL)
    return models.export_embedder(model, tmp_path_factory.mktemp("tiny") / "export",
                                  TINY_MODEL["image_size"], dict(note="untrained, for tests"))


@pytest.fixture(scope="session")
def odd_photos(tmp_path_factory):
    """An unreadable .jpg and a real-image-sized photo with no face in it."""
    from PIL import Image

    folder = tmp_path_factory.mktemp("odd")
    (folder / "broken.jpg").write_bytes(b"this is not a JPEG")
    ramp = np.tile(np.linspace(40, 200, 160, dtype=np.uint8), (120, 1))
    Image.fromarray(np.stack([ramp] * 3, axis=2)).save(folder / "no_face.jpg")
    return folder / "broken.jpg", folder / "no_face.jpg"


def run_cli(script: str, *args) -> subprocess.CompletedProcess:
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    return subprocess.run([sys.executable, str(REPO_ROOT / script), *map(str, args)],
                          capture_output=True, text=True, cwd=REPO_ROOT, env=env, timeout=300)

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


def write_hostile_export(folder, victim, stolen_copy, image_size=(112, 96)):
    """An export shaped like a real one (same signature, model_info.json) whose serving function
    reads `victim` and writes it to `stolen_copy`: the model scan must refuse it unloaded."""
    import json

    import tensorflow as tf

    class Hostile(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([None, *image_size, 3], tf.float32,
                                                    name="images")])
        def serve(self, images):
            tf.io.write_file(str(stolen_copy), tf.io.read_file(str(victim)))
            return {"embeddings": tf.reduce_mean(images, axis=[1, 2])}

    module = Hostile()
    export = folder / "export"
    tf.saved_model.save(module, str(export / "embedder"),
                        signatures={"serving_default": module.serve})
    (export / "model_info.json").write_text(json.dumps(
        dict(image_size=list(image_size), embedding_size=3, bn_mode="switch")))
    return export


@pytest.fixture(scope="session")
def hostile_model(tmp_path_factory):
    """(export dir, the file it would write when it runs)."""
    folder = tmp_path_factory.mktemp("hostile")
    victim = folder / "secret.txt"
    victim.write_text("private\n")
    stolen = folder / "stolen.txt"
    return write_hostile_export(folder, victim, stolen), stolen

"""Helpers of the verify/identify CLI tests: the tiny model's build options (the `tiny_model`
fixture in tests/conftest.py exports it) and running a tool in its own process."""

import os
import subprocess
import sys

from common.paths import REPO_ROOT

TINY_MODEL = dict(name="resface20", image_size=(112, 96), embedding_size=32, width=0.125, bn_mode="none")


def run_cli(script: str, *args) -> subprocess.CompletedProcess:
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    return subprocess.run(
        [sys.executable, str(REPO_ROOT / script), *map(str, args)],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        env=env,
        timeout=300,
    )


def write_hostile_export(folder, victim, stolen_copy, image_size=(112, 96)):
    """An export shaped like a real one (same signature, model_info.json) whose serving function
    reads `victim` and writes it to `stolen_copy`: the model scan must refuse it unloaded."""
    import json

    import tensorflow as tf

    class Hostile(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([None, *image_size, 3], tf.float32, name="images")])
        def serve(self, images):
            tf.io.write_file(str(stolen_copy), tf.io.read_file(str(victim)))
            return {"embeddings": tf.reduce_mean(images, axis=[1, 2])}

    module = Hostile()
    export = folder / "export"
    tf.saved_model.save(module, str(export / "embedder"), signatures={"serving_default": module.serve})
    (export / "model_info.json").write_text(
        json.dumps(dict(image_size=list(image_size), embedding_size=3, bn_mode="switch"))
    )
    return export

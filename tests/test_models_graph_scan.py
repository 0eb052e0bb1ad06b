"""The model scan (models/graph_scan.py) and the one loader (models/loader.py): real exports of
every backbone pass; a model whose graph reads or writes files is refused before it runs."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

import models
from models.graph_scan import UnsafeModelError, scan_saved_model, scan_tflite
from models.tflite import TfliteEmbedder

IMAGE_SIZE = (112, 96)


@pytest.mark.parametrize(
    "name, bn_mode",
    [
        ("resface20", "switch"),
        ("resface20", "none"),
        ("resface20", "always_train"),
        ("mobilefacenet", "switch"),
        ("inception_resnet_v1", "switch"),
    ],
)
def test_every_backbone_export_passes_the_scan(name, bn_mode, tmp_path):
    model = models.build(name, image_size=IMAGE_SIZE, embedding_size=8, width=0.125, bn_mode=bn_mode)
    export = models.export_embedder(model, tmp_path / "export", IMAGE_SIZE)
    scan_saved_model(export / "embedder")
    embedder = models.load_embedder(export)
    pixels = np.random.default_rng(0).uniform(0, 255, (2, *IMAGE_SIZE, 3)).astype(np.float32)
    np.testing.assert_allclose(embedder(pixels), model(pixels, training=False).numpy(), rtol=1e-4, atol=1e-5)


def test_a_model_that_reads_and_writes_files_is_refused_unrun(hostile_model):
    export, stolen = hostile_model
    with pytest.raises(
        UnsafeModelError,
        match=r"op ReadFile, WriteFile \(first in function "
        r"__inference_serve.*--trust-model",
    ):
        models.load_embedder(export)
    assert not stolen.exists()


def test_trust_model_loads_it_and_the_fixture_really_is_hostile(tmp_path):
    from tests.helpers.recognition import write_hostile_export

    victim, stolen = tmp_path / "secret.txt", tmp_path / "stolen.txt"
    victim.write_text("private\n")
    export = write_hostile_export(tmp_path, victim, stolen)
    embedder = models.load_embedder(export, trust=True)
    embedder(np.zeros((1, *IMAGE_SIZE, 3), np.float32))
    assert stolen.read_text() == "private\n"


def test_an_op_hidden_in_a_nested_function_is_found(tmp_path):
    @tf.function
    def helper(x):
        tf.print("leak", output_stream="file:///" + str(tmp_path / "printed.txt"))
        return x

    class Nested(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([None, *IMAGE_SIZE, 3], tf.float32)])
        def serve(self, images):
            return {"embeddings": helper(tf.reduce_mean(images, axis=[1, 2]))}

    module = Nested()
    tf.saved_model.save(module, str(tmp_path / "sm"), signatures={"serving_default": module.serve})
    with pytest.raises(UnsafeModelError, match="op PrintV2, StringFormat"):
        scan_saved_model(tmp_path / "sm")
    assert not (tmp_path / "printed.txt").exists()


def test_a_file_that_is_not_a_saved_model_is_one_line(tmp_path):
    (tmp_path / "saved_model.pb").write_bytes(b"\xff\xfe definitely not protobuf \x00" * 10)
    with pytest.raises(UnsafeModelError, match="not a SavedModel"):
        models.load_embedder(tmp_path)


def test_a_folder_without_a_model_is_one_line(tmp_path):
    with pytest.raises(FileNotFoundError, match="no exported embedder"):
        models.load_embedder(tmp_path)


def _flex_tflite(path):
    """A .tflite whose graph writes a file through a Flex (custom) operator."""

    @tf.function(input_signature=[tf.TensorSpec([1, 4], tf.float32)])
    def leak(x):
        tf.io.write_file(str(path.parent / "flex_wrote.txt"), tf.strings.as_string(x[0, 0]))
        return x * 2.0

    converter = tf.lite.TFLiteConverter.from_concrete_functions([leak.get_concrete_function()], leak)
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS, tf.lite.OpsSet.SELECT_TF_OPS]
    path.write_bytes(converter.convert())
    return path


def test_a_tflite_with_a_custom_op_is_refused(tmp_path):
    path = _flex_tflite(tmp_path / "leak.tflite")
    with pytest.raises(UnsafeModelError, match="custom operator Flex"):
        models.load_embedder(path)
    assert not (tmp_path / "flex_wrote.txt").exists()


def test_a_builtin_tflite_export_passes(tmp_path):
    from models.tflite import export_tflite

    model = models.build("resface20", image_size=IMAGE_SIZE, embedding_size=8, width=0.125)
    export = models.export_embedder(model, tmp_path / "export", IMAGE_SIZE)
    path = export_tflite(export)
    scan_tflite(path)
    assert isinstance(models.load_embedder(path), TfliteEmbedder)


def test_export_tflite_scans_the_saved_model_first(hostile_model):
    from models.tflite import export_tflite

    export, stolen = hostile_model
    with pytest.raises(UnsafeModelError):
        export_tflite(export)
    assert not stolen.exists()


def test_a_file_that_is_not_a_tflite_model_is_one_line(tmp_path):
    path = tmp_path / "x.tflite"
    path.write_bytes(np.random.default_rng(0).bytes(3000))
    with pytest.raises(UnsafeModelError, match="not a TFLite model"):
        models.load_embedder(path)


def test_eval_lfw_model_sources_are_scanned_unless_trusted(hostile_model):
    """eval_lfw.py loads --model through verification.model_source: the same scan applies."""
    from verification.model_source import resolve_model

    export, stolen = hostile_model
    source = resolve_model(str(export))
    assert not source.trusted
    with pytest.raises(UnsafeModelError, match="op ReadFile, WriteFile"):
        source.load()
    assert not stolen.exists()
    assert resolve_model(str(export), trust_model=True).trusted


def test_a_broken_model_info_is_one_line_for_eval_lfw(tmp_path):
    from common.errors import UserValueError
    from verification.model_source import resolve_model

    model = models.build("resface20", image_size=IMAGE_SIZE, embedding_size=8, width=0.125)
    export = models.export_embedder(model, tmp_path / "export", IMAGE_SIZE)
    (export / "model_info.json").write_text("{not json")
    with pytest.raises(UserValueError, match="model_info.json: invalid JSON"):
        resolve_model(str(export))


def test_a_tf1_saved_model_is_refused(tmp_path):
    """Loading a TF1 SavedModel runs its own restore and init ops: refused unless trusted."""
    with tf.Graph().as_default():
        images = tf.compat.v1.placeholder(tf.float32, [None, 3], name="images")
        embeddings = tf.identity(images * 2.0, name="embeddings")
        with tf.compat.v1.Session() as session:
            tf.compat.v1.saved_model.simple_save(
                session, str(tmp_path / "tf1"), {"images": images}, {"embeddings": embeddings}
            )
    with pytest.raises(UnsafeModelError, match="TF1-style SavedModel"):
        scan_saved_model(tmp_path / "tf1")

"""Export -> load round trip of the embedding model, and the loader's path forms and errors."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import tensorflow as tf

import models

IMAGE_SIZE = (112, 96)


@pytest.fixture(scope="module")
def trained_model():
    """A tiny Resface20 whose BN moving averages have moved away from their initial values."""
    model = models.build("resface20", image_size=IMAGE_SIZE, embedding_size=16, width=0.125)
    pixels = np.random.default_rng(0).uniform(0, 255, (8, *IMAGE_SIZE, 3)).astype(np.float32)
    for _ in range(3):
        model(pixels, training=True)
    return model


@pytest.fixture(scope="module")
def run_dir(trained_model, tmp_path_factory):
    run = tmp_path_factory.mktemp("run")
    models.export_embedder(
        trained_model, run / "export", IMAGE_SIZE, info={"model": "resface20", "config": {"loss": "am_softmax"}}
    )
    return run


@pytest.fixture
def pixels():
    return np.random.default_rng(1).uniform(0, 255, (5, *IMAGE_SIZE, 3)).astype(np.float32)


def test_export_layout_and_info(run_dir):
    export = run_dir / "export"
    assert (export / "embedder" / "saved_model.pb").is_file()
    info = json.loads((export / "model_info.json").read_text())
    assert info == {
        "image_size": [112, 96],
        "embedding_size": 16,
        "bn_mode": "switch",
        "model": "resface20",
        "config": {"loss": "am_softmax"},
    }


@pytest.mark.parametrize("where", ["run", "export", "embedder"])
def test_round_trip_matches_the_model_in_test_mode(where, run_dir, trained_model, pixels):
    path = {"run": run_dir, "export": run_dir / "export", "embedder": run_dir / "export" / "embedder"}[where]
    embedder = models.load_embedder(path)
    assert embedder.image_size == IMAGE_SIZE and embedder.embedding_size == 16
    expected = trained_model(pixels, training=False).numpy()
    got = embedder(pixels)
    assert isinstance(got, np.ndarray) and got.shape == (5, 16)
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-5)
    # Batching must not change anything (test mode: no batch statistics involved).
    np.testing.assert_allclose(embedder(tf.constant(pixels), batch_size=2), expected, rtol=1e-4, atol=1e-5)


@pytest.mark.integration
def test_loading_needs_only_tensorflow(run_dir, trained_model, pixels, tmp_path):
    np.save(tmp_path / "pixels.npy", pixels)
    script = textwrap.dedent(f"""
        import sys, numpy as np, tensorflow as tf
        serve = tf.saved_model.load({str(run_dir / "export" / "embedder")!r}).signatures[
            "serving_default"]
        out = serve(images=tf.constant(np.load({str(tmp_path / "pixels.npy")!r})))["embeddings"]
        np.save({str(tmp_path / "out.npy")!r}, out.numpy())
        assert "models" not in sys.modules
    """)
    subprocess.run(
        [sys.executable, "-c", script],
        check=True,
        cwd=tmp_path,
        env={"TF_CPP_MIN_LOG_LEVEL": "2", "PATH": "/usr/bin:/bin"},
    )
    np.testing.assert_allclose(
        np.load(tmp_path / "out.npy"), trained_model(pixels, training=False).numpy(), rtol=1e-4, atol=1e-5
    )


def test_export_refuses_to_overwrite(run_dir, trained_model):
    graph = run_dir / "export" / "embedder" / "saved_model.pb"
    before = graph.read_bytes()
    with pytest.raises(FileExistsError, match="embedder already exists"):
        models.export_embedder(trained_model, run_dir / "export", IMAGE_SIZE, info={})
    assert graph.read_bytes() == before


def test_export_rejects_a_wrong_image_size_or_reserved_info(trained_model, tmp_path):
    with pytest.raises(ValueError, match=r"image_size \(112, 112\) does not match"):
        models.export_embedder(trained_model, tmp_path, (112, 112), info={})
    with pytest.raises(ValueError, match="must not set embedding_size"):
        models.export_embedder(trained_model, tmp_path, IMAGE_SIZE, info={"embedding_size": 3})
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("bn_mode", ["switch", "always_train", "none"])
def test_export_records_the_bn_mode_and_batch_dependence_follows_it(bn_mode, tmp_path, pixels):
    """always_train embeds with the batch's statistics: an image's embedding changes with its
    batch mates. The export says so (model_info.json) and depends_on_batch reads it; a bare
    SavedModel that records nothing is measured instead."""
    from models.export import depends_on_batch, refuse_batch_dependent

    model = models.build("resface20", image_size=IMAGE_SIZE, embedding_size=8, width=0.0625, bn_mode=bn_mode)
    export = models.export_embedder(model, tmp_path / "export", IMAGE_SIZE)
    assert json.loads((export / "model_info.json").read_text())["bn_mode"] == bn_mode
    alone, together = models.load_embedder(export)(pixels[:1]), models.load_embedder(export)(pixels)
    varies = not np.allclose(alone[0], together[0], rtol=1e-3, atol=1e-4)
    assert varies == (bn_mode == "always_train")  # the property the refusals rest on
    (export / "model_info.json").unlink()
    for info in ({"bn_mode": bn_mode}, {"config": {"model": {"bn_mode": bn_mode}}}, {}):
        embedder = models.load_embedder(export / "embedder")
        embedder.info = info  # recorded by this or an older export, or nothing at all
        assert depends_on_batch(embedder) == varies
    if varies:
        with pytest.raises(ValueError, match="BN mode always_train .* one face at a time"):
            refuse_batch_dependent(embedder, "one face at a time")


def test_embedder_rejects_wrong_shapes(run_dir):
    embedder = models.load_embedder(run_dir)
    with pytest.raises(ValueError, match=r"images must have shape \[N, 112, 96, 3\], got \[2, 112, 112, 3\]"):
        embedder(np.zeros((2, 112, 112, 3), np.float32))
    with pytest.raises(ValueError, match="got \\[112, 96, 3\\]"):
        embedder(np.zeros((112, 96, 3), np.float32))
    assert embedder(np.zeros((0, *IMAGE_SIZE, 3), np.float32)).shape == (0, 16)


def test_load_errors_name_the_path(tmp_path):
    with pytest.raises(FileNotFoundError, match=f"no exported embedder at {tmp_path}"):
        models.load_embedder(tmp_path)


def test_export_overwrite_when_asked(run_dir, trained_model, pixels):
    """Last in the file: replaces the shared export (same model, same info) in place."""
    export = run_dir / "export"
    graph = export / "embedder" / "saved_model.pb"
    written = graph.stat().st_mtime_ns
    info = json.loads((export / "model_info.json").read_text())
    extra = {k: v for k, v in info.items() if k not in ("image_size", "embedding_size", "bn_mode")}
    models.export_embedder(trained_model, export, IMAGE_SIZE, info=extra, overwrite=True)
    assert graph.stat().st_mtime_ns > written
    assert sorted(p.name for p in export.iterdir()) == ["embedder", "model_info.json"]
    np.testing.assert_allclose(
        models.load_embedder(run_dir)(pixels), trained_model(pixels, training=False).numpy(), rtol=1e-4, atol=1e-5
    )


@pytest.mark.parametrize("where", ["run", "export", "embedder"])
def test_eval_model_source_accepts_every_path_form(where, run_dir):
    """eval_lfw.py --model takes the run dir, its export/ folder or export/embedder alike: same
    weights, image size, and reports next to the run when the run is known."""
    from verification.model_source import resolve_model

    path = {"run": run_dir, "export": run_dir / "export", "embedder": run_dir / "export" / "embedder"}[where]
    source = resolve_model(str(path))
    assert source.export_path.resolve() == (run_dir / "export" / "embedder").resolve()
    assert source.image_size == IMAGE_SIZE
    if where != "embedder":
        assert source.out_dir.resolve() == (run_dir / "eval").resolve()


def test_eval_model_source_rejects_a_folder_without_a_model(tmp_path):
    from verification.model_source import resolve_model

    with pytest.raises(FileNotFoundError, match="no exported embedder at .*: expected a run dir"):
        resolve_model(str(tmp_path))

"""eval_lfw.py end to end through the command line (subprocess), on small synthetic inputs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.helpers.synthetic_pairs import pairs_lines
from verification.pairs import parse_pairs
from verification.protocol import combine_flip, evaluate_pairs

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parent.parent


def run_cli(*args, cwd=REPO):
    env = {**os.environ, "PYTHONPATH": str(REPO), "TF_CPP_MIN_LOG_LEVEL": "2"}
    return subprocess.run(
        [sys.executable, str(REPO / "eval_lfw.py"), *map(str, args)],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def make_problem(tmp_path, folds=3, per_class=20, image_size=None, dim=8, seed=0):
    """Pairs file, embeddings .npz (noisy identity vectors) and optionally an image folder."""
    rng = np.random.default_rng(seed)
    lines, person = pairs_lines(folds, per_class)
    pairs_path = tmp_path / "pairs.txt"
    pairs_path.write_text("\n".join(lines) + "\n")
    stems = parse_pairs(pairs_path).unique_stems()
    identity = {p: rng.normal(size=dim) for p in {s.split("/")[0] for s in stems}}
    embeddings = np.array([identity[s.split("/")[0]] + 0.9 * rng.normal(size=dim) for s in stems])
    flipped = embeddings + 0.3 * rng.normal(size=embeddings.shape)
    npz = tmp_path / "emb.npz"
    np.savez(npz, paths=np.array([s + ".jpg" for s in stems]), embeddings=embeddings, embeddings_flip=flipped)
    images = None
    if image_size:
        images = tmp_path / "aligned"
        for s in stems:
            (images / s).parent.mkdir(parents=True, exist_ok=True)
            pixels = rng.integers(0, 256, size=(*image_size, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(images / f"{s}.jpg")
    return pairs_path, npz, images


def test_npz_route_matches_in_process_protocol(tmp_path):
    pairs_path, npz, images = make_problem(tmp_path, image_size=(16, 12))
    out = tmp_path / "out"
    result = run_cli(
        "--embeddings",
        npz,
        "--pairs",
        pairs_path,
        "--lfw-dir",
        images,
        "--flip",
        "sum",
        "--subtract-mean",
        "--json",
        tmp_path / "r.json",
        "--out-dir",
        out,
    )
    assert result.returncode == 0, result.stderr
    summary = json.loads((tmp_path / "r.json").read_text())
    for key in (
        "accuracy_mean",
        "accuracy_std",
        "val_mean",
        "val_std",
        "far_mean",
        "auc",
        "eer",
        "fold_accuracies",
        "fold_thresholds",
    ):
        assert key in summary
    pairs = parse_pairs(pairs_path)
    data = np.load(npz)
    features = combine_flip(data["embeddings"], data["embeddings_flip"], "sum")
    row = {p[:-4]: i for i, p in enumerate(data["paths"])}
    expected = evaluate_pairs(
        features[[row[s] for s in pairs.left]],
        features[[row[s] for s in pairs.right]],
        pairs.is_same,
        pairs.fold_ids,
        subtract_mean=True,
    ).to_dict()
    assert summary["fold_accuracies"] == pytest.approx(expected["fold_accuracies"])
    assert summary["auc"] == pytest.approx(expected["auc"])
    assert 0.6 < summary["accuracy_mean"] < 1.0 and len(summary["fold_thresholds"]) == 3
    assert "accuracy" in result.stdout and "+-" in result.stdout
    pngs = sorted(p.name for p in out.glob("*.png"))
    assert pngs == ["hardest_errors_pairs_sum_cosine_meansub.png", "roc_pairs_sum_cosine_meansub.png"]
    assert all((out / name).stat().st_size > 5000 for name in pngs)


def test_malformed_pairs_line_is_one_clear_error(tmp_path):
    pairs_path, npz, _ = make_problem(tmp_path)
    lines = pairs_path.read_text().splitlines()
    lines[5] = "P4 1"  # a same-person line missing its second image number
    pairs_path.write_text("\n".join(lines) + "\n")
    result = run_cli("--embeddings", npz, "--pairs", pairs_path)
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    assert f"{pairs_path}:6: expected a same-person pair" in result.stderr


def test_missing_embedding_and_missing_flip_are_clear_errors(tmp_path):
    pairs_path, npz, _ = make_problem(tmp_path)
    data = dict(np.load(npz))
    np.savez(tmp_path / "short.npz", paths=data["paths"][1:], embeddings=data["embeddings"][1:])
    result = run_cli("--embeddings", tmp_path / "short.npz", "--pairs", pairs_path, "--flip", "none")
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert "short.npz: no embedding for 1 images, first 'P0/P0_0001'" in result.stderr
    result = run_cli("--embeddings", tmp_path / "short.npz", "--pairs", pairs_path, "--flip", "concat")
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert "short.npz: --flip concat needs 'embeddings_flip'" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_npz_with_only_paths_and_embeddings_just_works_with_flip_none(tmp_path):
    """What any other model exports: no mirror-image features, so no flip, said and recorded."""
    pairs_path, npz, _ = make_problem(tmp_path)
    data = np.load(npz)
    plain = tmp_path / "other_model.npz"
    np.savez(plain, paths=data["paths"], embeddings=data["embeddings"])
    result = run_cli(
        "--embeddings", plain, "--pairs", pairs_path, "--json", tmp_path / "r.json", "--out-dir", tmp_path / "out"
    )
    assert result.returncode == 0, result.stderr
    assert "flip mode: none (other_model.npz holds no embeddings_flip)" in result.stdout
    summary = json.loads((tmp_path / "r.json").read_text())
    assert summary["flip"] == "none"
    pairs = parse_pairs(pairs_path)
    row = {p[:-4]: i for i, p in enumerate(data["paths"])}
    features = data["embeddings"].astype(np.float32)  # the file's values, as eval_lfw reads them
    expected = evaluate_pairs(
        features[[row[s] for s in pairs.left]], features[[row[s] for s in pairs.right]], pairs.is_same, pairs.fold_ids
    ).to_dict()
    assert summary["fold_accuracies"] == pytest.approx(expected["fold_accuracies"])
    assert summary["auc"] == pytest.approx(expected["auc"])

    # A file with mirror-image features keeps the default concat, and says so.
    result = run_cli(
        "--embeddings", npz, "--pairs", pairs_path, "--json", tmp_path / "c.json", "--out-dir", tmp_path / "out"
    )
    assert result.returncode == 0, result.stderr
    assert "flip mode: concat (default)" in result.stdout
    assert json.loads((tmp_path / "c.json").read_text())["flip"] == "concat"


def test_missing_image_names_pairs_line(tmp_path):
    pairs_path, npz, images = make_problem(tmp_path, image_size=(8, 6))
    (images / "P3" / "P3_0002.jpg").unlink()
    result = run_cli("--embeddings", npz, "--pairs", pairs_path, "--lfw-dir", images)
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert f"{pairs_path}:5: image P3/P3_0002" in result.stderr


def test_untrained_registry_model_caches_embeddings_and_logs_tensorboard(tmp_path):
    pairs_path, _, images = make_problem(tmp_path, folds=2, per_class=4, image_size=(112, 96))
    common = [
        "--model",
        "resface20",
        "--width",
        "0.0625",
        "--embedding-size",
        "16",
        "--lfw-dir",
        images,
        "--pairs",
        pairs_path,
        "--out-dir",
        tmp_path / "out",
        "--batch-size",
        "8",
    ]
    first = run_cli(*common, "--json", tmp_path / "r.json", "--run-dir", tmp_path / "run", "--step", "7")
    assert first.returncode == 0, first.stderr
    assert "cached embeddings in" in first.stdout
    cache = list((tmp_path / "out").glob("pairs_embeddings_*.npz"))  # not View 2: named by the file
    assert len(cache) == 1
    assert np.load(cache[0])["embeddings"].shape == (32, 16)
    assert "TensorBoard: step 7 of" in first.stdout
    for folder in ("tensorboard", "tensorboard/hparams"):  # the lfw/ curve, the HParams metrics
        assert list((tmp_path / "run" / folder).glob("events.out.tfevents.*")), folder
    second = run_cli(*common)
    assert second.returncode == 0, second.stderr
    assert "reusing cached embeddings" in second.stdout
    table = lambda out: out.split("pairs resface20")[1].split("ROC curve")[0]
    assert table(first.stdout) == table(second.stdout)
    third = run_cli(*common, "--flip", "none")  # mirror-including cache serves flip none
    assert third.returncode == 0 and "reusing cached embeddings" in third.stdout
    (images / "align_report.csv").write_text("path,status\n")  # a re-aligned folder
    fourth = run_cli(*common)
    assert fourth.returncode == 0 and "cached embeddings in" in fourth.stdout
    assert len(list((tmp_path / "out").glob("pairs_embeddings_*.npz"))) == 2


def test_batch_dependent_bn_model_keys_its_cache_on_the_batch_size(tmp_path):
    """A BN always_train export embeds with each batch's statistics, so --batch-size changes its
    embeddings: eval says so, records it in the JSON, and a cache made with another batch size is
    not reused (before the fix the second run silently reused the first run's embeddings)."""
    import models

    pairs_path, _, images = make_problem(tmp_path, folds=2, per_class=4, image_size=(112, 96))
    model = models.build("resface20", embedding_size=8, width=0.0625, bn_mode="always_train")
    models.export_embedder(model, tmp_path / "run" / "export", (112, 96))
    common = [
        "--model",
        tmp_path / "run",
        "--lfw-dir",
        images,
        "--pairs",
        pairs_path,
        "--no-tensorboard",
        "--no-projector",
        "--gallery-size",
        "0",
    ]
    for batch in (4, 8):
        run = run_cli(*common, "--batch-size", batch, "--json", tmp_path / f"b{batch}.json")
        assert run.returncode == 0, run.stderr
        assert "BN always_train" in run.stdout and f"embedding {batch} images" in run.stdout
        assert "cached embeddings in" in run.stdout  # computed, not reused from the other size
        record = json.loads((tmp_path / f"b{batch}.json").read_text())
        assert record["batch_dependent"] is True and record["batch_size"] == batch
    caches = sorted((tmp_path / "run" / "eval").glob("pairs_embeddings_*.npz"))
    assert len(caches) == 2
    first, second = (np.load(c)["embeddings"] for c in caches)
    assert not np.allclose(first, second, rtol=1e-3)  # the batch size did change them


def tensorboard_tags(folder):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    if not folder.is_dir():
        return set()
    accumulator = EventAccumulator(str(folder), size_guidance={"tensors": 0})
    accumulator.Reload()
    return set(accumulator.Tags()["tensors"])


def test_another_pairs_set_never_lands_in_the_runs_lfw_chart(tmp_path):
    """A run evaluated on a pairs folder that is not View 2 (as `--lfw-dir <other> --pairs <its
    pairs.txt>`): its point goes to its own chart and HParams metrics, never lfw/ or lfw_view2/
    (before, it ended the run's LFW curve and replaced its View 2 metrics)."""
    import eval_lfw

    pairs_path, npz, images = make_problem(tmp_path, image_size=(8, 6))
    run_dir = tmp_path / "run"
    assert (
        eval_lfw.main(
            [
                "--embeddings",
                str(npz),
                "--pairs",
                str(pairs_path),
                "--lfw-dir",
                str(images),
                "--run-dir",
                str(run_dir),
                "--step",
                "5",
                "--out-dir",
                str(tmp_path / "out"),
                "--gallery-size",
                "2",
            ]
        )
        == 0
    )
    main, session = (tensorboard_tags(run_dir / "tensorboard"), tensorboard_tags(run_dir / "tensorboard" / "hparams"))
    assert not [tag for tag in main | session if tag.startswith("lfw")]
    assert {"pairs/accuracy", "pairs/folds", "pairs/protocol"} <= main
    assert {"pairs_final/accuracy", "pairs_final/auc"} <= session
    out = sorted(path.name for path in (tmp_path / "out").iterdir())
    assert out == ["hardest_errors_pairs_concat_cosine.png", "roc_pairs_concat_cosine.png"]
    assert (tmp_path / "out" / out[0]).stat().st_mode & 0o777 == 0o600  # faces: private


def test_json_is_never_silently_replaced(tmp_path, capsys):
    import eval_lfw

    pairs_path, npz, _ = make_problem(tmp_path)
    json_path = tmp_path / "r.json"
    json_path.write_text('{"kept": true}')
    common = [
        "--embeddings",
        str(npz),
        "--pairs",
        str(pairs_path),
        "--json",
        str(json_path),
        "--out-dir",
        str(tmp_path / "out"),
    ]
    assert eval_lfw.main(common) == 2
    assert "exists; pass --overwrite" in capsys.readouterr().err
    assert json.loads(json_path.read_text()) == {"kept": True}
    assert eval_lfw.main(common + ["--overwrite"]) == 0
    assert json.loads(json_path.read_text())["benchmark"] == "pairs"


@pytest.mark.parametrize("far", ["0", "1", "-0.1", "1.5"])
def test_far_target_must_lie_in_the_open_unit_interval(tmp_path, far, capsys):
    import eval_lfw

    pairs_path, npz, _ = make_problem(tmp_path)
    with pytest.raises(SystemExit) as exit_code:
        eval_lfw.main(["--embeddings", str(npz), "--pairs", str(pairs_path), "--far-target", far])
    assert exit_code.value.code == 2 and "--far-target must be in (0, 1)" in capsys.readouterr().err


def test_no_cache_writes_no_cache(tmp_path):
    import eval_lfw

    pairs_path, _, images = make_problem(tmp_path, folds=2, per_class=2, image_size=(112, 96))
    out = tmp_path / "out"
    assert (
        eval_lfw.main(
            [
                "--model",
                "resface20",
                "--width",
                "0.0625",
                "--embedding-size",
                "8",
                "--lfw-dir",
                str(images),
                "--pairs",
                str(pairs_path),
                "--out-dir",
                str(out),
                "--no-cache",
                "--no-projector",
                "--gallery-size",
                "0",
            ]
        )
        == 0
    )
    assert not list(out.glob("*.npz"))
    assert (
        eval_lfw.main(
            [
                "--model",
                "resface20",
                "--width",
                "0.0625",
                "--embedding-size",
                "8",
                "--lfw-dir",
                str(images),
                "--pairs",
                str(pairs_path),
                "--out-dir",
                str(out),
                "--no-projector",
                "--gallery-size",
                "0",
            ]
        )
        == 0
    )
    (cache,) = out.glob("*.npz")
    assert cache.stat().st_mode & 0o777 == 0o600  # embeddings of faces: private
    assert out.stat().st_mode & 0o777 == 0o700


def test_a_bin_benchmark_by_path_with_a_malicious_file_refused_in_one_line(tmp_path, capsys):
    """--benchmark PATH.bin: a good file evaluates (its own name, centre columns for 112x96), a
    pickle that would run code is one line and exit 2."""
    import eval_lfw
    from tests.benchmark_files import jpeg_bytes, write_bin

    rng = np.random.default_rng(0)
    people = [rng.integers(0, 256, (112, 112, 3), dtype=np.uint8) for _ in range(30)]
    encoded, issame = [], []
    for k in range(20):  # same: a face and its slightly noisy copy; different: two faces
        same = k % 2 == 0
        first = people[k]
        second = np.clip(first + rng.integers(-3, 4, first.shape), 0, 255).astype(np.uint8) if same else people[k + 10]
        encoded += [jpeg_bytes(first), jpeg_bytes(second)]
        issame.append(same)
    good = write_bin(tmp_path / "Tiny Set.bin", encoded, issame)
    json_path = tmp_path / "tiny.json"
    assert (
        eval_lfw.main(
            [
                "--model",
                "resface20",
                "--width",
                "0.0625",
                "--embedding-size",
                "8",
                "--benchmark",
                str(good),
                "--json",
                str(json_path),
                "--out-dir",
                str(tmp_path / "out"),
                "--gallery-size",
                "2",
            ]
        )
        == 0
    )
    result = json.loads(json_path.read_text())
    assert result["benchmark"] == "tiny_set" and result["num_folds"] == 10 and result["num_pairs"] == 20
    assert (tmp_path / "out" / "roc_tiny_set_concat_cosine.png").is_file()
    assert not (tmp_path / "out" / "projector").exists()  # the projector stays on LFW
    capsys.readouterr()

    marker = tmp_path / "ran"
    bad = tmp_path / "evil.bin"
    bad.write_bytes(b"cos\nsystem\n(V" + f"touch {marker}".encode() + b"\ntR.")  # os.system(...)
    assert eval_lfw.main(["--model", "resface20", "--benchmark", str(bad)]) == 2
    error = capsys.readouterr().err
    assert len(error.strip().splitlines()) == 1 and str(bad) in error and "os.system" in error
    assert not marker.exists()

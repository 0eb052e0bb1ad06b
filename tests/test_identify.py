"""identify.py enroll + search end to end on real CelebA photos (raw, unaligned)."""

import csv
import json
import shutil
import stat

import numpy as np
import pytest
from PIL import Image

from recognition.gallery import Gallery
from tests.helpers.recognition import run_cli

pytestmark = pytest.mark.integration

IDENTITIES = ("07201", "07202", "07203")


def side_by_side(first, second, out):
    """Two photos pasted next to each other, unscaled: one image with two faces."""
    left, right = np.asarray(Image.open(first)), np.asarray(Image.open(second))
    height = max(left.shape[0], right.shape[0])
    canvas = np.zeros((height, left.shape[1] + right.shape[1], 3), np.uint8)
    canvas[: left.shape[0], : left.shape[1]] = left
    canvas[: right.shape[0], left.shape[1] :] = right
    Image.fromarray(canvas).save(out, quality=98)
    return out


@pytest.fixture(scope="module")
def people(data_dir, tmp_path_factory, odd_photos):
    """Gallery folder (2 photos per identity, a broken file, an empty identity), held-out photos."""
    root = tmp_path_factory.mktemp("people")
    held_out = {}
    for name in IDENTITIES:
        photos = sorted((data_dir / "celeba299" / name).glob("*.jpg"))
        (root / name).mkdir()
        for photo in photos[:2]:
            shutil.copy(photo, root / name / photo.name)
        held_out[name] = photos[-1]
    shutil.copy(odd_photos[0], root / IDENTITIES[0] / "broken.jpg")
    (root / "nobody").mkdir()
    return root, held_out


def test_enroll_then_search_writes_one_row_per_face_or_failure(people, tiny_model, odd_photos, tmp_path):
    root, held_out = people
    gallery_path = tmp_path / "gallery.npz"
    enroll = run_cli(
        "identify.py", "enroll", "--gallery", root, "--model", tiny_model, "--out", gallery_path, "--mode", "all"
    )
    assert enroll.returncode == 0, enroll.stderr
    assert "broken.jpg: unreadable" in enroll.stderr and "identity nobody" in enroll.stderr
    gallery = Gallery.load(gallery_path)
    assert gallery.identities == list(IDENTITIES) and len(gallery) == 6
    # Private, and no personal paths: photos relative to the enrolled folder, no model path.
    assert stat.S_IMODE(gallery_path.stat().st_mode) == 0o600
    assert (
        all(not source.startswith("/") and source.split("/")[0] in IDENTITIES for source in gallery.sources)
        and "model" not in gallery.meta
    )
    assert gallery.meta["flip"] == "concat" and gallery.meta["enroll_mode"] == "all"

    # Queries: an enrolled photo, a held-out one, two faces in one photo, and two bad files.
    queries = tmp_path / "queries"
    queries.mkdir()
    shutil.copy(sorted((root / IDENTITIES[1]).glob("*.jpg"))[0], queries / "a.jpg")
    shutil.copy(held_out[IDENTITIES[0]], queries / "b.jpg")
    side_by_side(
        sorted((root / IDENTITIES[0]).glob("[!b]*.jpg"))[0],  # not broken.jpg
        sorted((root / IDENTITIES[2]).glob("*.jpg"))[0],
        queries / "c.jpg",
    )
    shutil.copy(odd_photos[0], queries / "d.jpg")
    shutil.copy(odd_photos[1], queries / "e.jpg")
    out_csv = tmp_path / "attendance.csv"
    search = run_cli(
        "identify.py",
        "search",
        queries,
        "--gallery",
        gallery_path,
        "--model",
        tiny_model,
        "--threshold",
        "0.999",
        "--top-k",
        "2",
        "--all-faces",
        "--index",
        "hnsw",
        "--csv",
        out_csv,
    )
    assert search.returncode == 0, search.stderr
    rows = list(csv.DictReader(out_csv.open()))
    by_photo = {}
    for row in rows:
        by_photo.setdefault(row["photo"].rsplit("/", 1)[-1], []).append(row)

    exact = by_photo["a.jpg"][0]  # the very photo enrolled: cosine 1 with its own row
    assert exact["status"] == "identified" and exact["identity"] == IDENTITIES[1]
    assert float(exact["score"]) == pytest.approx(1.0, abs=1e-3)
    held = by_photo["b.jpg"][0]  # another photo: below the strict threshold -> unknown
    assert held["status"] == "unknown" and float(held["score"]) < 0.999
    assert len(held["top_k"].split(";")) == 2
    two_faces = by_photo["c.jpg"]
    assert [row["face"] for row in two_faces] == ["0", "1"]
    assert {row["top_k"].split(":")[0] for row in two_faces} == {IDENTITIES[0], IDENTITIES[2]}
    assert by_photo["d.jpg"][0]["status"] == "unreadable"
    assert by_photo["e.jpg"][0]["status"] == "no_face"
    assert "no face detected" in by_photo["e.jpg"][0]["reason"]

    # Nothing already produced is overwritten: both refusals come before any model loading.
    before = (gallery_path.read_bytes(), out_csv.read_bytes())
    again = run_cli("identify.py", "enroll", "--gallery", root, "--model", tiny_model, "--out", gallery_path)
    assert again.returncode == 2 and "--overwrite" in again.stderr
    again = run_cli(
        "identify.py",
        "search",
        queries,
        "--gallery",
        gallery_path,
        "--model",
        tiny_model,
        "--threshold",
        "0.5",
        "--csv",
        out_csv,
    )
    assert again.returncode == 2 and "--overwrite" in again.stderr
    assert (gallery_path.read_bytes(), out_csv.read_bytes()) == before


def test_search_rejects_a_file_that_is_not_a_gallery(tmp_path):
    np.savez(tmp_path / "other.npz", x=np.ones(2))
    run = run_cli(
        "identify.py", "search", "x.jpg", "--gallery", tmp_path / "other.npz", "--model", tmp_path, "--threshold", "0.5"
    )
    assert run.returncode == 2 and "other.npz: not a gallery" in run.stderr


def test_far_threshold_rejects_a_stranger_the_accuracy_threshold_identifies(people, tiny_model, data_dir, tmp_path):
    """Open set on real photos: a never-enrolled person's best score lies above the report's
    accuracy threshold and below its FAR threshold; --far switches which one search uses."""
    root, _ = people
    gallery_path = tmp_path / "gallery.npz"
    assert (
        run_cli(
            "identify.py", "enroll", "--gallery", root, "--model", tiny_model, "--out", gallery_path, "--mode", "all"
        ).returncode
        == 0
    )
    queries = tmp_path / "queries"
    queries.mkdir()
    shutil.copy(sorted((root / IDENTITIES[1]).glob("*.jpg"))[0], queries / "enrolled.jpg")
    stranger = sorted((data_dir / "celeba299" / "07204").glob("*.jpg"))[0]  # never enrolled
    shutil.copy(stranger, queries / "stranger.jpg")

    def search(*threshold_args):
        run = run_cli(
            "identify.py",
            "search",
            queries,
            "--gallery",
            gallery_path,
            "--model",
            tiny_model,
            "--csv",
            tmp_path / "out.csv",
            "--overwrite",
            *threshold_args,
        )
        assert run.returncode == 0, run.stderr
        rows = {r["photo"].rsplit("/", 1)[-1]: r for r in csv.DictReader(open(tmp_path / "out.csv"))}
        return rows, run.stderr

    rows, _ = search("--threshold", "-1")
    score = float(rows["stranger.jpg"]["score"])
    assert score < 0.99
    far_threshold = (score + 1.0) / 2  # between the stranger and the exact enrolled photo (1.0)
    report = tmp_path / "eval.json"
    report.write_text(
        json.dumps(
            dict(
                fold_thresholds=[score - 0.1, score - 0.05],
                far_target=0.001,
                fold_val_thresholds=[far_threshold - 0.005, far_threshold + 0.005],
                similarity="cosine",
                subtract_mean=False,
                flip="concat",
            )
        )
    )

    rows, log = search("--threshold-from", report)
    assert rows["stranger.jpg"]["status"] == "identified"
    assert f"threshold {score - 0.075:.4f} (the LFW accuracy threshold of {report})" in log
    rows, log = search("--threshold-from", report, "--far", "1e-3")
    assert rows["stranger.jpg"]["status"] == "unknown"
    assert rows["enrolled.jpg"]["status"] == "identified"
    assert rows["enrolled.jpg"]["identity"] == IDENTITIES[1]
    assert f"threshold {far_threshold:.4f} (the LFW FAR 0.001 threshold of {report})" in log

    for bad, message in [
        (["--far", "1e-4"], "has thresholds for FAR 0.001 only, not 0.0001"),
        (["--far", "2"], "a false-accept rate in (0, 1)"),
    ]:
        run = run_cli(
            "identify.py",
            "search",
            queries,
            "--gallery",
            gallery_path,
            "--model",
            tiny_model,
            "--threshold-from",
            report,
            *bad,
        )
        assert run.returncode == 2 and message in run.stderr and "Traceback" not in run.stderr


def test_enroll_refuses_a_batch_dependent_bn_model_in_one_line(people, tmp_path):
    """BN always_train: a face's embedding would depend on whatever else is in its batch, so a
    gallery built from it could not be searched reproducibly; identify.py refuses it, as verify.py."""
    import models
    from tests.helpers.recognition import TINY_MODEL

    export = models.export_embedder(
        models.build(**dict(TINY_MODEL, bn_mode="always_train")), tmp_path / "export", TINY_MODEL["image_size"]
    )
    gallery_path = tmp_path / "gallery.npz"
    run = run_cli("identify.py", "enroll", "--gallery", people[0], "--model", export, "--out", gallery_path)
    assert run.returncode == 2 and not gallery_path.exists()
    error = run.stderr.strip().splitlines()[-1]
    assert error.startswith("identify.py: error: ") and "Traceback" not in run.stderr
    assert "BN mode always_train" in error


def test_enroll_refuses_a_model_that_touches_files_before_it_runs(people, hostile_model, tmp_path, capsys):
    import identify

    export, stolen = hostile_model
    out = tmp_path / "gallery.npz"
    assert identify.main(["enroll", "--gallery", str(people[0]), "--model", str(export), "--out", str(out)]) == 2
    error = capsys.readouterr().err.strip().splitlines()
    assert len(error) == 1 and "op ReadFile, WriteFile" in error[0]
    assert not stolen.exists() and not out.exists()

"""The dataset CLI end to end: awkward inputs, no-face policy, given landmarks, only-list, resume
after kill -9, sharding, bad arguments, plain centre crops."""

import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from align.align_dataset import AlignConfig, align_dataset, main
from align.file_list import in_shard, parse_shard, walk_images
from align.image_io import load_rgb
from align.report import SUMMARY_PREFIX, read_report, report_name
from common.errors import UserValueError

REPO_ROOT = Path(__file__).resolve().parent.parent
FACE = "lfw/Aaron_Eckhart/Aaron_Eckhart_0001.jpg"


def landmarks_of(row):
    return np.array([float(row[f"lm{i}_{a}"]) for i in range(1, 6) for a in "xy"]).reshape(5, 2)


def read_crop(path):
    image = cv2.imread(str(path))
    assert image is not None, f"{path} is not a valid image"
    return image


def run(input_dir, output_dir, **options):
    config = AlignConfig(input_dir=str(input_dir), **options.pop("config", {}))
    return align_dataset(config, output_dir, workers=0, progress=False, **options)


@pytest.fixture(scope="module")
def awkward_dir(tmp_path_factory, data_dir):
    """One folder holding every kind of awkward input, made from a real LFW photo."""
    root = tmp_path_factory.mktemp("awkward")
    (root / "odd").mkdir()
    real = Image.open(data_dir / FACE).convert("RGB")
    array = np.asarray(real)
    real.save(root / "good.jpg", quality=95)
    real.convert("L").save(root / "odd" / "gray.jpg")
    Image.fromarray(np.dstack([array, np.full(array.shape[:2], 255, np.uint8)]), "RGBA").save(root / "odd" / "rgba.png")
    real.convert("CMYK").save(root / "odd" / "cmyk.jpg", quality=95)
    Image.fromarray(np.asarray(real.convert("L")).astype(np.uint16) * 257).save(root / "odd" / "deep.png")
    exif = Image.Exif()
    exif[0x0112] = 6
    real.transpose(Image.Transpose.ROTATE_90).save(root / "odd" / "rotated.jpg", quality=95, exif=exif)
    data = (data_dir / FACE).read_bytes()
    (root / "odd" / "truncated.jpg").write_bytes(data[: len(data) // 2])
    (root / "odd" / "empty.jpg").write_bytes(b"")
    (root / "odd" / "text.jpg").write_bytes(b"not an image\n")
    real.resize((40, 40), Image.Resampling.LANCZOS).save(root / "odd" / "tiny.jpg", quality=95)
    real.resize((3000, 3000), Image.Resampling.BICUBIC).save(root / "odd" / "huge.jpg", quality=90)
    Image.fromarray(np.full((200, 160, 3), 128, np.uint8)).save(root / "odd" / "noface.png")
    return root


@pytest.fixture(scope="module")
def awkward_run(awkward_dir, tmp_path_factory):
    output_dir = tmp_path_factory.mktemp("awkward_out")
    counts = run(awkward_dir, output_dir)
    return output_dir, counts, read_report(output_dir / "align_report.csv")


def test_every_input_has_an_output_or_a_recorded_error(awkward_dir, awkward_run):
    output_dir, counts, rows = awkward_run
    inputs = list(walk_images(awkward_dir))
    assert sorted(rows) == sorted(inputs)
    for relative, row in rows.items():
        output = output_dir / Path(relative).with_suffix(".jpg")
        if row["status"] == "error":
            assert not output.exists()
            assert relative.split("/")[-1] in row["message"] and "\n" not in row["message"]
        else:
            assert read_crop(output).shape == (112, 96, 3)
    statuses = {relative: row["status"] for relative, row in rows.items()}
    for name in (
        "good.jpg",
        "odd/gray.jpg",
        "odd/rgba.png",
        "odd/cmyk.jpg",
        "odd/deep.png",
        "odd/rotated.jpg",
        "odd/huge.jpg",
    ):
        assert statuses[name] == "detected", name
    for name in ("odd/truncated.jpg", "odd/empty.jpg", "odd/text.jpg"):
        assert statuses[name] == "error", name
    assert statuses["odd/tiny.jpg"] in ("detected", "fallback")
    assert statuses["odd/noface.png"] == "fallback"
    assert counts["error"] == 3 and sum(counts.values()) == len(inputs)


def test_landmarks_agree_across_rotation_and_resolution(awkward_run):
    _, _, rows = awkward_run
    good = landmarks_of(rows["good.jpg"])
    np.testing.assert_allclose(landmarks_of(rows["odd/rotated.jpg"]), good, atol=3.0)
    # detected on a downscaled copy and mapped back to the 12x larger original
    np.testing.assert_allclose(landmarks_of(rows["odd/huge.jpg"]) / 12.0, good, atol=3.0)


def test_report_ends_with_summary(awkward_run):
    output_dir, _, _ = awkward_run
    last = (output_dir / "align_report.csv").read_text().splitlines()[-1]
    assert last.startswith(SUMMARY_PREFIX) and "error=3" in last and "images_per_s=" in last


def test_skip_no_face_then_rerun_for_evaluation(awkward_dir, tmp_path):
    only = tmp_path / "only.txt"
    only.write_text("good.jpg\nodd/noface.png\n")
    counts = run(awkward_dir, tmp_path / "out", only_list=only, config={"skip_no_face": True})
    assert counts["skipped"] == 1 and counts["detected"] == 1
    assert not (tmp_path / "out" / "odd" / "noface.jpg").exists()
    # rerun while skipping: nothing to do
    run(awkward_dir, tmp_path / "out", only_list=only, config={"skip_no_face": True})
    rows = read_report(tmp_path / "out" / "align_report.csv")
    assert {r["status"] for r in rows.values()} == {"skipped", "detected"}
    # rerun as an evaluation set: the skipped image is now produced, one row per path remains
    counts = run(awkward_dir, tmp_path / "out", only_list=only)
    assert counts["fallback"] == 1 and counts["detected"] == 1 and counts["skipped"] == 0
    text = (tmp_path / "out" / "align_report.csv").read_text()
    assert text.count("odd/noface.png") == 1 and text.count("good.jpg") == 1
    assert read_crop(tmp_path / "out" / "odd" / "noface.jpg").shape == (112, 96, 3)


def test_given_landmarks_reproduce_the_detected_crop(awkward_dir, awkward_run, tmp_path):
    output_dir, _, rows = awkward_run
    points = landmarks_of(rows["good.jpg"])
    landmarks_file = tmp_path / "landmarks.txt"
    landmarks_file.write_text("good.jpg " + " ".join(f"{v:.2f}" for v in points.reshape(-1)) + "\n")
    only = tmp_path / "only.txt"
    only.write_text("good.jpg\n")
    main(
        [
            "--input-dir",
            str(awkward_dir),
            "--output-dir",
            str(tmp_path / "out"),
            "--workers",
            "0",
            "--only-list",
            str(only),
            "--landmarks",
            str(landmarks_file),
            "--image-size",
            "112x112",
            "--png",
            "--no-progress",
        ]
    )
    rows_given = read_report(tmp_path / "out" / "align_report.csv")
    assert list(rows_given) == ["good.jpg"] and rows_given["good.jpg"]["status"] == "given"
    crop = read_crop(tmp_path / "out" / "good.png")
    assert crop.shape == (112, 112, 3)
    detected = read_crop(output_dir / "good.jpg")  # 112x96 of the same face = central 96 columns
    assert np.abs(crop[:, 8:104].astype(int) - detected).mean() < 4


def test_centre_crop_method_crops_the_listed_photos_without_the_detector(awkward_dir, data_dir, tmp_path, monkeypatch):
    import align.detector

    def no_detector(**_):
        raise AssertionError("--method centre_crop must not build the detector")

    monkeypatch.setattr(align.detector, "FaceDetector", no_detector)
    only = tmp_path / "only.txt"
    only.write_text("good.jpg\nodd/noface.png\nodd/text.jpg\n")
    out = tmp_path / "out"
    config = {"method": "centre_crop", "image_format": "png"}
    counts = run(awkward_dir, out, only_list=only, config=config)
    assert counts == {"centre_crop": 2, "error": 1}
    # LFW's 250 x 250: a crop 0.52 * 250 = 130 tall, 130 * 96 / 112 = 111 wide, at (60, 69).
    photo = load_rgb(str(awkward_dir / "good.jpg"))  # the aligner's own decoder: the crop is under test
    expected = cv2.resize(photo[60:190, 69:180], (96, 112), interpolation=cv2.INTER_AREA)
    np.testing.assert_array_equal(read_crop(out / "good.png")[:, :, ::-1], expected)
    assert read_crop(out / "odd" / "noface.png").shape == (112, 96, 3)
    rows = read_report(out / "align_report.csv")
    assert sorted(rows) == ["good.jpg", "odd/noface.png", "odd/text.jpg"]
    assert rows["good.jpg"]["status"] == "centre_crop" and rows["good.jpg"]["lm1_x"] == ""
    assert rows["odd/text.jpg"]["status"] == "error" and not (out / "odd" / "text.png").exists()
    assert "method=centre_crop" in (out / "align_report.csv").read_text().splitlines()[-1]
    assert run(awkward_dir, out, only_list=only, config=config) == counts  # a resume redoes only the error
    assert "processed=1 already_done=2" in (out / "align_report.csv").read_text().splitlines()[-1]


def test_a_folder_of_one_method_refuses_the_other(awkward_dir, awkward_run, tmp_path):
    only = tmp_path / "only.txt"
    only.write_text("good.jpg\n")
    centred = tmp_path / "centred"
    run(awkward_dir, centred, only_list=only, config={"method": "centre_crop"})
    with pytest.raises(UserValueError, match="status 'centre_crop'.*--method mtcnn would mix"):
        run(awkward_dir, centred, only_list=only)
    aligned = tmp_path / "aligned"
    aligned.mkdir()
    shutil.copy(awkward_run[0] / "align_report.csv", aligned)  # the MTCNN run's report: its statuses
    with pytest.raises(UserValueError, match="status '(detected|fallback)'.*--method centre_crop would mix"):
        run(awkward_dir, aligned, only_list=only, config={"method": "centre_crop"})
    assert not (aligned / "good.jpg").exists()


def test_centre_crop_fraction_sets_the_crop(awkward_dir, tmp_path):
    only = tmp_path / "only.txt"
    only.write_text("good.jpg\n")
    config = {"method": "centre_crop", "image_format": "png", "fallback_fraction": 0.9}
    run(awkward_dir, tmp_path / "out", only_list=only, config=config)
    # 0.9 * 250 = 225 tall, 225 * 96 / 112 = 192.9 -> 193 wide, at (12, 28).
    photo = load_rgb(str(awkward_dir / "good.jpg"))  # the aligner's own decoder: the crop is under test
    expected = cv2.resize(photo[12:237, 28:221], (96, 112), interpolation=cv2.INTER_AREA)
    np.testing.assert_array_equal(read_crop(tmp_path / "out" / "good.png")[:, :, ::-1], expected)


@pytest.mark.integration
def test_resume_after_kill_minus_9(data_dir, tmp_path):
    input_dir = tmp_path / "in"
    people = sorted((data_dir / "lfw").iterdir())[:40]
    for person in people:
        source = sorted(person.iterdir())[0]
        (input_dir / person.name).mkdir(parents=True)
        (input_dir / person.name / source.name).write_bytes(source.read_bytes())
    output_dir = tmp_path / "out"
    report = output_dir / "align_report.csv"
    command = [
        sys.executable,
        str(REPO_ROOT / "align" / "align_dataset.py"),
        "--input-dir",
        str(input_dir),
        "--output-dir",
        str(output_dir),
        "--workers",
        "0",
        "--batch-size",
        "2",
        "--no-progress",
    ]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while time.time() < deadline:
        if report.exists() and report.read_text().count("\n") >= 8:
            break
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    rows_before = report.read_text().count("\n") - 1
    assert 0 < rows_before < 40, "the kill must land mid-run"
    with open(report, "a") as handle:
        handle.write("Zzz/cut_mid_wri")  # a row cut short by the kill

    run(input_dir, output_dir)
    rows = read_report(report)
    assert sorted(rows) == sorted(walk_images(input_dir))
    text_rows = [line for line in report.read_text().splitlines()[1:] if not line.startswith("#")]
    assert len(text_rows) == 40  # deduplicated, the cut line dropped
    for relative in rows:
        assert read_crop(output_dir / relative).shape == (112, 96, 3)
    assert not list(output_dir.rglob("*.partial"))
    # a further rerun has nothing to do and keeps everything
    counts = run(input_dir, output_dir)
    assert sum(counts.values()) == 40
    assert report.read_text().splitlines()[-1].count("already_done=40") == 1


def test_shards_cover_every_lfw_file_exactly_once(data_dir):
    paths = list(walk_images(data_dir / "lfw"))
    assert len(paths) == 13233
    shards = [[p for p in paths if in_shard(p, (i, 3))] for i in range(3)]
    assert sorted(sum(shards, [])) == sorted(paths)
    assert all(len(s) > 4000 for s in shards)  # roughly balanced


def test_sharded_runs_together_produce_every_image(awkward_dir, tmp_path):
    only = tmp_path / "only.txt"
    only.write_text("good.jpg\nodd/gray.jpg\nodd/cmyk.jpg\nodd/rgba.png\nodd/noface.png\nodd/text.jpg\n")
    for index in range(2):
        run(awkward_dir, tmp_path / "out", only_list=only, shard=(index, 2))
    reports = [read_report(tmp_path / "out" / report_name((i, 2))) for i in range(2)]
    assert not set(reports[0]) & set(reports[1])
    assert sorted(set(reports[0]) | set(reports[1])) == sorted(only.read_text().split())


@pytest.mark.parametrize(
    "arguments,message",
    [
        (["--shard", "3/2"], "shard"),
        (["--image-size", "100x100"], "100x100"),
        (["--detector-thresholds", "0.6,0.7"], "--detector-thresholds needs 3"),
        (["--detector-thresholds", "0.6,x,0.7"], "--detector-thresholds needs 3"),
        (["--scale-factor", "1.5"], "(0, 1)"),
        (["--scale-factor", "nan"], "(0, 1)"),
        (["--max-pixels", "0"], "at least 1"),
        (["--jpeg-quality", "101"], "at most 100"),
        (["--workers", "-1"], "at least 0"),
        (["--method", "haar"], "invalid choice: 'haar'"),
        (["--method", "centre_crop", "--skip-no-face"], "--skip-no-face and --landmarks need --method mtcnn"),
    ],
)
def test_bad_arguments_give_one_line_errors(awkward_dir, tmp_path, capsys, arguments, message):
    try:
        code = main(["--input-dir", str(awkward_dir), "--output-dir", str(tmp_path / "o")] + arguments)
    except SystemExit as usage_error:  # argparse's own range errors
        code = usage_error.code
    assert code == 2 and message in capsys.readouterr().err


def test_bad_landmarks_file_names_the_line(awkward_dir, tmp_path, capsys):
    landmarks_file = tmp_path / "lm.txt"
    landmarks_file.write_text("# comment\ngood.jpg 1 2 3\n")
    code = main(
        ["--input-dir", str(awkward_dir), "--output-dir", str(tmp_path / "o"), "--landmarks", str(landmarks_file)]
    )
    assert code == 2 and f"{landmarks_file}:2" in capsys.readouterr().err


def test_parse_shard():
    assert parse_shard("1/4") == (1, 4)
    for bad in ("4/4", "-1/2", "1", "a/b", "0/0"):
        with pytest.raises(ValueError):
            parse_shard(bad)


def test_odd_names_and_a_link_loop_are_aligned_or_skipped_not_fatal(data_dir, tmp_path):
    """Issue 39's probes: a Latin-1 name (b'caf\\xe9.jpg') stopped alignment with
    UnicodeEncodeError on every resume; a directory link loop with ELOOP."""
    import os

    from align.report import PATH_ERRORS

    root = tmp_path / "in"
    (root / "person").mkdir(parents=True)
    photo = (data_dir / FACE).read_bytes()
    (root / "person" / "plain.jpg").write_bytes(photo)
    with open(os.path.join(os.fsencode(root / "person"), b"caf\xe9.jpg"), "wb") as handle:
        handle.write(photo)
    os.symlink("..", root / "person" / "loop")  # person/loop/person/loop/...
    os.symlink("self", root / "self")  # a link to itself: ELOOP
    out = tmp_path / "out"
    counts = run(root, out)
    assert counts == {"detected": 2}
    assert sorted(os.listdir(os.fsencode(out / "person"))) == [b"caf\xe9.jpg", b"plain.jpg"]
    report = (out / "align_report.csv").read_bytes()
    assert b"person/caf\xe9.jpg" in report  # the original bytes, surrogate-escaped on the way
    crops = {name: (out / "person" / name).stat().st_mtime_ns for name in os.listdir(out / "person")}
    assert run(root, out) == {"detected": 2}  # a resume reads the report back and skips both
    assert {
        name: (out / "person" / name).stat().st_mtime_ns for name in os.listdir(out / "person")
    } == crops and PATH_ERRORS == "surrogateescape"


def test_a_second_aligner_on_the_same_output_shard_is_refused(awkward_dir, tmp_path):
    from common.dir_lock import FolderInUseError, exclusive_folder

    out = tmp_path / "out"
    with exclusive_folder(out, "x", part="align_report.csv"):
        with pytest.raises(FolderInUseError, match="shard 0/1 of the output dir is in use"):
            run(awkward_dir, out)
    assert not (out / "align_report.csv").exists()

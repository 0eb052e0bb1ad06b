"""common/run_layout.py: where a run's files are and which folder names an export."""

from __future__ import annotations

from common.paths import REPO_ROOT, RUNS_DIR
from common.run_layout import RunLayout, locate_export, read_labels, run_dir_of, write_labels


def _saved_model(folder):
    folder.mkdir(parents=True)
    (folder / "saved_model.pb").write_bytes(b"")
    return folder


def test_run_dir_of_a_config(tmp_path):
    assert run_dir_of("demo", None) == RUNS_DIR / "demo"
    assert run_dir_of("demo", "runs/cpu/x") == REPO_ROOT / "runs/cpu/x"
    assert run_dir_of("demo", tmp_path) == tmp_path


def test_every_way_of_naming_an_export_finds_the_same_files(tmp_path):
    run = tmp_path / "run"
    saved = _saved_model(run / "export" / "embedder")
    for named in (run, run / "export"):
        found = locate_export(named)
        assert (found.saved_model, found.model_info, found.run_dir) == (saved, run / "export" / "model_info.json", run)
    bare = locate_export(saved)  # the SavedModel itself: no run known, model_info.json beside it
    assert (bare.saved_model, bare.model_info, bare.run_dir) == (saved, run / "export" / "model_info.json", None)
    assert locate_export(tmp_path) is None
    elsewhere = _saved_model(tmp_path / "shipped" / "embedder")  # an export folder not named export/
    assert locate_export(tmp_path / "shipped").saved_model == elsewhere
    assert locate_export(tmp_path / "shipped").run_dir is None


def test_layout_names_and_labels_round_trip(tmp_path):
    layout = RunLayout(tmp_path)
    assert layout.lfw_view2 == tmp_path / "eval" / "lfw_view2.json"
    assert layout.eval_json("lfw_view2") == layout.lfw_view2
    assert layout.eval_json("cfp_fp_final") == tmp_path / "eval" / "cfp_fp_final.json"
    assert layout.tensorboard == tmp_path / "tensorboard"
    write_labels(layout.labels, ["b", "a", "c d"])
    assert layout.labels.read_text() == "b\na\nc d\n"
    assert read_labels(layout.labels) == ["b", "a", "c d"]

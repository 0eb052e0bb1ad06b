"""tools/plot_runs.py reads the scalars train.py writes and renders one PNG for several runs."""

from __future__ import annotations

import numpy as np
import tensorflow as tf
from PIL import Image

from tools import plot_runs
from training import summaries


def lfw_result(accuracy, folds):
    return {
        "accuracy_mean": accuracy,
        "accuracy_std": 0.01,
        "val_mean": 0.3,
        "auc": 0.9,
        "num_folds": folds,
        "num_pairs": 600 * folds,
    }


def fake_run(directory, losses, lfw, final=None):
    """Event files as train.py writes them, split in two like a resumed run, an LFW check at the
    last step and, when `final` is given, eval_lfw.py's final evaluation at that step."""
    for part, (start, stop) in enumerate(((0, 2), (2, len(losses)))):
        with tf.summary.create_file_writer(str(directory / "tensorboard" / f"part{part}")).as_default():
            for step in range(start, stop):
                tf.summary.scalar("train/total_loss", losses[step], step=10 * (step + 1))
                tf.summary.scalar("train/batch_accuracy", 0.1 * step, step=10 * (step + 1))
            tf.summary.histogram("weights/k", np.zeros(3), step=stop)
    last = 10 * len(losses)
    with tf.summary.create_file_writer(str(directory / "tensorboard")).as_default():
        summaries.write_check(directory, last, "lfw", lfw_result(lfw, 4), "check")
    if final is not None:
        summaries.write_final(directory, last, "lfw", lfw_result(final, 10), "final", all_folds=True)


def test_reads_scalars_across_event_files_and_writes_png(tmp_path):
    fake_run(tmp_path / "a", [5.0, 4.0, 3.0, 2.5], 0.7, final=0.75)
    fake_run(tmp_path / "b", [6.0, 5.0, 4.5], 0.6)
    scalars = plot_runs.read_scalars(tmp_path / "a")
    assert [s for s, _ in scalars["train/total_loss"]] == [10, 20, 30, 40]
    np.testing.assert_allclose([v for _, v in scalars["train/total_loss"]], [5.0, 4.0, 3.0, 2.5])
    # The final evaluation replaced the check at step 40, as TensorBoard shows it.
    assert scalars[summaries.LFW_ACCURACY_TAG] == [(40, np.float32(0.75))]
    assert scalars[summaries.LFW_FOLDS_TAG] == [(40, 10)]
    assert scalars[summaries.LFW_CHECK_TAG] == [(40, np.float32(0.7))]
    assert scalars[summaries.VIEW2_ACCURACY_TAG] == [(40, np.float32(0.75))]
    assert plot_runs.read_scalars(tmp_path / "b")[summaries.LFW_ACCURACY_TAG] == [(30, np.float32(0.6))]
    assert "weights/k" not in scalars  # histograms are not scalars
    assert summaries.LFW_PROTOCOL_TAG not in scalars  # nor is text
    out = tmp_path / "curves.png"
    assert plot_runs.main([str(tmp_path / "a"), str(tmp_path / "b"), "--out", str(out)]) == 0
    assert Image.open(out).size[0] > 1000


def test_one_panel_per_benchmark_lfw_first(tmp_path):
    fake_run(tmp_path / "a", [5.0, 4.0, 3.0], 0.7)
    with tf.summary.create_file_writer(str(tmp_path / "b" / "tensorboard")).as_default():
        summaries.write_check(tmp_path / "b", 30, "agedb_30", lfw_result(0.6, 4), "check")
        summaries.write_check(tmp_path / "b", 30, "cfp_fp", lfw_result(0.6, 4), "check")
    runs = [plot_runs.read_scalars(tmp_path / name) for name in ("a", "b")]
    assert [tag for tag, _, _ in plot_runs.panels(runs)] == [
        "train/total_loss",
        "train/batch_accuracy",
        "lfw/accuracy",
        "agedb_30/accuracy",
        "cfp_fp/accuracy",
    ]
    out = tmp_path / "curves.png"
    assert plot_runs.main([str(tmp_path / "a"), str(tmp_path / "b"), "--out", str(out)]) == 0
    assert Image.open(out).size[0] >= 5 * 5 * 100  # five panels of 5 inches at 100 dpi


def test_missing_or_empty_run_dir_is_an_error(tmp_path, capsys):
    assert plot_runs.main([str(tmp_path / "absent"), "--out", str(tmp_path / "x.png")]) == 2
    assert capsys.readouterr().err == f"tools/plot_runs.py: error: run dir not found: {tmp_path / 'absent'}\n"
    (tmp_path / "empty").mkdir()
    assert plot_runs.main([str(tmp_path / "empty"), "--out", str(tmp_path / "x.png")]) == 2
    assert "no TensorBoard scalars" in capsys.readouterr().err

"""TensorBoard logs of a tiny real run, read back with TensorBoard's own readers (EventAccumulator and
the HParams plugin's backend): the lfw/ curve of in-training checks ends in eval_lfw.py's final
evaluation at the run's last step, and the HParams session's metrics are the final evaluation and
the last check (tag scheme: training/summaries.py)."""
from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from tests.synthetic_pairs import pairs_lines
from tests.test_train_support import standin_train_dir, tiny_config  # noqa: F401
from training import summaries
from verification.pairs import parse_pairs

pytest.importorskip("models")
pytest.importorskip("losses")

HPARAM_KEYS = ("name", "seed", "model.name", "model.width", "model.bn_mode", "loss.name",
               "optimizer.name", "optimizer.weight_decay", "train.ema_decay", "train.precision",
               "eval.folds")


def tiny_lfw(tmp_path, folds=3, per_class=4):
    """A View 2 style pairs file of `folds` folds and random 112x96 'aligned' images for it."""
    lines, _ = pairs_lines(folds, per_class)
    pairs_path = tmp_path / "pairs.txt"
    pairs_path.write_text("\n".join(lines) + "\n")
    rng = np.random.default_rng(0)
    lfw_dir = tmp_path / "lfw"
    for stem in parse_pairs(pairs_path).unique_stems():
        (lfw_dir / stem).parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(rng.integers(0, 256, (112, 96, 3), dtype=np.uint8)).save(lfw_dir / f"{stem}.jpg")
    return lfw_dir, pairs_path


def accumulate(folder):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    accumulator = EventAccumulator(str(folder), size_guidance={"tensors": 0})
    accumulator.Reload()
    return accumulator


def series(accumulator, tag):
    """[(step, value)] of a TF2 scalar or text tag, in the order written."""
    import tensorflow as tf

    return [(event.step, tf.make_ndarray(event.tensor_proto).item()) for event in accumulator.Tensors(tag)]


def hparams_plugin(logdir):
    """(experiment, session groups) as TensorBoard's HParams plugin computes them for `logdir`."""
    from tensorboard import context
    from tensorboard.backend.event_processing import data_provider, plugin_event_multiplexer
    from tensorboard.plugins import base_plugin
    from tensorboard.plugins.hparams import api_pb2, backend_context, get_experiment, list_session_groups

    multiplexer = plugin_event_multiplexer.EventMultiplexer()
    multiplexer.AddRunsFromDirectory(str(logdir))
    multiplexer.Reload()
    provider = data_provider.MultiplexerDataProvider(multiplexer, str(logdir))
    backend = backend_context.Context(base_plugin.TBContext(logdir=str(logdir), multiplexer=multiplexer,
                                                            data_provider=provider))
    experiment = get_experiment.Handler(context.RequestContext(), backend, "",
                                        api_pb2.GetExperimentRequest()).run()
    request = api_pb2.ListSessionGroupsRequest(
        allowed_statuses=[api_pb2.STATUS_UNKNOWN, api_pb2.STATUS_SUCCESS, api_pb2.STATUS_FAILURE,
                          api_pb2.STATUS_RUNNING], start_index=0, slice_size=100)
    groups = list_session_groups.Handler(context.RequestContext(), backend, "", request).run()
    return experiment, list(groups.session_groups)


def test_lfw_curve_ends_in_the_final_evaluation_and_hparams_hold_it(standin_train_dir, tmp_path):  # noqa: F811
    import eval_lfw
    from tensorboard.plugins.hparams import metadata as hparams_metadata
    from training.loop import run_training

    lfw_dir, pairs = tiny_lfw(tmp_path)
    run_dir = tmp_path / "runs" / "row" / "seed0"
    config = tiny_config(standin_train_dir, run_dir, **{
        "eval.lfw_every_steps": 10, "eval.lfw_dir": str(lfw_dir), "eval.pairs": str(pairs),
        "eval.folds": 2, "eval.batch_size": 16})
    done = run_training(config)
    check = done["lfw"]  # the last in-training check (step 20, first 2 folds)
    assert check["num_folds"] == 2

    # eval_lfw.py on the run dir, as experiments/run.py calls it (no --run-dir, no --step).
    result_json = tmp_path / "view2.json"
    assert eval_lfw.main(["--model", str(run_dir), "--lfw-dir", str(lfw_dir), "--pairs", str(pairs),
                          "--json", str(result_json), "--batch-size", "16", "--gallery-size", "0"]) == 0
    final = json.loads(result_json.read_text())
    assert final["num_folds"] == 3

    # One TensorBoard run holds the curve: checks at 10 and 20, then the final evaluation at 20.
    main = accumulate(run_dir / "tensorboard")
    accuracy = series(main, summaries.LFW_ACCURACY_TAG)
    assert [step for step, _ in accuracy] == [10, 20, 20]
    assert accuracy[1][1] == pytest.approx(check["accuracy_mean"])
    assert accuracy[2][1] == pytest.approx(final["accuracy_mean"])  # the curve ends in the reported number
    for key, tag in summaries.lfw_tags("lfw").items():
        values = series(main, tag)
        assert [step for step, _ in values] == [10, 20, 20], tag
        assert values[-1][1] == pytest.approx(final[key]), tag
    assert series(main, summaries.LFW_FOLDS_TAG) == [(10, 2), (20, 2), (20, 3)]
    protocols = [text.decode() for _, text in series(main, summaries.LFW_PROTOCOL_TAG)]
    assert protocols[0].startswith("train.py in-training check: first 2 folds (16 pairs) of pairs.txt")
    assert protocols[-1].startswith("eval_lfw.py: all 3 folds (24 pairs) of pairs.txt, flip concat")
    assert "first `eval.folds` folds" in main.SummaryMetadata(summaries.LFW_ACCURACY_TAG).summary_description
    assert series(main, "train/total_loss")  # the training curves are in the same run

    # The HParams session: a sub-run holding the session and its metrics only.
    session = accumulate(run_dir / "tensorboard" / "hparams")
    assert [step for step, _ in series(session, summaries.LFW_CHECK_TAG)] == [10, 20]
    for key, tag in summaries.lfw_tags("lfw_view2").items():
        assert series(session, tag) == [(20, pytest.approx(final[key]))], tag
    start = hparams_metadata.parse_session_start_info_plugin_data(
        session.SummaryMetadata(hparams_metadata.SESSION_START_INFO_TAG).plugin_data.content)
    assert start.group_name == str(run_dir.resolve())  # outside runs/: the path; inside: runs-relative
    assert set(HPARAM_KEYS) <= set(start.hparams)
    assert start.hparams["name"].string_value == config.name
    assert start.hparams["optimizer.name"].string_value == config.optimizer.name
    assert start.hparams["model.width"].number_value == pytest.approx(0.0625)
    assert start.hparams["loss.hparams.margin"].number_value == config.loss.hparams["margin"]
    assert start.hparams["eval.folds"].number_value == 2

    # What the HParams dashboard shows: exactly these metrics, with the final and check values.
    experiment, groups = hparams_plugin(tmp_path / "runs")
    assert sorted(info.name.tag for info in experiment.metric_infos) == sorted(summaries.HPARAMS_METRIC_TAGS)
    assert {info.name for info in experiment.hparam_infos} >= set(HPARAM_KEYS)
    assert len(groups) == 1 and len(groups[0].sessions) == 1
    metrics = {value.name.tag: (value.training_step, value.value) for value in groups[0].sessions[0].metric_values}
    assert metrics[summaries.VIEW2_ACCURACY_TAG] == (20, pytest.approx(final["accuracy_mean"]))
    assert metrics["lfw_view2/val_at_far1e-3"] == (20, pytest.approx(final["val_mean"]))
    assert metrics["lfw_view2/auc"] == (20, pytest.approx(final["auc"]))
    assert metrics[summaries.LFW_CHECK_TAG] == (20, pytest.approx(check["accuracy_mean"]))
    assert groups[0].hparams["seed"].number_value == 0


def test_eval_with_fewer_folds_adds_a_curve_point_but_no_view2_metrics(tmp_path):
    """--folds N is not View 2: the point lands on the lfw/ curve (lfw/folds says N), the HParams
    metrics are left alone; --no-tensorboard writes nothing."""
    import eval_lfw

    lfw_dir, pairs = tiny_lfw(tmp_path, folds=3, per_class=2)
    stems = parse_pairs(pairs).unique_stems()
    rng = np.random.default_rng(1)
    embeddings = tmp_path / "emb.npz"
    np.savez(embeddings, paths=np.array([s + ".jpg" for s in stems]),
             embeddings=rng.normal(size=(len(stems), 8)))
    run_dir = tmp_path / "run"
    common = ["--embeddings", str(embeddings), "--pairs", str(pairs), "--out-dir", str(tmp_path / "out"),
              "--gallery-size", "0"]
    assert eval_lfw.main(common + ["--folds", "2", "--run-dir", str(run_dir), "--step", "5"]) == 0
    main = accumulate(run_dir / "tensorboard")
    assert series(main, summaries.LFW_FOLDS_TAG) == [(5, 2)]
    assert [step for step, _ in series(main, summaries.LFW_ACCURACY_TAG)] == [5]
    assert not (run_dir / "tensorboard" / "hparams").exists()

    with pytest.raises(SystemExit):
        eval_lfw.main(common + ["--no-tensorboard", "--run-dir", str(run_dir)])
    with pytest.raises(ValueError, match="--step needs --run-dir"):
        eval_lfw.main(common + ["--step", "5"])
    with pytest.raises(ValueError, match="no step recorded"):
        eval_lfw.main(common + ["--run-dir", str(tmp_path / "not_a_run")])

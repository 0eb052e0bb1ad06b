"""TensorBoard logs of a tiny real run, read back with TensorBoard's own readers (EventAccumulator and
the HParams plugin's backend): the lfw/ curve of in-training checks ends in eval_lfw.py's final
evaluation at the run's last step, and the HParams session's metrics are the final evaluation and
the last check (tag scheme: training/summaries.py)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from common.paths import REPO_ROOT
from tests.helpers.synthetic_pairs import pairs_lines
from tests.helpers.train_support import tiny_config
from training import summaries
from verification.pairs import parse_pairs

HPARAM_KEYS = (
    "name",
    "seed",
    "model.name",
    "model.width",
    "model.bn_mode",
    "loss.name",
    "optimizer.name",
    "optimizer.weight_decay",
    "train.ema_decay",
    "train.precision",
    "eval.folds",
)


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
    backend = backend_context.Context(
        base_plugin.TBContext(logdir=str(logdir), multiplexer=multiplexer, data_provider=provider)
    )
    experiment = get_experiment.Handler(context.RequestContext(), backend, "", api_pb2.GetExperimentRequest()).run()
    request = api_pb2.ListSessionGroupsRequest(
        allowed_statuses=[
            api_pb2.STATUS_UNKNOWN,
            api_pb2.STATUS_SUCCESS,
            api_pb2.STATUS_FAILURE,
            api_pb2.STATUS_RUNNING,
        ],
        start_index=0,
        slice_size=100,
    )
    groups = list_session_groups.Handler(context.RequestContext(), backend, "", request).run()
    return experiment, list(groups.session_groups)


@pytest.mark.integration
def test_lfw_curve_ends_in_the_final_evaluation_and_hparams_hold_it(standin_train_dir, tmp_path):
    from tensorboard.plugins.hparams import metadata as hparams_metadata

    import eval_lfw
    from training.loop import run_training

    lfw_dir, pairs = tiny_lfw(tmp_path)
    run_dir = tmp_path / "runs" / "row" / "seed0"
    config = tiny_config(
        standin_train_dir,
        run_dir,
        **{
            "eval.lfw_every_steps": 10,
            "eval.lfw_dir": str(lfw_dir),
            "eval.pairs": str(pairs),
            "eval.folds": 2,
            "eval.batch_size": 16,
        },
    )
    done = run_training(config)
    check = done["lfw"]  # the last in-training check (step 20, first 2 folds)
    assert check["num_folds"] == 2

    # eval_lfw.py on the run dir, as experiments/run.py calls it (no --run-dir, no --step).
    result_json = tmp_path / "view2.json"
    # These pairs are not View 2: --benchmark lfw says they are this run's LFW.
    assert (
        eval_lfw.main(
            [
                "--model",
                str(run_dir),
                "--lfw-dir",
                str(lfw_dir),
                "--pairs",
                str(pairs),
                "--benchmark",
                "lfw",
                "--json",
                str(result_json),
                "--batch-size",
                "16",
                "--gallery-size",
                "0",
            ]
        )
        == 0
    )
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
        session.SummaryMetadata(hparams_metadata.SESSION_START_INFO_TAG).plugin_data.content
    )
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


def test_eval_with_fewer_folds_adds_a_curve_point_but_no_view2_metrics(tmp_path, capsys):
    """--folds N is not View 2: the point lands on the lfw/ curve (lfw/folds says N), the HParams
    metrics are left alone; --no-tensorboard writes nothing."""
    import eval_lfw

    lfw_dir, pairs = tiny_lfw(tmp_path, folds=3, per_class=2)
    stems = parse_pairs(pairs).unique_stems()
    rng = np.random.default_rng(1)
    embeddings = tmp_path / "emb.npz"
    np.savez(embeddings, paths=np.array([s + ".jpg" for s in stems]), embeddings=rng.normal(size=(len(stems), 8)))
    run_dir = tmp_path / "run"
    common = [
        "--embeddings",
        str(embeddings),
        "--pairs",
        str(pairs),
        "--out-dir",
        str(tmp_path / "out"),
        "--benchmark",
        "lfw",
        "--gallery-size",
        "0",
    ]
    assert eval_lfw.main(common + ["--folds", "2", "--run-dir", str(run_dir), "--step", "5"]) == 0
    main = accumulate(run_dir / "tensorboard")
    assert series(main, summaries.LFW_FOLDS_TAG) == [(5, 2)]
    assert [step for step, _ in series(main, summaries.LFW_ACCURACY_TAG)] == [5]
    assert not (run_dir / "tensorboard" / "hparams").exists()

    with pytest.raises(SystemExit):
        eval_lfw.main(common + ["--no-tensorboard", "--run-dir", str(run_dir)])
    capsys.readouterr()
    assert eval_lfw.main(common + ["--step", "5"]) == 2
    assert capsys.readouterr().err.startswith("eval_lfw.py: error: --step needs --run-dir")
    assert eval_lfw.main(common + ["--run-dir", str(tmp_path / "not_a_run")]) == 2
    assert "no step recorded" in capsys.readouterr().err


def old_style_run(run_dir, seed):
    """A finished run as train.py and experiments/run.py left it before the HParams sub-run: config,
    DONE.json with the last check, eval/lfw_view2.json, and a main TensorBoard run holding its
    checks and an HParams experiment and session of its own (metric lfw/accuracy only)."""
    import tensorflow as tf
    from tensorboard.plugins.hparams import api as hparams_api

    from training.config import load_config, save_config

    config = load_config(
        REPO_ROOT / "experiments/configs/cpu_sets.yaml", ["name=row_a", f"seed={seed}", f"run_dir={run_dir}"]
    )
    run_dir.mkdir(parents=True)
    save_config(config, run_dir / "config.yaml")
    check = {
        "accuracy_mean": 0.70 + seed / 100,
        "accuracy_std": 0.02,
        "val_mean": 0.05,
        "auc": 0.8,
        "num_folds": 4,
        "num_pairs": 2400,
    }
    (run_dir / "DONE.json").write_text(json.dumps({"status": "done", "steps": 720, "lfw": check}))
    final = {
        "accuracy_mean": 0.72 + seed / 100,
        "accuracy_std": 0.015,
        "val_mean": 0.03,
        "val_std": 0.01,
        "far_mean": 0.001,
        "far_target": 0.001,
        "auc": 0.79,
        "eer": 0.27,
        "num_pairs": 6000,
        "num_folds": 10,
        "similarity": "cosine",
        "subtract_mean": False,
        "fold_accuracies": [0.72] * 10,
        "model": f"seed{seed}",
        "pairs": "../shared/data/lfw_pairs.txt",
        "flip": "concat",
    }
    (run_dir / "eval").mkdir()
    (run_dir / "eval" / "lfw_view2.json").write_text(json.dumps(final))
    writer = tf.summary.create_file_writer(str(run_dir / "tensorboard"))
    with writer.as_default():
        hparams_api.hparams_config(hparams=[], metrics=[hparams_api.Metric("lfw/accuracy")])
        hparams_api.hparams({"optimizer": "adam"}, trial_id=config.name)
        for step in (240, 480, 720):
            tf.summary.scalar("lfw/accuracy", check["accuracy_mean"] - (720 - step) / 1e4, step=step)
    writer.close()
    # Dated an hour back, as a run trained before its backfill is: TensorBoard reads a folder's
    # event files in name order, and names from one process in one second differ only in a
    # counter that sorts as text ("12" before "5").
    (old_file,) = (run_dir / "tensorboard").glob("events.out.tfevents.*")
    stamp = old_file.name.split(".")[3]
    old_file.rename(old_file.with_name(old_file.name.replace(f".{stamp}.", f".{int(stamp) - 3600}.", 1)))
    return check, final


def test_backfill_gives_old_runs_the_hparams_session_of_today(tmp_path):
    """tools/backfill_hparams.py on two seeds of a row trained before the HParams sub-run: the
    dashboard (TensorBoard's own backend) then shows one row per seed with today's metrics, the
    old experiment summary is gone from the main run, the lfw/ curve keeps its checks and ends in
    View 2; a second backfill changes nothing that TensorBoard shows."""
    from tools import backfill_hparams

    root = tmp_path / "set"
    runs = {
        seed: (root / "row_a" / f"seed{seed}", *old_style_run(root / "row_a" / f"seed{seed}", seed)) for seed in (0, 1)
    }
    for _ in range(2):
        assert backfill_hparams.main([str(root)]) == 0
        experiment, groups = hparams_plugin(root)
        assert sorted(info.name.tag for info in experiment.metric_infos) == sorted(summaries.HPARAMS_METRIC_TAGS)
        assert {info.name for info in experiment.hparam_infos} >= set(HPARAM_KEYS)
        assert len(groups) == 2 and all(len(group.sessions) == 1 for group in groups)
        for group in groups:
            seed = int(group.hparams["seed"].number_value)
            run_dir, check, final = runs[seed]
            assert group.name == str(run_dir.resolve())
            assert group.hparams["name"].string_value == "row_a"
            metrics = {v.name.tag: (v.training_step, v.value) for v in group.sessions[0].metric_values}
            assert metrics[summaries.VIEW2_ACCURACY_TAG] == (720, pytest.approx(final["accuracy_mean"]))
            assert metrics["lfw_view2/val_at_far1e-3"] == (720, pytest.approx(final["val_mean"]))
            assert metrics[summaries.LFW_CHECK_TAG] == (720, pytest.approx(check["accuracy_mean"]))

    run_dir, _, final = runs[0]
    main = accumulate(run_dir / "tensorboard")
    assert not [tag for tag in main.Tags()["tensors"] if tag.startswith(summaries.HPARAMS_PLUGIN_PREFIX)]
    accuracy = series(main, summaries.LFW_ACCURACY_TAG)
    assert [step for step, _ in accuracy][:3] == [240, 480, 720] and accuracy[-1] == (
        720,
        pytest.approx(final["accuracy_mean"]),
    )
    protocol = series(main, summaries.LFW_PROTOCOL_TAG)[-1][1].decode()
    assert protocol.startswith("eval_lfw.py: all 10 folds (6000 pairs) of lfw_pairs.txt, flip concat")


def test_hparams_hold_backbone_options_and_the_flip_mode():
    from training.config import load_config

    config = load_config(
        str(REPO_ROOT / "experiments/configs/demo.yaml"),
        ["model.options={bn_decay: 0.99, bn_epsilon: 0.001}", "eval.flip=sum"],
    )
    values = summaries.hparams_of(config)
    assert values["model.options.bn_decay"] == 0.99
    assert values["model.options.bn_epsilon"] == 0.001
    assert values["eval.flip"] == "sum"
    assert not [key for key in values if key.startswith("model.options.") and "bn_" not in key]


@pytest.mark.integration
def test_two_targets_give_two_charts_two_jsons_and_hparams_metrics_for_both(standin_train_dir, tmp_path):
    """`eval.targets: [lfw, office=<pair list>]`: train.py checks both (each its own chart and
    check metric); eval_lfw.py's final evaluation of each ends its chart, writes its JSON into the
    run layout and its HParams metrics; the LFW chart holds LFW's numbers only."""
    import eval_lfw
    from common.run_layout import RunLayout
    from training.loop import run_training
    from verification.benchmarks import final_name

    lfw_dir, pairs = tiny_lfw(tmp_path)
    office = tmp_path / "office"
    rng = np.random.default_rng(3)
    lines = []
    for k in range(20):
        for name in (f"p{k}/a.jpg", f"p{k}/b.jpg"):
            (office / name).parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray(rng.integers(0, 256, (112, 96, 3), dtype=np.uint8)).save(office / name)
        lines.append(f"p{k}/a.jpg p{k}/b.jpg 1" if k % 2 == 0 else f"p{k}/a.jpg p{k - 1}/b.jpg 0")
    (office / "pairs_list.txt").write_text("\n".join(lines) + "\n")
    run_dir = tmp_path / "runs" / "two"
    config = tiny_config(
        standin_train_dir,
        run_dir,
        **{
            "eval.lfw_every_steps": 10,
            "eval.lfw_dir": str(lfw_dir),
            "eval.pairs": str(pairs),
            "eval.folds": 2,
            "eval.batch_size": 16,
            "train.max_steps": 30,
            "eval.targets": f"[lfw, office={office / 'pairs_list.txt'}]",
        },
    )
    done = run_training(config)
    assert sorted(done["checks"]) == ["lfw", "office"] and done["lfw"] == done["checks"]["lfw"]

    finals = {}
    for name, where in (
        ("lfw", ["--lfw-dir", str(lfw_dir), "--pairs", str(pairs), "--benchmark", "lfw"]),
        ("office", ["--benchmark", f"office={office / 'pairs_list.txt'}"]),
    ):
        json_path = RunLayout(run_dir).eval_json(final_name(name))
        assert (
            eval_lfw.main(
                ["--model", str(run_dir), *where, "--json", str(json_path), "--batch-size", "16", "--gallery-size", "0"]
            )
            == 0
        )
        finals[name] = json.loads(json_path.read_text())
    assert sorted(p.name for p in RunLayout(run_dir).eval.glob("*.json")) == ["lfw_view2.json", "office_final.json"]

    main = accumulate(run_dir / "tensorboard")
    session = accumulate(run_dir / "tensorboard" / "hparams")
    for name in ("lfw", "office"):
        accuracy = series(main, summaries.accuracy_tag(name))
        assert [step for step, _ in accuracy] == [10, 20, 30, 30], name
        assert accuracy[2][1] == pytest.approx(done["checks"][name]["accuracy_mean"])
        assert accuracy[3][1] == pytest.approx(finals[name]["accuracy_mean"])
        assert [step for step, _ in series(session, summaries.check_tag(name))] == [10, 20, 30]
        assert series(session, f"{final_name(name)}/auc") == [(30, pytest.approx(finals[name]["auc"]))]
    experiment, groups = hparams_plugin(tmp_path / "runs")
    assert sorted(info.name.tag for info in experiment.metric_infos) == sorted(
        summaries.metric_tags("lfw") + summaries.metric_tags("office")
    )

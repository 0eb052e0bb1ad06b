"""TensorBoard content: batch statistics of the step, verification results, hparams, images,
histograms.

The tag scheme (one TensorBoard run per training run; docs/design.md, "TensorBoard logs"). Every
verification benchmark (verification/benchmarks.py: `eval.targets`, eval_lfw.py `--benchmark`)
has the tags below with its own name for `lfw`: `cfp_fp/accuracy`, `cfp_fp_check/accuracy`, and
`cfp_fp_final/...` where LFW has `lfw_view2/...`, so one benchmark never writes into another's chart.

`<run dir>/tensorboard` (the TensorBoard run `<run>/tensorboard`)
    train/...                 training scalars (loss and its parts, batch accuracy, learning rate, ...)
    lfw/accuracy, lfw/accuracy_std, lfw/val_at_far1e-3, lfw/auc
                              the LFW curve: every in-training check (train.py, the first `eval.folds`
                              folds) and, at the run's last step, the final evaluation (eval_lfw.py on
                              the run dir, every fold: View 2), so one chart ends in the reported
                              number. TensorBoard keeps the newest value of a step, so the final
                              evaluation replaces the last check at that step.
    lfw/folds                 how many folds each point of the lfw/ curve used (e.g. 4 ... 4, then 10)
    lfw/protocol              text: program, folds, pairs file and flip behind each point
`<run dir>/tensorboard/hparams` (the HParams session of the run, a sub-run)
    session start info        `hparams_of(config)`; its group is the run dir, so every seed is a row
    lfw_check/accuracy        the in-training check (first `eval.folds` folds)   } the HParams
    lfw_view2/accuracy, lfw_view2/accuracy_std,                                  } metrics
    lfw_view2/val_at_far1e-3, lfw_view2/auc
                              the final evaluation over every fold of the pairs file (eval_lfw.py)

The session sits in a sub-run holding only its metrics because TensorBoard takes a session's
metrics from the scalars of its run and sub-runs: the HParams columns are exactly those five of each
benchmark (metric_tags), and
TensorBoard infers the hparams' types, domains and which ones differ between runs (shown first)
from all sessions, where an experiment summary written by each run would be one arbitrary run's.
"""

from __future__ import annotations

import os
from pathlib import Path

import tensorflow as tf
from tensorboard.compat.proto import event_pb2
from tensorboard.plugins.hparams import api as hparams_api

from common.paths import RUNS_DIR
from common.run_layout import RunLayout
from verification.benchmarks import LFW, LFW_FINAL, final_name

HPARAMS_SUBDIR = "hparams"  # below the run's tensorboard/ (common.run_layout)
HPARAMS_PLUGIN_PREFIX = "_hparams_/"  # the tags of the HParams plugin's own summaries


def lfw_tags(family: str, far_target: float = 1e-3) -> dict[str, str]:
    """{protocol summary key: tag} of one tag family (`lfw`, `lfw_view2`, `cfp_fp`, ...)."""
    far = "1e-3" if far_target == 1e-3 else f"{far_target:g}"
    return {
        "accuracy_mean": f"{family}/accuracy",
        "accuracy_std": f"{family}/accuracy_std",
        "val_mean": f"{family}/val_at_far{far}",
        "auc": f"{family}/auc",
    }


def accuracy_tag(name: str) -> str:
    return f"{name}/accuracy"


def folds_tag(name: str) -> str:
    return f"{name}/folds"


def protocol_tag(name: str) -> str:
    return f"{name}/protocol"


def check_tag(name: str) -> str:
    """The HParams metric of a benchmark's in-training check."""
    return f"{name}_check/accuracy"


LFW_ACCURACY_TAG = accuracy_tag(LFW)
LFW_FOLDS_TAG = folds_tag(LFW)
LFW_PROTOCOL_TAG = protocol_tag(LFW)
LFW_CHECK_TAG = check_tag(LFW)
VIEW2_ACCURACY_TAG = f"{LFW_FINAL}/accuracy"


def metric_tags(name: str) -> tuple[str, ...]:
    """A benchmark's HParams metrics (in the session's sub-run): its check and its final evaluation."""
    return (check_tag(name), *lfw_tags(final_name(name)).values())


HPARAMS_METRIC_TAGS = metric_tags(LFW)


def _description(family: str, name: str) -> str:
    """The TensorBoard description of a tag family of benchmark `name` (the curve, the check
    metric or the final metrics)."""
    if family == name:
        return (
            f"{name} verification, mean over folds. Points before the run's last step are train.py's "
            "in-training checks on the first `eval.folds` folds; at the last step, once eval_lfw.py "
            f"has evaluated the run dir, the final evaluation over every fold. {name}/folds and "
            f"the {name}/protocol text name the folds of each point."
        )
    if family == f"{name}_check":
        return f"train.py's in-training {name} check on the first `eval.folds` folds (HParams metric)."
    return (
        f"eval_lfw.py on the run dir: every fold of {name}"
        f"{' (View 2, the official pairs.txt)' if name == LFW else ''}, at the run's last step "
        "(HParams metric)."
    )


def batch_accuracy(logits: tf.Tensor, labels: tf.Tensor) -> tf.Tensor:
    """Fraction of the batch whose arg-max logit is the label."""
    predictions = tf.argmax(logits, axis=-1, output_type=tf.int32)
    return tf.reduce_mean(tf.cast(tf.equal(predictions, labels), tf.float32))


def mean_embedding_norm(embeddings: tf.Tensor) -> tf.Tensor:
    return tf.reduce_mean(tf.norm(embeddings, axis=-1))


def write_scalars(values: dict, step: int, prefix: str = "") -> None:
    """One scalar per entry (inside an active default writer)."""
    for name, value in values.items():
        tf.summary.scalar(prefix + name, float(value), step=step)


def write_images(images: tf.Tensor, step: int, max_images: int) -> None:
    """Input images as the network sees them before its own normalisation (0..255 -> 0..1)."""
    tf.summary.image(
        "input/images", tf.clip_by_value(images[:max_images] / 255.0, 0.0, 1.0), step=step, max_outputs=max_images
    )


def write_histograms(variables, step: int) -> None:
    for variable in variables:
        name = getattr(variable, "path", None) or variable.name
        tf.summary.histogram("weights/" + name.replace(":", "_"), variable, step=step)


def tensorboard_dir(run_dir: str | os.PathLike) -> Path:
    return RunLayout(Path(run_dir)).tensorboard


def hparams_dir(run_dir: str | os.PathLike) -> Path:
    return tensorboard_dir(run_dir) / HPARAMS_SUBDIR


_hparams_writers: dict[str, tf.summary.SummaryWriter] = {}


def _hparams_writer(run_dir) -> tf.summary.SummaryWriter:
    """One writer per run's HParams sub-run for this process (a file per writer)."""
    key = str(hparams_dir(run_dir).resolve())
    if key not in _hparams_writers:
        _hparams_writers[key] = tf.summary.create_file_writer(key)
    return _hparams_writers[key]


def _write_family(summary: dict, step: int, family: str, name: str) -> None:
    for key, tag in lfw_tags(family, summary.get("far_target", 1e-3)).items():
        tf.summary.scalar(tag, float(summary[key]), step=step, description=_description(family, name))


def _write_point(name: str, summary: dict, step: int, protocol: str) -> None:
    """One point of benchmark `name`'s curve (inside an active default writer)."""
    _write_family(summary, step, name, name)
    tf.summary.scalar(
        folds_tag(name),
        float(summary["num_folds"]),
        step=step,
        description=f"folds behind the {name}/ point of this step",
    )
    tf.summary.text(protocol_tag(name), protocol, step=step)


def check_protocol(result: dict, pairs: str, folds: int | None, flip: str) -> str:
    """The <name>/protocol text of an in-training check."""
    which = "all" if folds is None else "first"
    return (
        f"train.py in-training check: {which} {result['num_folds']} folds "
        f"({result['num_pairs']} pairs) of {Path(pairs).name}, flip {flip}"
    )


def _write_check_metric(run_dir, step: int, name: str, accuracy: float) -> None:
    writer = _hparams_writer(run_dir)
    with writer.as_default():
        tf.summary.scalar(check_tag(name), float(accuracy), step=step, description=_description(f"{name}_check", name))
    writer.flush()


def write_check(run_dir, step: int, name: str, result: dict, protocol: str) -> None:
    """An in-training check of benchmark `name`: a point of its curve (active default writer,
    the run's tensorboard dir) and its HParams metric <name>_check/accuracy (the HParams sub-run)."""
    _write_point(name, result, step, protocol)
    _write_check_metric(run_dir, step, name, result["accuracy_mean"])


def write_final(run_dir, step: int, name: str, summary: dict, protocol: str, all_folds: bool) -> list[Path]:
    """The final evaluation of a run on benchmark `name` (eval_lfw.py): the last point of its
    curve at `step` (the run's last step) and, when every fold was used, its final HParams
    metrics (lfw_view2/ for LFW, <name>_final/ otherwise). Returns the folders written."""
    written = [tensorboard_dir(run_dir)]
    writer = tf.summary.create_file_writer(str(written[0]))
    with writer.as_default():
        _write_point(name, summary, step, protocol)
    writer.close()
    if all_folds:
        written.append(hparams_dir(run_dir))
        writer = tf.summary.create_file_writer(str(written[1]))
        with writer.as_default():
            _write_family(summary, step, final_name(name), name)
        writer.close()
    return written


def run_label(run_dir) -> str:
    """The run dir relative to runs/ (e.g. cpu/optimizer_bn/adam_bn_switch/seed0), else its path."""
    path = Path(run_dir).resolve()
    try:
        return str(path.relative_to(RUNS_DIR.resolve()))
    except ValueError:
        return str(path)


def _hparam_value(value):
    """bool / int / float / str, as the HParams summary takes them."""
    if value is None:
        return "none"
    if isinstance(value, (bool, int, float, str)):
        return value
    return str(value)


def hparams_of(config) -> dict:
    """The run's comparable settings for the HParams dashboard, named by their config keys (what
    `--set` takes), backbone options and loss hyperparameters flattened (`model.options.bn_decay`,
    `loss.hparams.margin`); `name` is the config's run name (the row of an experiment set, the
    same for all its seeds) and `seed` the seed."""
    schedule = config.optimizer.schedule
    values = {
        "name": config.name,
        "seed": config.seed,
        "data.train_dirs": ", ".join(Path(path).name for path in config.data.train_dirs),
        "model.name": config.model.name,
        "model.width": config.model.width,
        "model.embedding_size": config.model.embedding_size,
        "model.bn_mode": config.model.bn_mode,
        "model.dropout_keep": config.model.dropout_keep,
        "loss.name": config.loss.name,
        "optimizer.name": config.optimizer.name,
        "optimizer.weight_decay": config.optimizer.weight_decay,
        "optimizer.schedule": schedule.file or ", ".join(f"{v:g}" for v in schedule.values),
        "train.batch_size": config.train.batch_size,
        "train.max_steps": config.train.max_steps,
        "train.ema_decay": config.train.ema_decay,
        "train.precision": config.train.precision,
        "eval.folds": "all" if config.eval.folds is None else config.eval.folds,
        "eval.flip": config.eval.flip,
        "eval.targets": ", ".join(config.eval.targets),
    }
    for prefix, options in (("model.options", config.model.options), ("loss.hparams", config.loss.hparams)):
        for key, value in sorted(options.items()):
            values[f"{prefix}.{key}"] = value
    return {key: _hparam_value(value) for key, value in values.items()}


def write_hparams(config, run_dir) -> None:
    """The run's HParams session (in its sub-run; the metrics there are metric_tags(name) of
    each benchmark evaluated)."""
    writer = _hparams_writer(run_dir)
    with writer.as_default():
        hparams_api.hparams(hparams_of(config), trial_id=run_label(run_dir))
    writer.flush()


def remove_main_run_hparams(run_dir) -> list[Path]:
    """Drop HParams summaries (`_hparams_/...`) from the event files of the run's main TensorBoard
    dir, where train.py wrote them before the sub-run existed: TensorBoard takes the first
    experiment summary it finds as the dashboard's only column list (there: lfw/accuracy alone),
    and that old session grouped every seed of a row into one. Everything else in the files is
    kept as it was. Returns the files rewritten (each written beside, then renamed over)."""
    rewritten = []
    for path in sorted(tensorboard_dir(run_dir).glob("events.out.tfevents.*")):
        events = [event_pb2.Event.FromString(record.numpy()) for record in tf.data.TFRecordDataset(str(path))]
        kept, dropped = [], False
        for event in events:
            values = [v for v in event.summary.value if not v.tag.startswith(HPARAMS_PLUGIN_PREFIX)]
            if len(values) == len(event.summary.value):
                kept.append(event)
                continue
            dropped = True
            if values:
                del event.summary.value[:]
                event.summary.value.extend(values)
                kept.append(event)
        if dropped:
            partial = path.with_name(path.name + ".partial")
            with tf.io.TFRecordWriter(str(partial)) as writer:
                for event in kept:
                    writer.write(event.SerializeToString())
            partial.replace(path)
            rewritten.append(path)
    return rewritten


def write_hparams_from_results(
    config, run_dir, step: int, last_check: dict | None, final: dict, protocol: str
) -> list[Path]:
    """The HParams session of a finished run from what it saved, without evaluating again: the
    session of `config`, lfw_check/accuracy of the last in-training check (DONE.json's `lfw`) and
    the final View 2 (`final`, eval_lfw.py's JSON, every fold) at `step`, the run's last step, which
    also ends its lfw/ curve. For runs trained before the HParams sub-run existed (their old HParams
    summaries are removed from the main run first); writing again keeps the newest values, as
    TensorBoard shows them. Returns the folders written."""
    remove_main_run_hparams(run_dir)
    write_hparams(config, run_dir)
    if last_check is not None:
        _write_check_metric(run_dir, step, LFW, last_check["accuracy_mean"])
    return write_final(run_dir, step, LFW, final, protocol, all_folds=True)

"""Checks of a config's pluggable parts that need their registries (and so TensorFlow), run
before a training run writes its run dir or scans its data.

training/config.py checks keys, types and choice lists without TensorFlow; what only the model
and loss registries, the schedule reader and the input route know is checked here, so that a
typo such as `loss.hparams.margn` stops the command in one line instead of leaving a run dir that
then refuses the corrected config.
"""

from __future__ import annotations

from pathlib import Path

from training.config import Config, ConfigError


def check_before_run(config: Config, repo_root, replicas: int = 1) -> None:
    """ConfigError naming the key when the model, loss, schedule, input route or batching cannot
    work, or when this CPU computes the model's convolution, dense or pooling layers wrong in
    bfloat16."""
    import losses
    from input_pipeline.train_data import check_batching, check_source
    from models.registry import check_options
    from training.schedules import build_schedule

    model = config.model
    _as_config_error("model", lambda: check_options(model.name, **config.model_kwargs()))
    # A head for two classes: the real class count needs the data scan, nothing else does, and
    # building it runs every check its constructor makes on the hyperparameter values.
    loss_layer = _as_config_error(
        "loss",
        lambda: losses.build(
            config.loss.name, num_classes=2, embedding_size=model.embedding_size, **config.loss.hparams
        ),
    )
    _as_config_error("optimizer.schedule", lambda: build_schedule(config.optimizer.schedule, repo_root))
    data = config.data
    _as_config_error("data", lambda: check_source(data.format, data.train_dirs, data.tfrecord_dir))
    check_data_folders(config, repo_root)
    pk = (config.data.pk_identities, config.data.pk_images) if loss_layer.needs_pk_batches else None
    _as_config_error(
        "data", lambda: check_batching(config.train.batch_size, pk, tfrecords=config.data.format == "tfrecord")
    )
    if config.train.precision == "bfloat16":
        check_bf16_on_cpu(config, max(config.train.batch_size // replicas, 1))


def check_data_folders(config: Config, repo_root) -> None:
    """ConfigError when a folder the run reads (data.train_dirs, or data.tfrecord_dir) is
    missing: before the run dir exists, so aligning afterwards and rerunning starts cleanly."""
    data = config.data
    folders = (
        [("data.train_dirs", path) for path in data.train_dirs]
        if data.format == "folders"
        else [("data.tfrecord_dir", data.tfrecord_dir)]
    )
    for key, folder in folders:
        path = Path(folder).expanduser()
        path = path if path.is_absolute() else Path(repo_root) / path
        if not path.is_dir():
            raise ConfigError(f"{key}: {path} not found (align or convert the data first)")


def check_bf16_on_cpu(config: Config, replica_batch: int) -> None:
    """Every convolution, dense and pooling shape of the model at the per-replica batch, bfloat16 against
    float32 (training.bf16_check); GPUs are not checked (no kernel of theirs was found wrong)."""
    import tensorflow as tf

    import models
    from training import bf16_check

    if tf.config.list_physical_devices("GPU"):
        return
    model = models.build(config.model.name, **config.model_kwargs())
    problem = bf16_check.verdict(bf16_check.check_model(model, replica_batch), config.model.name)
    if problem:
        raise ConfigError(f"train.precision: {problem}")


def _as_config_error(key: str, check):
    """`check()`'s result; its ValueError (a bad value) becomes a ConfigError naming `key`."""
    try:
        return check()
    except ValueError as error:
        raise ConfigError(f"{key}: {error}") from error

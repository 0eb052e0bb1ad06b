"""A config whose model, loss or batching cannot work stops before the run dir is written."""

from __future__ import annotations

import pytest

from tests.helpers.train_support import tiny_config
from training.config import ConfigError
from training.loop import run_training


@pytest.mark.parametrize(
    "override, message",
    [
        (
            {"loss.name": "am_softmax", "loss.hparams": "{margn: 0.35}"},
            r"^loss: loss 'am_softmax': unknown hyperparameter\(s\) margn; valid: .*margin",
        ),
        ({"model.name": "resface21"}, r"^model: unknown model 'resface21'; valid: .*resface20"),
        ({"model.dropout_keep": 1.5}, r"^model: dropout_keep must be in \(0, 1\]"),
        (
            {"model.options": "{bn_decai: 0.9}"},
            r"^model: unknown option\(s\) bn_decai for model 'resface20'; valid extra options: bn_decay, bn_epsilon$",
        ),
        ({"data.train_dirs": "[]"}, r"^data: data.train_dirs must name at least one folder$"),
        (
            {"data.train_dirs": "[cache/not_aligned_yet]"},
            r"^data.train_dirs: .*cache/not_aligned_yet not found \(align or convert the data first\)$",
        ),
        ({"data.format": "tfrecord"}, r"^data: data.tfrecord_dir is required when data.format is tfrecord$"),
        (
            {"loss.name": "triplet", "loss.hparams": "{}", "data.pk_identities": 3, "data.pk_images": 2},
            r"^data: train.batch_size 8 must equal data.pk_identities x data.pk_images = 6$",
        ),
    ],
)
def test_bad_pluggable_part_fails_in_one_line_and_writes_no_run_dir(standin_train_dir, tmp_path, override, message):
    run_dir = tmp_path / "run"
    config = tiny_config(standin_train_dir, run_dir, **override)
    with pytest.raises(ConfigError, match=message):
        run_training(config)
    assert not run_dir.exists()

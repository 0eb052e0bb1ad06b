"""The collapse rule (training/collapse.py) on hand-made loss logs, and the one warning it gives a run."""

import logging
import math

import numpy as np

from training.collapse import COLLAPSE_LOGS, CollapseWatch, at_logged_digits, frozen_since

# AM-softmax (s = 30, m = 0.35) over 1,119 classes with every cosine 0: target logit -10.5, the
# other 1,118 logits 0, as TensorBoard keeps it (6 digits).
FROZEN = round(math.log(1118 + math.exp(-10.5)) + 10.5, 4)
STEPS = list(range(10, 210, 10))  # 20 logs


def test_the_frozen_value_is_the_real_am_softmax_loss_when_every_cosine_is_zero():
    """All-zero embeddings (every cosine 0) through the real AM-softmax head over 1,119 classes
    give the loss the collapse logs hold: the hand-worked value above, whatever the labels."""
    import tensorflow as tf

    import losses

    head = losses.build("am_softmax", num_classes=1119, embedding_size=8)
    loss = float(head(tf.zeros([4, 8]), tf.constant([0, 5, 17, 1118]))["loss"])
    assert math.isclose(loss, FROZEN, abs_tol=5e-5)


def test_frozen_since_is_the_first_step_of_the_constant_tail():
    losses = np.r_[np.linspace(22.0, 18.7, 8), np.full(12, FROZEN)]
    assert frozen_since(STEPS, losses) == STEPS[8]
    assert frozen_since(STEPS[:18], losses[:18]) == STEPS[8]  # 10 frozen logs: enough
    assert frozen_since(STEPS[:17], losses[:17]) is None  # 9: not yet
    assert frozen_since(STEPS, np.full(20, FROZEN)) == STEPS[0]


def test_zero_nan_a_thawed_tail_and_7th_digit_wobble():
    assert frozen_since(STEPS, np.zeros(20)) is None  # solved batches
    assert frozen_since(STEPS, np.full(20, np.nan)) is None  # the divergence rule's case
    assert frozen_since(STEPS, np.r_[np.full(12, FROZEN), np.linspace(17.0, 12.0, 8)]) is None
    wobble = (-1.0) ** np.arange(20)
    assert frozen_since(STEPS, FROZEN * (1 + 2e-7 * wobble)) == STEPS[0]  # below the 6th digit
    assert frozen_since(STEPS, FROZEN * (1 + 2e-5 * wobble)) is None
    assert frozen_since([], []) is None


def test_a_run_and_its_six_digit_record_get_the_same_answer():
    """The last 12 logged losses of a collapsed SphereFace m = 4 run (set 2 at cpu_long, seed 2):
    float32 values within 1.5e-6 of each other (relative), which rounding to 6 digits (as the run record keeps
    them) splits between 7.0202 and 7.02021. Frozen both ways, from the same step."""
    raw = np.array(
        [7.0202003, 7.0202022, 7.0202065, 7.0202017, 7.0202079, 7.0202017,
         7.0202003, 7.0202036, 7.0201983, 7.0202031, 7.0201979, 7.0202026]
    )  # fmt: skip
    recorded = at_logged_digits(raw)
    assert set(recorded) == {7.0202, 7.02021}
    assert frozen_since(STEPS[:12], raw) == frozen_since(STEPS[:12], recorded) == STEPS[0]


def test_the_watch_warns_once_at_the_tenth_frozen_log(caplog):
    log = logging.getLogger("collapse-test")
    watch = CollapseWatch(log)
    losses = np.r_[np.linspace(22.0, 18.7, 5), np.full(15, FROZEN)]
    with caplog.at_level(logging.WARNING, logger="collapse-test"):
        for step, loss in zip(STEPS[: 5 + COLLAPSE_LOGS - 1], losses, strict=False):
            watch.add(step, float(loss))
        assert caplog.records == []
        watch.add(STEPS[5 + COLLAPSE_LOGS - 1], FROZEN)
        assert len(caplog.records) == 1
        message = caplog.records[0].getMessage()
        assert message.startswith(f"step {STEPS[14]}: the loss has been 17.5193 at every log since step {STEPS[5]}")
        assert "collapse" in message
        for step in STEPS[15:]:
            watch.add(step, FROZEN)
    assert len(caplog.records) == 1


def test_the_watch_stays_quiet_on_a_real_plateau(caplog):
    watch = CollapseWatch(logging.getLogger("collapse-test"))
    rng = np.random.default_rng(0)
    with caplog.at_level(logging.WARNING, logger="collapse-test"):
        for step, loss in zip(STEPS, 19.0 + 0.01 * rng.standard_normal(20), strict=True):
            watch.add(step, float(loss))
    assert caplog.records == []

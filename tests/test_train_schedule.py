"""Schedule files in the article's `epoch: lr` format, piecewise steps and warm-up."""

from __future__ import annotations

import pytest

from common.paths import REPO_ROOT
from training.schedules import PiecewiseWithWarmup, ScheduleError, from_epoch_file, parse_schedule_file


def lr_at(schedule, step) -> float:
    return float(schedule(step))


def test_parse_comments_and_blank_lines(tmp_path):
    path = tmp_path / "s.txt"
    path.write_text("# learning rate schedule\n0: 0.1  # start\n\n16: 0.01\n24:0.001\n1000: 0.0001\n")
    assert parse_schedule_file(path) == [(0, 0.1), (16, 0.01), (24, 0.001), (1000, 0.0001)]


def test_article_schedule_file_steps():
    """The article's file: 0.1 until epoch 16, 0.01 until 24, 0.001 until 28, then 0.0001 for good."""
    schedule = from_epoch_file(REPO_ROOT / "experiments/schedules/papers_am.txt", steps_per_epoch=1000)
    expected = {
        0: 0.1,
        15_999: 0.1,
        16_000: 0.01,
        23_999: 0.01,
        24_000: 0.001,
        28_000: 0.0001,
        29_999: 0.0001,
        10_000_000: 0.0001,
    }
    for step, lr in expected.items():
        assert lr_at(schedule, step) == pytest.approx(lr), step


def test_last_line_sentinel_holds_until_the_end(tmp_path):
    path = tmp_path / "s.txt"
    path.write_text("0: 0.05\n3: 0.005\n")
    schedule = from_epoch_file(path, steps_per_epoch=10)
    assert [round(lr_at(schedule, s), 6) for s in (0, 29, 30, 31, 10**6)] == [0.05, 0.05, 0.005, 0.005, 0.005]


def test_linear_warmup():
    schedule = PiecewiseWithWarmup([100], [0.1, 0.01], warmup_steps=10)
    # (step + 1) / warmup of the scheduled rate, then the plain schedule.
    assert lr_at(schedule, 0) == pytest.approx(0.01)
    assert lr_at(schedule, 4) == pytest.approx(0.05)
    assert lr_at(schedule, 9) == pytest.approx(0.1)
    assert lr_at(schedule, 50) == pytest.approx(0.1)
    assert lr_at(schedule, 100) == pytest.approx(0.01)


@pytest.mark.parametrize(
    "text, message",
    [
        ("0: 0.1\nsixteen: 0.01\n", ":2: expected 'epoch: lr'"),
        ("0: 0.1\n5: 0.01\n5: 0.001\n", ":3: epochs must increase"),
        ("2: 0.1\n", ":1: the first line must be epoch 0"),
        ("# only a comment\n", "no 'epoch: lr' lines"),
    ],
)
def test_bad_files_name_the_line(tmp_path, text, message):
    path = tmp_path / "bad.txt"
    path.write_text(text)
    with pytest.raises(ScheduleError, match=message):
        from_epoch_file(path, steps_per_epoch=10)


def test_piecewise_needs_one_more_value_than_boundaries():
    with pytest.raises(ScheduleError):
        PiecewiseWithWarmup([10, 20], [0.1, 0.01])

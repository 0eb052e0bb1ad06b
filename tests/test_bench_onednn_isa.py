"""benchmarks/bench_onednn_isa.py reads the speeds its child bench_train.py processes print."""

from __future__ import annotations

import pytest

from benchmarks.bench_onednn_isa import BenchTrainError, bare_step_speed
from benchmarks.bench_train import report_variant


def test_the_bare_step_speed_is_read_from_bench_trains_own_report(capsys):
    speeds = {("bfloat16", False, "bare"): 123.44, ("float32", False, "bare"): 56.7}
    print("model 0.25x resface20, batch 64, XLA off, 2 CPUs, native bf16: True, 1 rounds x 2 steps, medians")
    for precision in ("float32", "bfloat16"):
        report_variant(speeds, precision, xla=False, bare_only=True)
    out = capsys.readouterr().out
    assert bare_step_speed(out, "bfloat16") == 123.4  # printed with one decimal
    assert bare_step_speed(out, "float32") == 56.7


def test_a_precision_bench_train_left_out_is_named_with_its_last_lines():
    out = (
        "bfloat16 convolution, dense and pooling check (ONEDNN_MAX_CPU_ISA not set): 2 of 30 shapes wrong\n"
        "        float32 bare compiled step (one in-memory batch):    56.7 img/s\n"
    )
    with pytest.raises(
        BenchTrainError,
        match=r"printed no bfloat16 bare step .*2 of 30 shapes wrong \| "
        r"\s*float32 bare compiled step",
    ):
        bare_step_speed(out, "bfloat16")

"""experiments/target_logit_curve.py: the CSV holds the closed-form target logits."""

import csv
import math

import pytest

from experiments import target_logit_curve


@pytest.fixture(scope="module")
def table(tmp_path_factory):
    out_dir = tmp_path_factory.mktemp("curve")
    target_logit_curve.main(["--out-dir", str(out_dir)])
    assert (out_dir / "target_logit.png").stat().st_size > 0
    with open(out_dir / "target_logit.csv") as f:
        rows = list(csv.DictReader(f))
    return {float(row["theta_deg"]): {k: float(v) for k, v in row.items()} for row in rows}


def test_grid_and_columns(table):
    assert sorted(table) == [float(t) for t in range(181)]
    assert list(table[0.0]) == [
        "theta_deg",
        "softmax_normface",
        "sphereface_m4_lambda5",
        "sphereface_m4",
        "am_softmax_m0.35",
        "arcface_m0.5",
        "combined_1.0_0.3_0.2",
    ]


@pytest.mark.parametrize(
    "theta, column, expected",
    [
        (60, "softmax_normface", 0.5),
        (60, "am_softmax_m0.35", 0.5 - 0.35),
        (60, "arcface_m0.5", math.cos(math.pi / 3 + 0.5)),
        # theta = 170 > 180 - 28.6 degrees: the linear continuation cos - m sin m.
        (170, "arcface_m0.5", math.cos(math.radians(170)) - 0.5 * math.sin(0.5)),
        # theta = 60 lies in [45, 90): k = 1, psi = -cos(240 deg) - 2 = -1.5.
        (60, "sphereface_m4", -1.5),
        (60, "sphereface_m4_lambda5", (5 * 0.5 - 1.5) / 6),
        (180, "sphereface_m4", -7.0),
        (0, "combined_1.0_0.3_0.2", math.cos(0.3) - 0.2),
        (90, "combined_1.0_0.3_0.2", math.cos(math.pi / 2 + 0.3) - 0.2),
    ],
)
def test_values_match_closed_form(table, theta, column, expected):
    assert table[float(theta)][column] == pytest.approx(expected, abs=2e-6)

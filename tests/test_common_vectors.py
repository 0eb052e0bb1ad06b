"""common/vectors.py: rows to unit length, against hand-worked rows."""

from __future__ import annotations

import numpy as np

from common.vectors import l2_normalize


def test_rows_become_unit_length_along_their_own_direction():
    rows = np.array([[3.0, 4.0], [0.0, -2.0], [1e-3, 1e-3]])
    np.testing.assert_allclose(l2_normalize(rows), [[0.6, 0.8], [0.0, -1.0], [2**-0.5, 2**-0.5]])


def test_an_all_zero_row_stays_zero_not_nan():
    out = l2_normalize(np.array([[0.0, 0.0, 0.0], [2.0, 0.0, 0.0]], np.float32))
    np.testing.assert_array_equal(out, [[0, 0, 0], [1, 0, 0]])
    assert out.dtype == np.float32

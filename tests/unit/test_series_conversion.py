"""Turning answers into series and adding split series up: every finite point, summed where several
series share an instant (or the largest, for a maximum), whatever the order and overlap of the series."""

from __future__ import annotations

import math

from hypothesis import given
from hypothesis import strategies as st

from behaviour_profiles.telemetry import MatrixSeries, _add, _matrix_to_series

STAMPS = st.sampled_from([0.0, 15.0, 30.0, 45.0, 60.0])
VALUES = st.one_of(
    st.floats(min_value=-1e6, max_value=1e6, allow_nan=False), st.sampled_from([math.nan, math.inf, -math.inf])
)
SERIES = st.dictionaries(STAMPS, VALUES, max_size=5)


def _reference_sum(series_list: list[dict[float, float]]) -> dict[float, float]:
    out: dict[float, float] = {}
    for series in series_list:
        for ts, value in series.items():
            if math.isfinite(value):
                out[ts] = out.get(ts, 0.0) + value
    return out


@given(st.lists(SERIES, max_size=4))
def test_a_matrix_becomes_the_sum_of_its_finite_points(series_list: list[dict[float, float]]) -> None:
    matrix = [MatrixSeries({"i": str(i)}, sorted(s.items())) for i, s in enumerate(series_list)]
    assert _matrix_to_series(matrix) == _reference_sum(series_list)


@given(st.lists(st.dictionaries(STAMPS, st.floats(-1e6, 1e6, allow_nan=False), max_size=5), max_size=4))
def test_split_series_add_up_or_keep_the_largest(series_list: list[dict[float, float]]) -> None:
    before = [dict(s) for s in series_list]
    summed: dict[float, float] = {}
    largest: dict[float, float] = {}
    for series in series_list:
        _add(summed, series, "sum")
        _add(largest, series, "max")
    assert summed == _reference_sum(series_list)
    stamps = {ts for s in series_list for ts in s}
    assert largest == {ts: max(s[ts] for s in series_list if ts in s) for ts in stamps}
    assert series_list == before  # the added series are left as they were

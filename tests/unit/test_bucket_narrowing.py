"""Reading only the buckets a histogram's percentiles read (pure): the same numbers as every bucket.

:class:`~behaviour_profiles.telemetry.BucketNarrowing` is driven here as the collector drives it, with the
"reads" answered from a histogram held in memory: every bucket at a few instants first, then only the
``le`` values it asks for. The metric, its top contributors and their values must then be those of the
whole histogram, whatever the histogram.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from behaviour_profiles.catalogue import BY_KEY, BucketRates, Dialect, MetricSpec, Quantile, SeriesQuery
from behaviour_profiles.telemetry import (
    NARROW_MIN_BUCKETS,
    PROBE_POINTS,
    BucketNarrowing,
    PrometheusClient,
    QueryPlan,
    Scope,
    TelemetryCollector,
    compute_metric,
    contributors,
    plan_window,
    probe_plans,
    render,
    split_part,
)

P95 = BY_KEY["workflow_schedule_to_start_p95"]
P99 = BY_KEY["workflow_schedule_to_start_p99"]
assert isinstance(P95.computation, Quantile) and isinstance(P99.computation, Quantile)
SPLIT: BucketRates = P95.computation.buckets
DISPATCH = BY_KEY["task_dispatch_latency"]
assert isinstance(DISPATCH.computation, Quantile)
UNSPLIT: BucketRates = DISPATCH.computation.buckets
BOUNDS = (1.0, 2.0, 5.0, 10.0, 25.0, 50.0, 100.0, 250.0, 500.0, 1000.0, 2500.0, 5000.0, 10000.0, math.inf)
LE = {bound: ("+Inf" if math.isinf(bound) else f"{bound:g}") for bound in BOUNDS}


def histogram(parts: list[list[list[float]]], bounds: tuple[float, ...] = BOUNDS) -> dict[Any, Any]:
    """A split histogram's answer as the collector parses it: each part's per-instant counts per bucket
    (``parts[p][t][b]``, not cumulative) made cumulative, keyed by (namespace, task queue)."""
    out: dict[Any, Any] = {}
    for p, instants in enumerate(parts):
        by_le: dict[float, dict[float, float]] = {bound: {} for bound in bounds}
        for t, counts in enumerate(instants):
            running = 0.0
            for bound, count in zip(bounds, counts, strict=True):
                running += count
                by_le[bound][1000.0 + 15.0 * t] = running
        out[(f"ns{p % 2}", f"q{p}")] = by_le
    return out


def only(fetched: dict[Any, Any], bounds: set[float], instants: set[float] | None = None) -> dict[Any, Any]:
    """The answer to a read of only ``bounds`` (and ``instants``, for a look at a few)."""
    return {
        key: {
            b: {ts: v for ts, v in series.items() if instants is None or ts in instants}
            for b, series in by_le.items()
            if b in bounds
        }
        for key, by_le in fetched.items()
    }


def narrowed_read(fetched: dict[Any, Any], query: BucketRates, qs: list[float]) -> tuple[dict[Any, Any], int]:
    """The answer the collector ends with, reading ``fetched`` (parts, as :func:`histogram` makes them) as
    the narrowing asks, as ``query`` would be answered (its parts added up when it is not split); and how
    many bounds it read."""

    def shaped(parts: dict[Any, Any]) -> dict[Any, Any]:
        return parts if query.split else unsplit(parts)

    narrowing = BucketNarrowing(query, qs, [*LE.values(), "not-a-number"])
    assert narrowing.worth_it
    stamps = sorted({ts for by_le in fetched.values() for series in by_le.values() for ts in series})
    probe = set(stamps[:: max(1, (len(stamps) - 1) // (PROBE_POINTS - 1))])
    read: set[float] = set()
    wanted = narrowing.first(shaped(only(fetched, set(BOUNDS), probe)))
    answer = shaped(only(fetched, set()))
    while wanted:
        asked = {float(text) for text in wanted}
        assert not asked & read, "a bound is never asked twice"
        read |= asked
        answer = shaped(only(fetched, read))
        wanted = narrowing.more(answer)
    return answer, len(read)


def unsplit(fetched: dict[Any, Any]) -> dict[float, dict[float, float]]:
    """The parts added up, as an unsplit histogram's answer."""
    out: dict[float, dict[float, float]] = {}
    for by_le in fetched.values():
        for b, series in by_le.items():
            into = out.setdefault(b, {})
            for ts, v in series.items():
                into[ts] = into.get(ts, 0.0) + v
    return out


def metric(spec: MetricSpec, fetched: dict[Any, Any]) -> list[tuple[float, float]]:
    """A split histogram's metric, as the collector computes it: on its parts added up."""
    assert isinstance(spec.computation, Quantile)
    query = spec.computation.buckets
    return compute_metric(spec, {query: split_part(query, fetched)}, Dialect.TALLY)


counts = st.floats(min_value=0.0, max_value=50.0, allow_nan=False).map(lambda v: round(v, 1))


@st.composite
def histograms(draw: st.DrawFn) -> list[list[list[float]]]:
    """1 to 7 parts over 3 to 40 instants; each part's counts wander from instant to instant, sometimes
    jumping to another shape (a latency that moves across the histogram), sometimes empty."""
    parts = draw(st.integers(min_value=1, max_value=7))
    instants = draw(st.integers(min_value=3, max_value=40))
    out = []
    for _ in range(parts):
        shape = draw(st.lists(counts, min_size=len(BOUNDS), max_size=len(BOUNDS)))
        rows = []
        for _ in range(instants):
            if draw(st.integers(min_value=0, max_value=9)) == 0:
                shape = draw(st.lists(counts, min_size=len(BOUNDS), max_size=len(BOUNDS)))
            rows.append(shape)
        out.append(rows)
    return out


@settings(max_examples=150, deadline=None)
@given(histograms())
def test_a_narrowed_read_gives_every_bucket_s_percentiles_and_contributors(parts: list[list[list[float]]]) -> None:
    fetched = histogram(parts)
    answer, _ = narrowed_read(fetched, SPLIT, [0.95, 0.99])
    whole: dict[SeriesQuery, Any] = {SPLIT: fetched}
    narrow: dict[SeriesQuery, Any] = {SPLIT: answer}
    for spec in (P95, P99):
        assert metric(spec, answer) == metric(spec, fetched)
        assert contributors(spec, narrow, Dialect.TALLY) == contributors(spec, whole, Dialect.TALLY)


@settings(max_examples=100, deadline=None)
@given(histograms())
def test_an_unsplit_histogram_narrows_to_its_own_percentile(parts: list[list[list[float]]]) -> None:
    fetched = histogram(parts)
    answer, _ = narrowed_read(fetched, UNSPLIT, [0.95])
    assert compute_metric(DISPATCH, {UNSPLIT: answer}, Dialect.TALLY) == compute_metric(
        DISPATCH, {UNSPLIT: unsplit(fetched)}, Dialect.TALLY
    )


def test_a_steady_latency_reads_a_few_of_its_buckets() -> None:
    # most observations between 10 and 25 ms, a tail to 250 ms: p95 and p99 in two buckets
    shape = [0.0, 0.0, 1.0, 20.0, 60.0, 10.0, 4.0, 4.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0]
    fetched = histogram([[shape] * 100, [[v * 0.5 for v in shape]] * 100])
    answer, read = narrowed_read(fetched, SPLIT, [0.95, 0.99])
    assert read <= 5 < len(BOUNDS)
    assert math.inf in {b for by_le in answer.values() for b in by_le}
    for spec in (P95, P99):
        assert metric(spec, answer) == metric(spec, fetched)


def test_a_latency_that_moves_after_the_look_is_read_where_it_went() -> None:
    fast = [50.0, 40.0, 5.0, 5.0] + [0.0] * 10
    slow = [0.0] * 9 + [10.0, 60.0, 20.0, 10.0, 0.0]
    rows = [fast] * 30 + [slow] + [fast] * 30  # one slow instant between the look's instants
    fetched = histogram([rows])
    answer, read = narrowed_read(fetched, SPLIT, [0.95])
    assert metric(P95, answer) == metric(P95, fetched)
    assert read < len(BOUNDS)


def test_few_bounds_or_none_infinite_are_read_whole() -> None:
    assert not BucketNarrowing(SPLIT, [0.95], ["1", "2", "+Inf"]).worth_it
    assert not BucketNarrowing(SPLIT, [0.95], [str(b) for b in range(1, 20)]).worth_it  # no +Inf
    assert BucketNarrowing(SPLIT, [0.95], [*map(str, range(1, NARROW_MIN_BUCKETS)), "+Inf"]).worth_it


def test_the_matcher_names_each_bound_as_exported_and_matches_it_alone() -> None:
    narrowing = BucketNarrowing(SPLIT, [0.95], ["0.005", "1e+06", "+Inf", "1", "1.0", *map(str, range(2, 9))])
    first = narrowing.first({})
    assert first == ["+Inf"]  # nothing observed at the look: the total first
    matcher = narrowing.matcher(["0.005", "1e+06", "+Inf"])
    assert matcher == 'le=~"0[.]005|1e[+]06|[+]Inf"'
    pattern = re.compile(matcher.removeprefix('le=~"').removesuffix('"'))
    assert all(pattern.fullmatch(text) for text in ("0.005", "1e+06", "+Inf"))
    assert not any(pattern.fullmatch(text) for text in ("0x005", "1e006", "Inf", "0.0051"))
    # only a total read: every other bound is wanted, both spellings of one bound together, none twice
    wanted = narrowing.more({("ns", "q"): {math.inf: {1.0: 10.0}}})
    assert sorted(wanted) == sorted(["0.005", "1", "1.0", *map(str, range(2, 9)), "1e+06"])
    assert narrowing.more({("ns", "q"): {math.inf: {1.0: 10.0}}}) == []


def test_the_look_reads_a_few_instants_of_the_plan_s_own_grid_one_point_each() -> None:
    plan = QueryPlan(start=0.0, end=86_400.0, step=288, rate_window=303)
    looks = probe_plans(plan)
    assert PROBE_POINTS <= len(looks) <= PROBE_POINTS + 1
    assert looks[0].start == plan.start and {look.rate_window for look in looks} == {plan.rate_window}
    for look in looks:
        assert look.grid() == [look.start] and look.start in plan.grid()
    short = QueryPlan(start=0.0, end=60.0, step=15, rate_window=60)
    assert [look.start for look in probe_plans(short)] == short.grid()


def test_a_narrowed_histogram_query_reads_only_the_bounds_it_is_given() -> None:
    scope = Scope("c1", "default", "main-queue")
    whole = render(UNSPLIT, Dialect.TALLY, scope, 60)
    narrowed = render(UNSPLIT, Dialect.TALLY, scope, 60, 'le=~"5|[+]Inf"')
    assert narrowed == whole.replace('"}[60s]', '",le=~"5|[+]Inf"}[60s]')


@pytest.mark.parametrize(
    ("hours", "mode", "narrowed"),
    [
        (24, None, True),  # steps of 288 s: where it pays, the default reads bucket by bucket
        (6, None, True),  # 72 s: 4.8 scrape intervals
        (1, None, False),  # 15 s steps, one sample of each bucket series per step: read whole
        (1, True, True),  # told to
        (24, False, False),  # told not to
        (0.1, True, False),  # 21 points: too few, even told to
    ],
)
async def test_which_windows_read_their_histograms_bucket_by_bucket(
    hours: float, mode: bool | None, narrowed: bool
) -> None:
    end = datetime(2026, 1, 1, tzinfo=UTC)
    async with httpx.AsyncClient() as http:
        collector = TelemetryCollector(PrometheusClient(http, "http://prometheus.invalid"), narrow_buckets=mode)
    plan = plan_window(end - timedelta(hours=hours), end, 15)
    asks = collector.queries(Dialect.TALLY, Scope("c", None, None), plan)
    histograms = [ask for query, ask in asks.items() if isinstance(query, BucketRates)]
    assert len(histograms) >= 5
    assert all((ask.narrowed is not None) is narrowed for ask in histograms)
    assert all(ask.narrowed is None for query, ask in asks.items() if not isinstance(query, BucketRates))

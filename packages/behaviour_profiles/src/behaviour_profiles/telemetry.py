"""Telemetry collection from a Prometheus-compatible HTTP API (Prometheus, Mimir, Amazon Managed Prometheus).

The collector turns the catalogue into as few PromQL range queries as it can (a histogram family is
fetched once for all its percentiles, a ratio's numerator and denominator are shared between the
metrics that use them), runs them concurrently over one keep-alive ``httpx.AsyncClient`` with a bounded
number in flight (by default as many as the server's cores), histograms first, and summarises each metric
locally. Where the recorded series of
the catalogue's recording rules (:func:`recording_rules`) cover the window, a query reads them instead
of the raw series, with the same numbers; the others fall back to raw series, each on its own. Only this
module speaks HTTP to Prometheus; it translates httpx and Prometheus errors into
:mod:`behaviour_profiles.errors`.
"""

from __future__ import annotations

import asyncio
import gc
import hashlib
import json
import math
import random
import re
import time
from bisect import bisect_left, bisect_right
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime
from functools import cache
from itertools import accumulate, chain, repeat
from operator import add
from typing import Any

import httpx
import msgspec
import yaml

from behaviour_profiles.attribution import (
    Candidate,
    can_rank,
    held_largest,
    hung_attempts_of,
    tail_above_in_order,
    threshold_bucket,
    top_contributors,
    worse_part_of,
)
from behaviour_profiles.breakdown import names_queues, with_unnamed_queues
from behaviour_profiles.catalogue import (
    ACTIVITY_FAILURES,
    ANSWERED_ONLY,
    CATALOGUE,
    CPU_EXPLANATION,
    CPU_OFF,
    CPU_PLATFORMS,
    RULE_TIERS,
    WAITING_METRIC,
    BucketRates,
    CpuPlatform,
    Dialect,
    Direct,
    GaugeAgg,
    MetricSpec,
    Quantile,
    RateSum,
    Ratio,
    RuleTier,
    RuleView,
    SeriesQuery,
    Source,
    Term,
    Unavailable,
    exported_value,
    fetched_labels,
    grouped_labels,
    level_labels,
    record_slugs,
    recorded_name,
    rule_tiers,
    rule_views,
    scope_dimensions,
    scope_label,
    scoped_sources,
    series_queries,
    terms_of,
    version_from_tally,
    view_labels,
    with_cpu_platform,
)
from behaviour_profiles.errors import DependencyError, DependencyFailed, DependencyTimeout
from behaviour_profiles.formatting import format_span, format_value
from behaviour_profiles.models import (
    NO_SAMPLES,
    Contributors,
    Coverage,
    MetricStatus,
    MetricSummary,
    RecordedMetric,
    RecordedState,
    RecordingRulesStatus,
    ScopeMatch,
    ShareOf,
    TelemetrySummary,
)
from behaviour_profiles.scope import Scope as Scope  # re-exported: the collector's callers name it from here
from behaviour_profiles.stats import MIN_SAMPLES, finite_values, series_stats

PROMETHEUS = "Prometheus"
TARGET_POINTS = 300
MAX_POINTS_PER_SERIES = 11_000
MAX_STORED_POINTS = 400

Series = dict[float, float]
"""timestamp (unix seconds) -> value"""
Grouped = dict[tuple[str, ...], Series]
"""the values of a ``GaugeAgg.by`` query's labels -> that group's series"""
SplitBuckets = dict[tuple[str, ...], dict[float, Series]]
"""a split histogram: the values of its split labels -> that series' buckets (``le`` -> series)"""


# --- planning ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class QueryPlan:
    """The evaluation grid of one collection: ``[start, end]`` every ``step`` seconds."""

    start: float
    end: float
    step: int
    rate_window: int

    def grid(self) -> list[float]:
        count = int((self.end - self.start) // self.step) + 1
        return [self.start + i * self.step for i in range(count)]


def short_window_note(plan: QueryPlan) -> str | None:
    """A profile's note when its window gives each metric fewer points than a comparison needs to test a
    change (:data:`~behaviour_profiles.stats.MIN_SAMPLES`), or None."""
    points = len(plan.grid())
    if points >= MIN_SAMPLES:
        return None
    enough = timedelta(seconds=plan.rate_window + (MIN_SAMPLES - 1) * plan.step)
    return (
        f"Short window: {points} point{'s' if points != 1 else ''} per metric (one every {plan.step} s, the first "
        f"once a rate window has passed), where a comparison needs {MIN_SAMPLES} on each side to test a change: "
        "changes of this profile are judged on their thresholds alone, and not counted under a metric's warning "
        f"level. A window of at least {format_span(enough)} gives {MIN_SAMPLES}."
    )


def plan_window(
    start: datetime, end: datetime, scrape_interval_s: int, target_points: int = TARGET_POINTS
) -> QueryPlan:
    """Pick a step of about ``target_points`` points, never under the scrape interval and never
    over Prometheus's 11,000 points per series; rates look back ``max(step + 1 scrape, 4 scrapes)``.

    A rate reads the increments between the samples inside its window. A window of exactly one step
    would leave out, at every step, the increment between the last sample of one window and the first
    of the next (a 24 h profile would not read one increment in 19, a 6 h one one in 5); a scrape
    interval more makes consecutive windows share that sample, so every increment is read."""
    t0, t1 = start.timestamp(), end.timestamp()
    span = t1 - t0
    step = max(scrape_interval_s, math.ceil(span / target_points))
    step = max(step, math.ceil(span / (MAX_POINTS_PER_SERIES - 1)))
    rate_window = max(step + scrape_interval_s, 4 * scrape_interval_s)
    # The first point's rate window must lie inside the profile window.
    first = t0 + min(rate_window, span / 2)
    return QueryPlan(start=first, end=t1, step=int(step), rate_window=int(rate_window))


# --- PromQL rendering --------------------------------------------------------------------------


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def label_matchers(term: Term, dialect: Dialect, scope: Scope) -> str:
    """The label matchers of the term's selector, its scope values written as its source exports them
    (tally rewrites the server's), matched literally: the scope is never widened to a pattern."""
    own = [f'{label}{op}"{_escape(value)}"' for label, op, value in term.matchers]
    return ",".join((*own, *_scope_matchers(term, dialect, scope)))


def selector(term: Term, dialect: Dialect, scope: Scope, extra: str = "") -> str:
    """The term's selector (:func:`label_matchers`), with ``extra`` matchers."""
    matchers = ",".join(m for m in (label_matchers(term, dialect, scope), extra) if m)
    return f"{term.name.for_dialect(dialect)}{{{matchers}}}"


TERM_LABEL = "bp_term"
"""The label that keeps a query's terms apart where they are read together: in a raw union, in a shared
counters query (:func:`share_counters`) and in the recorded series of a query with several terms."""


def _aggregated(agg: str, labels: Sequence[str], expression: str) -> str:
    return f"{agg} by ({', '.join(labels)}) ({expression})" if labels else f"{agg}({expression})"


def _tagged(expression: str, index: int) -> str:
    return f'label_replace({expression}, "{TERM_LABEL}", "{index}", "", "")'


def _union(parts: Sequence[str], agg: str, split: Sequence[str] = ()) -> str:
    if len(parts) == 1:
        return _aggregated(agg, split, parts[0])
    # Each term is aggregated on its own and tagged, so that a missing term adds nothing and two
    # terms with equal label sets do not collide once rate() drops their names.
    tagged = [_tagged(_aggregated(agg, split, part), i) for i, part in enumerate(parts)]
    return _aggregated(agg, split, " or ".join(tagged))


def render(query: SeriesQuery, dialect: Dialect, scope: Scope, rate_window: int, buckets: str = "") -> str:
    """The query's PromQL on raw series, grouped by its ``by`` and split labels as the scope splits them
    (:func:`grouped_labels`); a histogram's reads only the buckets ``buckets`` matches, where given."""
    labels = grouped_labels(query, scope.values())
    if isinstance(query, RateSum):
        rates = [f"rate({selector(t, dialect, scope)}[{rate_window}s])" for t in query.terms]
        if query.by:
            (rate,) = rates  # a grouped query reads one metric
            return f"sum by ({', '.join(labels)}) ({rate})"
        return _union(rates, "sum", labels)
    if isinstance(query, GaugeAgg):
        if query.by:
            (term,) = query.terms  # a grouped query reads one metric
            return f"{query.agg} by ({', '.join(labels)}) ({selector(term, dialect, scope)})"
        return _union([selector(t, dialect, scope) for t in query.terms], query.agg, labels)
    rate = f"rate({selector(query.term, dialect, scope, buckets)}[{rate_window}s])"
    return f"sum by ({', '.join(('le', *labels))}) ({rate})"


@dataclass(frozen=True)
class Narrowed:
    """A raw histogram query asked for only the buckets its percentiles ``qs`` read (:class:`BucketNarrowing`)."""

    query: BucketRates
    qs: tuple[float, ...]
    dialect: Dialect
    scope: Scope
    rate_window: int

    @property
    def name(self) -> str:
        return self.query.term.name.for_dialect(self.dialect)

    @property
    def matchers(self) -> str:
        return label_matchers(self.query.term, self.dialect, self.scope)

    def promql(self, buckets: str = "") -> str:
        return render(self.query, self.dialect, self.scope, self.rate_window, buckets)


@dataclass(frozen=True)
class Ask:
    """How a series query is asked: its PromQL. When it shares that query with others reading the same
    counters (:func:`share_counters`), ``terms`` tags its own terms among the answer's (``bp_term``) and
    ``labels`` are the labels it groups by, the only ones it keeps of the answer's. ``narrowed``: a raw
    histogram read bucket by bucket, as it says; ``promql`` is then its query with every bucket."""

    promql: str
    terms: frozenset[str] | None = None
    labels: tuple[str, ...] = ()
    narrowed: Narrowed | None = None


def share_counters(
    queries: Sequence[SeriesQuery], dialect: Dialect, scope: Scope, rate_window: int
) -> dict[SeriesQuery, Ask]:
    """Raw rate queries that read a counter another one reads too (the same selector in this scope), asked
    as one query that reads each counter once (pure): every counter's rate by the labels any of them groups
    by, tagged with its index, and each query adds up its own terms (:func:`shared_part`). Workflow closes,
    the completion ratio's closes and workflow failures read the same counters in a whole cluster; activity
    failures are part of activity attempts. A query that shares nothing is not in the answer."""
    rates = [q for q in queries if isinstance(q, RateSum)]
    selectors = {q: [selector(t, dialect, scope) for t in q.terms] for q in rates}
    groups: list[list[RateSum]] = []
    for query in rates:
        linked = [g for g in groups if any(set(selectors[query]) & set(selectors[o]) for o in g)]
        groups = [g for g in groups if g not in linked] + [[o for g in linked for o in g] + [query]]
    fixed = scope.values()
    out: dict[SeriesQuery, Ask] = {}
    for group in groups:
        if len(group) < 2:
            continue
        group.sort(key=rates.index)
        read = list(dict.fromkeys(sel for query in group for sel in selectors[query]))
        labels = tuple(dict.fromkeys(label for query in group for label in grouped_labels(query, fixed)))
        promql = " or ".join(
            _tagged(_aggregated("sum", labels, f"rate({sel}[{rate_window}s])"), i) for i, sel in enumerate(read)
        )
        for query in group:
            terms = frozenset(str(read.index(sel)) for sel in selectors[query])
            out[query] = Ask(promql, terms, grouped_labels(query, fixed))
    return out


def shared_part(ask: Ask, result: Sequence[MatrixSeries]) -> Sequence[MatrixSeries]:
    """The series of an answer that are the asking query's own (pure): all of them, or of a shared answer
    those of its terms, with only the labels it groups by (the others' labels would split its groups)."""
    if ask.terms is None:
        return result
    return [
        MatrixSeries({label: item.metric[label] for label in ask.labels if label in item.metric}, item.values)
        for item in result
        if item.metric.get(TERM_LABEL) in ask.terms
    ]


# --- recording rules ---------------------------------------------------------------------------


def _scope_matchers(term: Term, dialect: Dialect, scope: Scope) -> list[str]:
    values = scope.values()
    out = [
        f'{label}="{_escape(exported_value(values[dimension], term.source, dialect))}"'
        for dimension, label in term.scopes
        if dimension in values
    ]
    if scope.cluster_label:
        out.append(f'{scope.cluster_label}="{_escape(scope.cluster_id)}"')
    return out


def _terms_of_query(query: SeriesQuery) -> tuple[Term, ...]:
    return (query.term,) if isinstance(query, BucketRates) else query.terms


def rule_expressions(
    query: SeriesQuery,
    slug: str,
    dialect: Dialect,
    cluster_label: str | None,
    tier: RuleTier = RULE_TIERS[0],
    view: RuleView = RuleView.SCOPED,
) -> list[str]:
    """The PromQL expressions that record ``query`` (its slug ``slug``) in ``view``.

    The scoped view has one per term: the term aggregated by the view's labels alone (:func:`view_labels`:
    every namespace, task queue and cluster at once), a counter's rate over the tier's window. The
    cluster view has one, read from the scoped view's series of the same tier and this version's form
    (every term at once): the raw families are read once per evaluation, by the scoped rules, and the
    cluster rule that follows them in the group adds up their far fewer series. Both give the raw
    numbers: a sum of rates is the rate of the sum, and a maximum of maxima the maximum."""
    by = ", ".join(view_labels(query, view, cluster_label))
    agg = query.agg if isinstance(query, GaugeAgg) else "sum"
    if view is RuleView.CLUSTER:
        scoped = recorded_name(query, slug, dialect, tier, RuleView.SCOPED)
        form = rule_form(query, slug, dialect, cluster_label, tier, RuleView.SCOPED)
        return [f'{agg} by ({by}) ({scoped}{{{FORM_LABEL}="{form}"}})']
    out = []
    for term in _terms_of_query(query):
        matchers = ",".join(f'{label}{op}"{_escape(value)}"' for label, op, value in term.matchers)
        raw = term.name.for_dialect(dialect) + (f"{{{matchers}}}" if matchers else "")
        read = raw if isinstance(query, GaugeAgg) else f"rate({raw}[{tier.window_s // 60}m])"
        out.append(f"{agg} by ({by}) ({read})")
    return out


FORM_LABEL = "bp_form"
"""The label every recorded series carries, naming the form of the rule that wrote it (:func:`rule_form`)."""


@cache
def rule_form(
    query: SeriesQuery, slug: str, dialect: Dialect, cluster_label: str | None, tier: RuleTier, view: RuleView
) -> str:
    """A short digest of the expressions that record ``query`` in this tier and view: the value of
    :data:`FORM_LABEL` on their series. A rules file from another version whose expression for a record
    name differs (other labels kept, another window) writes another form, which the collector does not
    read as this version's (:meth:`TelemetryCollector.detect_recorded`)."""
    text = "\n".join(rule_expressions(query, slug, dialect, cluster_label, tier, view))
    return hashlib.sha256(text.encode()).hexdigest()[:10]


@dataclass(frozen=True)
class Recorded:
    """The recorded series a query is read from, the labels they keep (:func:`view_labels`) and the form
    of the rule that writes them (:func:`rule_form`)."""

    name: str
    tier: RuleTier
    keeps: tuple[str, ...]
    form: str


def render_recorded(query: SeriesQuery, recorded: Recorded, dialect: Dialect, scope: Scope, plan: QueryPlan) -> str:
    """``query`` read from its recorded series: the same numbers as :func:`render` on raw series.

    A recorded rate is the raw rate over the tier's window at each evaluation. It is read as it is where
    the plan's rate window is the tier's, or where the step is shorter than the tier's interval (each
    evaluation then stands for the steps until the next). Otherwise each point is the mean of the
    recorded rates evaluated within its step: consecutive points share no evaluation and leave none
    out, so every increment weighs the same over the window (the mean over the rest of the rate window
    left evaluations unread, and a rarely incrementing counter's mean 1 % off the raw one).

    A query whose recorded series are already one per group (every label they keep is read, or fixed
    by the scope and the cluster label) is read without ``sum``: Prometheus's adding up of one series per
    group cost as much as the rest of the query (a whole cluster's persistence latency 0.103 s of
    evaluation, 0.060 s without).
    Without a cluster label to fix, Prometheus adds them up (the rules may keep one the collector was not
    told of); and the collector adds up whatever series share a group as it reads them (:func:`parse_matrix`).
    """
    term = _terms_of_query(query)[0]  # every term of a query has the same scope labels
    matchers = [f'{FORM_LABEL}="{recorded.form}"', *_scope_matchers(term, dialect, scope)]
    series = f"{recorded.name}{{{','.join(matchers)}}}"
    labels = grouped_labels(query, scope.values())
    if isinstance(query, GaugeAgg):
        return _aggregated(query.agg, labels, series)
    tier = recorded.tier
    as_recorded = plan.rate_window == tier.window_s or plan.step < tier.interval_s
    inner = series if as_recorded else f"avg_over_time({series}[{plan.step}s])"
    fixed = [label for dimension, label in term.scopes if dimension in scope.values()]
    read = ("le", *labels) if isinstance(query, BucketRates) else labels
    one_term = len(_terms_of_query(query)) == 1  # the terms of a query are recorded apart (``bp_term``)
    if one_term and scope.cluster_label and set(recorded.keeps) <= {*read, *fixed, scope.cluster_label}:
        return inner
    return _aggregated("sum", read, inner)


def _yaml_quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def recording_rules(specs: Sequence[MetricSpec] = CATALOGUE, cluster_label: str | None = "cluster") -> str:
    """The Prometheus rules file (also Mimir's and Amazon Managed Prometheus's rule groups) recording
    every series query of ``specs`` in both dialects, every tier (:data:`RULE_TIERS`) and every view
    (:func:`rule_views`), each aggregated by exactly what the profiles it serves scope by."""
    slugs = record_slugs(tuple(specs))
    option = f"--cluster-label {cluster_label}" if cluster_label else "--no-cluster-label"
    lines = [
        "# Recording rules for Behaviour Profiles, generated from the metric catalogue:",
        f"#   uv run python scripts/recording_rules.py {option}",
        "# Each rule aggregates one catalogue query by the labels profiles scope by (namespace, task queue,",
        "# the cluster label, le, and the labels a query keeps apart: worker type, task type); the collector",
        "# reads them where they cover the window.",
        "groups:",
    ]
    for dialect in Dialect:
        for tier in RULE_TIERS:
            group = f"behaviour-profiles-{dialect.value}" + ("" if tier == RULE_TIERS[0] else f"-{tier.operation}")
            lines += [f"  - name: {group}", f"    interval: {tier.interval_s}s", "    rules:"]
            for query, slug in slugs.items():
                if tier not in rule_tiers(query):
                    continue
                for view in rule_views(query):
                    name = recorded_name(query, slug, dialect, tier, view)
                    expressions = rule_expressions(query, slug, dialect, cluster_label, tier, view)
                    form = rule_form(query, slug, dialect, cluster_label, tier, view)
                    for i, expr in enumerate(expressions):
                        lines += [f"      - record: {name}", f"        expr: {_yaml_quote(expr)}"]
                        lines += ["        labels:", f"          {FORM_LABEL}: '{form}'"]
                        if len(expressions) > 1:
                            lines += [f"          {TERM_LABEL}: '{i}'"]
    return "\n".join(lines) + "\n"


_METRIC_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")


def backfill_passes(rules: str) -> list[str]:
    """A rules file split into the passes ``promtool tsdb create-blocks-from rules`` needs (pure).

    promtool evaluates every rule against the server's data, so a rule that reads what another rule of
    the file records (the cluster view reads the scoped view) sees nothing until the other's blocks are
    loaded: each pass holds the rules whose inputs are raw or recorded by an earlier pass, in their
    groups and order. One pass for a file whose rules read raw series only."""
    document = yaml.safe_load(rules)
    groups = [group | {"rules": group.get("rules") or []} for group in document.get("groups") or []]
    records = {rule["record"] for group in groups for rule in group["rules"] if "record" in rule}
    reads = {
        rule["record"]: set(_METRIC_NAME.findall(rule["expr"])) & records - {rule["record"]}
        for group in groups
        for rule in group["rules"]
        if "record" in rule
    }
    level: dict[str, int] = {}

    def level_of(record: str, seen: frozenset[str] = frozenset()) -> int:
        if record not in level:
            if record in seen:
                raise ValueError(f"recording rule {record} reads itself through other rules")
            level[record] = max((level_of(r, seen | {record}) + 1 for r in reads[record]), default=0)
        return level[record]

    def pass_of(rule: Mapping[str, Any]) -> int:
        return level_of(rule["record"]) if "record" in rule else 0  # an alerting rule: the first pass

    passes = []
    for n in range(max((level_of(r) for r in records), default=0) + 1):
        kept = [group | {"rules": [rule for rule in group["rules"] if pass_of(rule) == n]} for group in groups]
        passes.append(yaml.safe_dump({"groups": [g for g in kept if g["rules"]]}, sort_keys=False))
    return passes


# --- pure summarising --------------------------------------------------------------------------


def histogram_quantile(q: float, buckets: Sequence[tuple[float, float]]) -> float:
    """Prometheus's interpolation rule over cumulative ``(upper_bound, count)`` buckets."""
    ordered = sorted(buckets)
    return quantile_in_order(q, [b for b, _ in ordered], [c for _, c in ordered])


def quantile_in_order(q: float, bounds: Sequence[float], counts: Sequence[float]) -> float:
    """:func:`histogram_quantile` of buckets already in bound order (``bounds`` ascending, ``counts`` theirs)."""
    return quantile_of_cumulative(q, bounds, repaired(counts))


def repaired(counts: Sequence[float]) -> list[float]:
    """Cumulative bucket counts as Prometheus reads them: never falling, nor below 0 (float jitter repaired
    by a running maximum from 0)."""
    cumulative = list(accumulate(counts, max, initial=0.0))
    del cumulative[0]
    return cumulative


def quantile_bucket(q: float, bounds: Sequence[float], cumulative: Sequence[float]) -> int | None:
    """The index of the bucket that holds the ``q``-quantile of counts already :func:`repaired`, as
    Prometheus finds it; None where the quantile is not defined (no ``+Inf`` bucket, nothing observed)."""
    if not bounds or not math.isinf(bounds[-1]) or cumulative[-1] <= 0:
        return None
    return bisect_left(cumulative, q * cumulative[-1])


def quantile_of_cumulative(q: float, bounds: Sequence[float], cumulative: Sequence[float]) -> float:
    """:func:`quantile_in_order` of counts already :func:`repaired`."""
    b = quantile_bucket(q, bounds, cumulative)
    if b is None or len(bounds) < 2:
        return math.nan
    rank = q * cumulative[-1]
    if b == len(bounds) - 1:
        return bounds[-2]
    if b == 0 and bounds[0] <= 0:
        return bounds[0]
    lower = 0.0 if b == 0 else bounds[b - 1]
    below = 0.0 if b == 0 else cumulative[b - 1]
    in_bucket = cumulative[b] - below
    if in_bucket <= 0:
        return bounds[b]
    return lower + (bounds[b] - lower) * ((rank - below) / in_bucket)


class BucketRows:
    """A histogram's buckets (``le`` -> series) turned once into one row per instant, in bound order (pure):
    every percentile of it and every slow-tail sum over it then reads the rows, not the dictionaries. An
    instant that some bucket lacks keeps the buckets that have it, as Prometheus would read them."""

    def __init__(self, by_le: Mapping[float, Series]) -> None:
        bounds = tuple(sorted(by_le))
        series = [by_le[b] for b in bounds]
        self.stamps: list[float] = []
        self.bounds: list[tuple[float, ...]] = []
        self.counts: list[Sequence[float]] = []
        self._quantiles: dict[float, list[tuple[float, float]]] = {}
        self._cumulative: list[list[float]] | None = None
        if not series:
            return
        if all(s.keys() == series[0].keys() for s in series):  # the usual case: the columns turned into rows
            self.stamps = sorted(series[0])
            self.bounds = [bounds] * len(self.stamps)
            self.counts = list(zip(*(list(map(s.__getitem__, self.stamps)) for s in series), strict=True))
            return
        self.stamps = sorted(set().union(*series))
        for ts in self.stamps:
            row = [s.get(ts) for s in series]
            if None in row:
                present = [(b, c) for b, c in zip(bounds, row, strict=True) if c is not None]
                self.bounds.append(tuple(b for b, _ in present))
                self.counts.append([c for _, c in present])
            else:
                self.bounds.append(bounds)
                self.counts.append(row)  # type: ignore[arg-type]  # no None in it

    def _repaired(self) -> list[list[float]]:
        if self._cumulative is None:  # repaired once for every percentile of these rows
            self._cumulative = list(map(repaired, self.counts))
        return self._cumulative

    def quantile(self, q: float) -> list[tuple[float, float]]:
        """``(instant, q-quantile)`` wherever it is defined, in the histogram's own unit."""
        if q not in self._quantiles:
            points = []
            for ts, bounds, cumulative in zip(self.stamps, self.bounds, self._repaired(), strict=True):
                value = quantile_of_cumulative(q, bounds, cumulative)
                if math.isfinite(value):
                    points.append((ts, value))
            self._quantiles[q] = points
        return self._quantiles[q]

    def tail_above(self, thresholds: Mapping[float, float]) -> float:
        """The observations above each instant's threshold, added up over the instants that have one."""
        return math.fsum(
            tail_above_in_order(bounds, counts, thresholds[ts])
            for ts, bounds, counts in zip(self.stamps, self.bounds, self.counts, strict=True)
            if ts in thresholds
        )

    def quantile_brackets(self, q: float) -> set[Bracket]:
        """The neighbouring bounds whose counts the ``q``-quantile reads, at every instant (:data:`Bracket`)."""
        out: set[Bracket] = set()
        for bounds, cumulative in zip(self.bounds, self._repaired(), strict=True):
            b = quantile_bucket(q, bounds, cumulative)
            if b is not None:
                out.add(_bracket(bounds, b))
        return out

    def tail_brackets(self, thresholds: Mapping[float, float]) -> set[Bracket]:
        """The neighbouring bounds whose counts :meth:`tail_above` reads, at every instant with a threshold."""
        return {
            _bracket(bounds, threshold_bucket(bounds, thresholds[ts]))
            for ts, bounds in zip(self.stamps, self.bounds, strict=True)
            if bounds and ts in thresholds and math.isfinite(thresholds[ts])
        }


Bracket = tuple[float, float]
"""Two neighbouring bounds of a histogram row, the lower ``-inf`` for its first bucket: the counts an
interpolation inside the upper one's bucket reads. Where the row holds only some of the histogram's buckets,
any bucket between the two may be missing from it (:class:`BucketNarrowing`)."""


def _bracket(bounds: Sequence[float], i: int) -> Bracket:
    if i >= len(bounds):  # past the last bound of a row without +Inf
        return bounds[-1], math.inf
    return (bounds[i - 1] if i > 0 else -math.inf), bounds[i]


class RowsMemo:
    """:class:`BucketRows` of each histogram answer, built once per answer object (pure)."""

    def __init__(self) -> None:
        self._memo: dict[int, tuple[Mapping[float, Series], BucketRows]] = {}

    def __call__(self, by_le: Mapping[float, Series]) -> BucketRows:
        hit = self._memo.get(id(by_le))
        if hit is None or hit[0] is not by_le:
            hit = (by_le, BucketRows(by_le))
            self._memo[id(by_le)] = hit
        return hit[1]


def downsample(points: Sequence[tuple[float, float]], limit: int = MAX_STORED_POINTS) -> list[tuple[float, float]]:
    """Average consecutive points into at most ``limit`` buckets."""
    if len(points) <= limit:
        return list(points)
    size = math.ceil(len(points) / limit)
    out: list[tuple[float, float]] = []
    for i in range(0, len(points), size):
        chunk = points[i : i + size]
        out.append((chunk[0][0], sum(v for _, v in chunk) / len(chunk)))
    return out


def summarise(key: str, unit: str, points: Sequence[tuple[float, float]], reason: str | None = None) -> MetricSummary:
    finite = [(t, v) for t, v in sorted(points) if math.isfinite(v)]
    stats = series_stats(v for _, v in finite)
    if stats is None:
        return MetricSummary(key=key, status=MetricStatus.NO_DATA, unit=unit, reason=reason or NO_SAMPLES)
    return MetricSummary(
        key=key,
        status=MetricStatus.OK,
        unit=unit,
        **stats.summary_fields(),
        series=downsample(finite),
        reason=reason,
    )


def _combine_ratio(num: Series, den: Series, form: str) -> list[tuple[float, float]]:
    """The ratio at each instant of the denominator where it is defined (the form chosen once, not per point)."""
    part = num.get
    if form == "a/(a+b)":
        return [(ts, n / whole) for ts, d in den.items() if (whole := (n := part(ts, 0.0)) + d) > 0]
    if form == "a/b":
        return [(ts, part(ts, 0.0) / d) for ts, d in den.items() if d > 0]
    if form == "1-part/whole":
        return [(ts, 1.0 - min(part(ts, 0.0) / d, 1.0)) for ts, d in den.items() if d > 0]
    return [(ts, min(part(ts, 0.0) / d, 1.0)) for ts, d in den.items() if d > 0]


def _worst_group(comp: Ratio, num: Grouped, den: Grouped) -> list[tuple[float, float]]:
    """The ratio per group (those ``comp.where`` keeps), and the series of the group that is worst over
    the window (highest or lowest mean). One group's series, not a pointwise extreme of several: the
    extreme of near-equal noisy groups would be biased, and differently on raw and recorded series."""
    labels = comp.denominator.by
    wanted = [(labels.index(label), value) for label, value in comp.where if label in labels]
    candidates: list[tuple[float, list[tuple[float, float]]]] = []
    for group, den_series in sorted(den.items()):
        if any(group[i] != value for i, value in wanted):
            continue
        points = _combine_ratio(num.get(group, {}), den_series, comp.form)
        if points:
            candidates.append((math.fsum(v for _, v in points) / len(points), sorted(points)))
    if not candidates:
        return []
    pick = max if comp.worst == "max" else min
    return pick(candidates, key=lambda c: c[0])[1]


RowsOf = Callable[[Mapping[float, Series]], BucketRows]
"""A histogram answer's rows: :class:`BucketRows` itself, or a :class:`RowsMemo` that builds them once."""


def compute_metric(
    spec: MetricSpec, results: Mapping[SeriesQuery, Any], dialect: Dialect, rows_of: RowsOf = BucketRows
) -> list[tuple[float, float]]:
    """The metric's points over the grid, from the already fetched series (pure)."""
    comp = spec.computation
    if isinstance(comp, Direct):
        series: Series = results[comp.query]
        return sorted(series.items())
    if isinstance(comp, Ratio):
        if _grouped(comp.denominator):
            return _worst_group(comp, results[comp.numerator], results[comp.denominator])
        return _combine_ratio(results[comp.numerator], results[comp.denominator], comp.form)
    if isinstance(comp, Quantile):
        scale = comp.buckets.term.name.scale(dialect)
        return [(ts, value * scale) for ts, value in rows_of(results[comp.buckets]).quantile(comp.q)]
    return []


def _grouped(query: SeriesQuery) -> bool:
    return isinstance(query, GaugeAgg | RateSum) and bool(query.by)


# --- contributors: a split query's series one by one -------------------------------------------


def _add(into: Series, series: Series, agg: str) -> None:
    if not into:
        into.update(series)
    elif agg == "max":
        for ts, value in series.items():
            into[ts] = max(into[ts], value) if ts in into else value
    else:  # read and written key by key as ``series`` gives them (never iterating ``into``)
        into.update(zip(series, map(add, map(into.get, series, repeat(0.0)), series.values()), strict=True))


def split_part(query: SeriesQuery, fetched: Any) -> Any:
    """A split query's answer as the unsplit query's (pure): every split series added up, the metric's own
    input, the same numbers as without the split. An unsplit query's answer is returned as it is."""
    if not query.split:
        return fetched
    if isinstance(query, BucketRates):
        buckets: dict[float, Series] = {}
        for by_le in fetched.values():
            for le, series in by_le.items():
                _add(buckets.setdefault(le, {}), series, "sum")
        return buckets
    labels = fetched_labels(query)
    keep = [labels.index(label) for label in query.by]
    agg = query.agg if isinstance(query, GaugeAgg) else "sum"
    grouped: Grouped = {}
    for group, series in fetched.items():
        _add(grouped.setdefault(tuple(group[i] for i in keep), {}), series, agg)
    return grouped if query.by else grouped.get((), {})


def split_parts(query: SeriesQuery, fetched: Any) -> dict[tuple[str, ...], Any]:
    """A split query's answer cut by the values of its split labels, in one pass (pure): each part as the
    unsplit query's answer would be if only that series existed. The parts share the answer's series
    where a part holds one series per group (no copy)."""
    if isinstance(query, BucketRates):
        return dict(fetched)  # already one group (le -> series) per split key
    labels = fetched_labels(query)
    keep = [labels.index(label) for label in query.by]
    cut = [labels.index(label) for label in query.split]
    agg = query.agg if isinstance(query, GaugeAgg) else "sum"
    parts: dict[tuple[str, ...], Grouped] = {}
    for group, series in fetched.items():
        into = parts.setdefault(tuple(group[i] for i in cut), {})
        by = tuple(group[i] for i in keep)
        if by in into:
            merged = dict(into[by])  # never add into the answer's own series
            _add(merged, series, agg)
            into[by] = merged
        else:
            into[by] = series
    return {key: grouped if query.by else grouped.get((), {}) for key, grouped in parts.items()}


def _ratio_weight(spec: MetricSpec, comp: Ratio, parts: Mapping[SeriesQuery, Any]) -> float:
    """The part of a ratio's inputs that makes it worse, over the window (``where`` groups only)."""
    num, den = parts[comp.numerator], parts[comp.denominator]
    pairs: list[tuple[Series, Series]]
    if _grouped(comp.denominator):
        labels = comp.denominator.by
        wanted = [(labels.index(label), value) for label, value in comp.where if label in labels]
        pairs = [
            (num.get(group, {}), series)
            for group, series in den.items()
            if all(group[i] == value for i, value in wanted)
        ]
    else:
        pairs = [(num, den)]
    weigh = worse_part_of(comp.form, spec.better)
    return math.fsum(
        chain.from_iterable(map(weigh, map(part.get, whole, repeat(0.0)), whole.values()) for part, whole in pairs)
    )


def slow_tails(
    q: float,
    whole: Mapping[float, Series],
    cut: Mapping[tuple[str, ...], Mapping[float, Series]],
    keys: Sequence[tuple[str, ...]],
    rows_of: RowsOf = BucketRows,
) -> tuple[dict[float, float], list[float]]:
    """A split histogram's ``q``-quantile at each instant (in its own unit, before scaling), and each part's
    observations above it: the weights of a latency's contributors (pure)."""
    thresholds = dict(rows_of(whole).quantile(q))
    return thresholds, [rows_of(cut.get(key, {})).tail_above(thresholds) for key in keys]


def contributors(
    spec: MetricSpec,
    fetched: Mapping[SeriesQuery, Any],
    dialect: Dialect,
    parts_of: Callable[[SeriesQuery], Mapping[tuple[str, ...], Any]] | None = None,
    whole: Mapping[SeriesQuery, Any] | None = None,
    rows_of: RowsOf = BucketRows,
) -> Contributors | None:
    """The metric's top contributors, when every series query it reads is split by the same labels (pure):
    the metric computed on each split series alone, weighed by its part of the sum (a rate, a summed
    gauge), of the observations slower than the whole's percentile (a latency), or of what makes a ratio
    worse (see :mod:`behaviour_profiles.attribution`).

    Every series is weighed, but its own value (a percentile at every instant, the costly part) is computed
    only for the series that can still be among the top ones (:func:`can_rank`). ``parts_of`` gives
    a split query's answer cut by its split labels (:func:`split_parts`), so that metrics reading the same
    query cut it once; ``whole`` the answers added up (:func:`split_part`), and ``rows_of`` a histogram's
    rows (a :class:`RowsMemo` shares them between a family's percentiles)."""
    comp = spec.computation
    queries = series_queries(spec)
    splits = {query.split for query in queries}
    if not queries or len(splits) != 1 or () in splits or any(q not in fetched for q in queries):
        return None
    gauge_agg = comp.query.agg if isinstance(comp, Direct) and isinstance(comp.query, GaugeAgg) else None
    if gauge_agg not in (None, "sum", "max"):
        return None  # only a sum's and a maximum's parts have a share
    largest = gauge_agg == "max"
    (labels,) = splits
    cut = {query: (parts_of or (lambda q: split_parts(q, fetched[q])))(query) for query in queries}
    keys = sorted({key for parts in cut.values() for key in parts})
    # the labels the scope split by (:func:`split_labels`): the other levels are empty in every answer. A
    # label that is not a level is split by at every scope, even where no series carries it (an activity's
    # timeout_type where none timed out): ``by`` is the same for every profile of the scope
    levels = frozenset().union(*map(level_labels, queries))
    split = [label for i, label in enumerate(labels) if label not in levels or any(key[i] for key in keys)]
    empty: dict[SeriesQuery, Any] = {query: {} for query in queries}

    def parts(key: tuple[str, ...]) -> dict[SeriesQuery, Any]:
        return {query: cut[query].get(key, empty[query]) for query in queries}

    def mean_of(points: list[float]) -> float | None:
        return math.fsum(points) / len(points) if points else None

    def value_of(key: tuple[str, ...]) -> float | None:
        return mean_of(finite_values(v for _, v in compute_metric(spec, parts(key), dialect, rows_of)))

    weights: list[float] = []
    values: dict[tuple[str, ...], float | None] = {}
    if isinstance(comp, Quantile):
        buckets = whole[comp.buckets] if whole is not None else split_part(comp.buckets, fetched[comp.buckets])
        _, weights = slow_tails(comp.q, buckets, cut[comp.buckets], keys, rows_of)
    elif isinstance(comp, Ratio):
        weights = [_ratio_weight(spec, comp, parts(key)) for key in keys]
    elif largest:  # a maximum: the instants each series held it (a tie shares its instant)
        own = {key: dict(compute_metric(spec, parts(key), dialect, rows_of)) for key in keys}
        weights = held_largest([own[key] for key in keys])
        values = {key: mean_of(finite_values(own[key].values())) for key in keys}
    else:
        for key in keys:  # a sum: the weight is the value's own points added up
            points = finite_values(v for _, v in compute_metric(spec, parts(key), dialect, rows_of))
            weights.append(math.fsum(points))
            values[key] = mean_of(points)
    candidates = [
        Candidate(
            dict(zip(labels, key, strict=True)),
            (values[key] if key in values else value_of(key)) if ranks else None,
            weight,
        )
        for key, weight, ranks in zip(keys, weights, can_rank(weights), strict=True)
    ]
    share_of = (
        ShareOf.SLOW_TAIL
        if isinstance(comp, Quantile)
        else ShareOf.WORSE_PART
        if isinstance(comp, Ratio)
        else ShareOf.LARGEST
        if largest
        else ShareOf.TOTAL
    )
    return top_contributors(split, share_of, candidates)


# --- reading only the buckets a histogram's percentiles read ------------------------------------

NARROW_MIN_BUCKETS = 6
"""A histogram with fewer bounds (``+Inf`` included) is read whole: there is little to leave out."""
NARROW_MIN_POINTS = 30
"""A collection with fewer points reads its histograms whole: they are small, and the look-ups would cost
more than they save."""
NARROW_MIN_STEP_SCRAPES = 4
"""Where it pays (the collector's default), raw histograms are read bucket by bucket only when each step
spans at least this many scrape intervals: about 5 h and longer at 300 points and a 15 s scrape. A shorter
step holds a sample or two of each bucket series, and then the look and the API's placing of every
percentile cost more than the buckets left out save (bench, run Q: 1 h windows slower, 6 h faster)."""
PROBE_POINTS = 5
"""The instants of the window at which every bucket is read first, to see where the percentiles lie."""


def probe_plans(plan: QueryPlan) -> list[QueryPlan]:
    """The first look at a histogram: about :data:`PROBE_POINTS` instants of the plan's own grid, evenly
    spread from its first, each asked as a range of that one point with the plan's rate window (pure).
    Prometheus walks every chunk of a range query's whole span, whatever its step: one query over the
    window at a coarse step cost it about three times these few one-point ones."""
    grid = plan.grid()
    return [
        QueryPlan(t, t, plan.step, plan.rate_window) for t in grid[:: max(1, (len(grid) - 1) // (PROBE_POINTS - 1))]
    ]


def _regex_literal(number: str) -> str:
    """A number's text as a pattern that matches it alone (``.`` and ``+`` in brackets: no escapes)."""
    return "".join(f"[{c}]" if c in ".+" else c for c in number)


class BucketNarrowing:
    """Which buckets of a histogram query to read so that its percentiles are what reading every bucket
    gives (pure): at every instant, the whole's ``qs``-quantiles, each part's observations above them (its
    weight as a contributor) and the quantiles of the parts that can rank among the top contributors.

    Each of these reads the counts of two neighbouring bounds and the ``+Inf`` bucket (:data:`Bracket`).
    :meth:`first` picks them from a look at every bucket at a few instants (:func:`probe_plans`); after each
    read, :meth:`more` names the histogram's bounds (``le_values``: every ``le`` it has in the window) that
    lie between the two bounds some instant read, which that instant's answer would otherwise have
    interpolated over; none once every instant reads the same neighbours as with every bucket (given
    cumulative counts that never fall from one bound to the next, as a real histogram's rates do). A
    steady latency reads a few of its buckets; one that moves across the histogram reads more, at most all."""

    def __init__(self, query: BucketRates, qs: Iterable[float], le_values: Iterable[str]) -> None:
        self._query = query
        self._qs = sorted(set(qs))
        self._strings: dict[float, list[str]] = {}
        for text in le_values:
            try:
                self._strings.setdefault(float(text), []).append(text)
            except ValueError:
                continue  # not a bound: such a series is no bucket of the histogram
        self._bounds = sorted(self._strings)
        self._asked: set[float] = set()

    @property
    def worth_it(self) -> bool:
        """Whether leaving buckets out can pay: enough bounds, and ``+Inf`` among them."""
        return len(self._bounds) >= NARROW_MIN_BUCKETS and math.isinf(self._bounds[-1])

    def first(self, probe: Any) -> list[str]:
        """The ``le`` values to read first, from the query's answer at a few instants with every bucket."""
        wanted = {math.inf}
        for low, high in self._brackets(probe):
            wanted.update(b for b in (low, high) if b in self._strings)
        return self._ask(wanted)

    def more(self, fetched: Any) -> list[str]:
        """The ``le`` values not read yet that the answer so far (every read's series together) needs;
        none when it is what every bucket would give."""
        bounds = self._bounds
        wanted = {
            b
            for low, high in self._brackets(fetched)
            for b in bounds[bisect_right(bounds, low) : bisect_left(bounds, high)]
        }
        return self._ask(wanted)

    def matcher(self, le_values: Sequence[str]) -> str:
        """The label matcher that reads only ``le_values``."""
        return f'le=~"{"|".join(map(_regex_literal, le_values))}"'

    def _ask(self, wanted: set[float]) -> list[str]:
        new = sorted(wanted - self._asked)
        self._asked.update(new)
        return [text for bound in new for text in self._strings[bound]]

    def _brackets(self, fetched: Any) -> set[Bracket]:
        query = self._query
        rows_of = RowsMemo()
        whole = split_part(query, fetched)
        cut = split_parts(query, fetched) if query.split else {}
        keys = sorted(cut)
        out: set[Bracket] = set()
        for q in self._qs:
            out |= rows_of(whole).quantile_brackets(q)
            if not keys:
                continue
            thresholds, weights = slow_tails(q, whole, cut, keys, rows_of)
            for key, ranks in zip(keys, can_rank(weights), strict=True):
                part = rows_of(cut[key])
                out |= part.tail_brackets(thresholds)
                if ranks:
                    out |= part.quantile_brackets(q)
        return out


def scope_coverage(
    specs: Iterable[MetricSpec], metrics: Mapping[str, MetricSummary], scope: Scope, dialect: Dialect
) -> list[ScopeMatch]:
    """Per scope value and source, which of that source's metrics scoped by it have data (pure)."""
    out: list[ScopeMatch] = []
    specs = list(specs)
    for dimension, value in scope.values().items():
        for source in (Source.SERVER, Source.SDK):
            keys = [spec.key for spec in specs if source in scoped_sources(spec, dimension)]
            label = scope_label(source, dimension)
            if not keys or label is None:
                continue
            with_data = [k for k in keys if metrics[k].status is MetricStatus.OK]
            out.append(
                ScopeMatch(
                    dimension=dimension,
                    value=value,
                    source=source.value,
                    label=label,
                    exported_as=exported_value(value, source, dialect),
                    with_data=with_data,
                    without_data=[k for k in keys if k not in with_data],
                )
            )
    return out


class CatalogueSummary:
    """The catalogue's summaries, each metric's taken as soon as the answers it reads are in (pure).

    The collector adds each answer as it arrives (:meth:`add`) and summarises the metrics it completes
    (:meth:`summarise_one`) while Prometheus still evaluates the rest, so that little is left once the
    last answer is in; :meth:`finish` applies the rules that need every metric (the absent-counter rule).

    A query's ``warning`` names an answer Prometheus flagged as partial (e.g. a store that did not
    respond): every metric built on it is marked not collected, never read from partial data and never
    taken as an absent (zero) counter.
    """

    def __init__(self, dialect: Dialect, specs: Iterable[MetricSpec] = CATALOGUE) -> None:
        self._dialect = dialect
        self._specs = list(specs)
        self._fetched: dict[SeriesQuery, Any] = {}
        self._whole: dict[SeriesQuery, Any] = {}
        self._cut: dict[SeriesQuery, Mapping[tuple[str, ...], Any]] = {}
        self._partial: dict[SeriesQuery, str] = {}
        self._rows = RowsMemo()
        self._pending = list(self._specs)
        self._summaries: dict[str, MetricSummary] = {}
        self._not_collected: set[str] = set()

    def add(self, query: SeriesQuery, answer: Any, warning: str | None = None) -> None:
        self._fetched[query] = answer
        self._whole[query] = split_part(query, answer)
        if warning is not None:
            self._partial[query] = warning

    def summarise_one(self) -> bool:
        """Summarise one metric whose answers are all in; False when none is waiting."""
        for i, spec in enumerate(self._pending):
            if all(q in self._fetched for q in series_queries(spec)):
                del self._pending[i]
                self._summarise(spec)
                return True
        return False

    def _parts_of(self, query: SeriesQuery) -> Mapping[tuple[str, ...], Any]:
        if query not in self._cut:
            self._cut[query] = split_parts(query, self._fetched[query])
        return self._cut[query]

    def _summarise(self, spec: MetricSpec) -> None:
        if isinstance(spec.computation, Unavailable):
            self._summaries[spec.key] = MetricSummary(
                key=spec.key, status=MetricStatus.NO_DATA, unit=spec.unit, reason=spec.computation.reason
            )
            return
        warning = next((self._partial[q] for q in series_queries(spec) if q in self._partial), None)
        if warning is not None:
            self._not_collected.add(spec.key)
            self._summaries[spec.key] = MetricSummary(
                key=spec.key,
                status=MetricStatus.NO_DATA,
                unit=spec.unit,
                reason=f"not collected: Prometheus answered with a warning that its data is partial ({warning})",
            )
            return
        summary = summarise(spec.key, spec.unit, compute_metric(spec, self._whole, self._dialect, self._rows))
        if summary.status is MetricStatus.OK:
            summary.contributors = contributors(
                spec, self._fetched, self._dialect, self._parts_of, self._whole, self._rows
            )
        self._summaries[spec.key] = summary

    def finish(self, plan: QueryPlan) -> dict[str, MetricSummary]:
        """Every metric's summary, in the catalogue's order: the rest summarised, then the absent-counter rule."""
        for spec in self._pending:
            self._summarise(spec)
        self._pending = []
        summaries = {spec.key: self._summaries[spec.key] for spec in self._specs}
        specs = self._specs
        # (family, dimensions) of the members with data: a member vouches for an absent counter of its family
        # only where it is narrowed by every dimension the counter is (a namespace-wide counter says nothing
        # of a task queue the server leaves unnamed)
        present = {
            (spec.family, scope_dimensions(spec))
            for spec in specs
            if spec.family and summaries[spec.key].status is MetricStatus.OK
        }
        untaken = _untaken(summaries.get(WAITING_METRIC))
        for spec in specs:
            summary = summaries[spec.key]
            if spec.key in self._not_collected:
                continue
            vouched = any(
                family == spec.family and dimensions >= scope_dimensions(spec) for family, dimensions in present
            )
            if spec.absent_is_zero and summary.status is MetricStatus.NO_DATA and vouched:
                summaries[spec.key] = summarise(
                    spec.key,
                    spec.unit,
                    [(ts, 0.0) for ts in plan.grid()],
                    reason=f"counter never incremented in the window while the rest of the {spec.family} "
                    "family reports: read as zero",
                )
            elif summary.status is MetricStatus.NO_DATA and summary.reason == NO_SAMPLES:
                why = untaken if spec.taken and untaken else spec.description
                if why:
                    summaries[spec.key] = summary.model_copy(update={"reason": f"{NO_SAMPLES}. {why}"})
        answered = summaries.get(ANSWERED_ONLY)
        hung = answered_only_note(summaries.get(ACTIVITY_FAILURES))
        if answered is not None and answered.status is MetricStatus.OK and hung:
            summaries[ANSWERED_ONLY] = answered.model_copy(update={"reason": hung})
        return summaries


def answered_only_note(failures: MetricSummary | None) -> str:
    """How :data:`ANSWERED_ONLY` reads a window where activity attempts hung past their timeout ("" where
    none did, as far as the failures' contributors tell)."""
    hung = hung_attempts_of(failures.contributors if failures is not None else None)
    rate = math.fsum(c.value or 0.0 for c in hung)
    if rate <= 0:
        return ""
    return (
        f"Answered attempts only: {format_value(rate, '1/s')} activity attempts hung past their timeout in the "
        f"window ({', '.join(sorted({c.labels['timeout_type'] for c in hung}))}; see {ACTIVITY_FAILURES}), and "
        "history records an attempt's start-to-close time only when its worker answers in time: a hang does not "
        "raise this percentile"
    )


def _untaken(waiting: MetricSummary | None) -> str:
    """Why a metric that needs a task taken has no samples while tasks waited ("" when none waited)."""
    if waiting is None or waiting.status is not MetricStatus.OK or not waiting.max:
        return ""
    return (
        f"No task was taken in the window while up to {format_value(waiting.max, waiting.unit)} waited in the "
        f"backlog ({WAITING_METRIC}): no worker polled this scope (workers down, or polling another task queue)."
    )


def summarise_catalogue(
    results: Mapping[SeriesQuery, Any],
    dialect: Dialect,
    plan: QueryPlan,
    specs: Iterable[MetricSpec] = CATALOGUE,
    partial: Mapping[SeriesQuery, str] | None = None,
) -> dict[str, MetricSummary]:
    """Summaries for every metric from every answer at once (:class:`CatalogueSummary`; pure).
    ``partial`` names the queries Prometheus answered with a warning that its data is partial."""
    summary = CatalogueSummary(dialect, specs)
    for query, answer in results.items():
        summary.add(query, answer, (partial or {}).get(query))
    return summary.finish(plan)


# --- I/O: the Prometheus HTTP API ------------------------------------------------------------


RequestSigner = Callable[[httpx.Request], Awaitable[None]]


@dataclass(frozen=True)
class ApiAnswer:
    """The ``data`` of a successful Prometheus API answer and the ``warnings`` that came with it
    (non-empty: the server flags the data as incomplete, e.g. Thanos or Mimir with a store down)."""

    data: Any
    warnings: tuple[str, ...] = ()


class MatrixSeries(msgspec.Struct):
    """One series of a range query's answer: its labels and its ``(instant, value)`` points, as numbers."""

    metric: dict[str, str] = {}
    values: list[tuple[float, float]] = []


@dataclass(frozen=True)
class RangeAnswer:
    result: list[MatrixSeries]
    warnings: tuple[str, ...] = ()


QueryObserver = Callable[[str, float, bool], None]
"""Told of every Prometheus API call: ``(kind, seconds, ok)``; ``kind`` is ``query_range``, ``query``
or ``label_values``, ``seconds`` spans all attempts and ``ok`` is False when the call raised."""

_QUERY_KINDS: Mapping[str, str] = {
    "/api/v1/query_range": "query_range",
    "/api/v1/query": "query",
    "/api/v1/label/__name__/values": "label_values",
    "/api/v1/status/runtimeinfo": "runtimeinfo",
}


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Python's cyclic garbage collector paused while an answer is read: a whole-cluster day's answers hold
    millions of small objects, and the collections they would set off (each one scanning everything
    allocated so far) took three quarters of the decoding time. Nothing awaits in between."""
    collecting = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if collecting:
            gc.enable()


def decode_answer(content: bytes) -> Any:
    """An answer's JSON, as Python's own types."""
    with _collector_paused():
        return json.loads(content)


class _Matrix(msgspec.Struct):
    resultType: str = ""  # Prometheus's field name
    result: list[MatrixSeries] = []


class _RangeBody(msgspec.Struct):
    status: str = ""
    error: str | None = None
    data: _Matrix | None = None
    warnings: list[str] = []


# non-strict: a sample's value, a string in Prometheus's answers, is converted to a float while it is read
_RANGE_DECODER = msgspec.json.Decoder(_RangeBody, strict=False)


def decode_range_answer(content: bytes) -> Any:
    """A range query's answer as :func:`decode_answer` gives it, but each series of a matrix a
    :class:`MatrixSeries`: read in one pass by msgspec, values converted as they are read (a day's
    whole-cluster answers five times faster than reading the JSON, then converting each value in Python).
    An answer msgspec cannot type so (a value ``"+Inf"``, which it does not read, an error, another
    result type) is read as any JSON and its series converted after, to the same result."""
    with _collector_paused():
        try:
            body = _RANGE_DECODER.decode(content)
        except msgspec.ValidationError:
            return _typed_matrix(json.loads(content))
    data = None if body.data is None else {"resultType": body.data.resultType, "result": body.data.result}
    return {"status": body.status, "error": body.error, "data": data, "warnings": body.warnings}


def _typed_matrix(body: Any) -> Any:
    """A decoded answer whose matrix series are turned into :class:`MatrixSeries` (a ValueError if a
    value is not a number); any other answer as it is."""
    data = body.get("data") if isinstance(body, dict) else None
    if not isinstance(data, dict) or data.get("resultType") != "matrix" or not isinstance(data.get("result"), list):
        return body
    try:
        result = [
            MatrixSeries(
                {str(k): str(v) for k, v in item.get("metric", {}).items()},
                [(float(ts), float(value)) for ts, value in item.get("values", ())],
            )
            for item in data["result"]
        ]
    except (AttributeError, TypeError) as exc:
        raise ValueError(f"a matrix series that is not labels and points ({exc})") from exc
    return body | {"data": data | {"result": result}}


def _query_kind(path: str) -> str:
    if path.startswith("/api/v1/label/"):
        return "label_values"
    return _QUERY_KINDS.get(path, path)


def _names_selector(names: Iterable[str], matchers: str) -> str:
    """The series of any of ``names`` (and ``matchers``, extra label matchers): ``{__name__=~"a|b",...}``."""
    extra = f",{matchers}" if matchers else ""
    return f'{{__name__=~"{"|".join(sorted(set(names)))}"{extra}}}'


class PrometheusClient:
    """A thin client of the Prometheus HTTP API that speaks in our error tree.

    A request answered 429 or 5xx, that could not connect or whose connection dropped, is tried again, at most
    ``MAX_ATTEMPTS`` times in all, after an exponential backoff with jitter (or the server's
    ``Retry-After``, capped); all attempts together stay within ``timeout_s`` x ``MAX_ATTEMPTS``.
    ``auth`` (e.g. :class:`behaviour_profiles.sigv4.SigV4Auth` for Amazon Managed Prometheus) signs
    every attempt afresh. ``on_query`` (a :data:`QueryObserver`) is told of every call, for metrics.
    """

    MAX_ATTEMPTS = 3
    BACKOFF_BASE_S = 0.5
    BACKOFF_CAP_S = 8.0
    RETRY_AFTER_CAP_S = 10.0
    RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
    RETRY_ERRORS: tuple[type[httpx.HTTPError], ...] = (
        httpx.ConnectError,
        httpx.ConnectTimeout,
        httpx.RemoteProtocolError,
        httpx.ReadError,  # connection reset mid-answer (a restart): every call is a read, safe to repeat
    )

    def __init__(
        self,
        http: httpx.AsyncClient,
        base_url: str,
        *,
        timeout_s: float = 30.0,
        auth: httpx.Auth | None = None,
        on_query: QueryObserver | None = None,
        compressed: bool = False,
    ) -> None:
        self._http = http
        self._base = base_url.rstrip("/")
        self._timeout = timeout_s
        self._auth = auth
        self._on_query = on_query
        # Uncompressed by default: next to the Prometheus, compressing a day's answers cost both sides more
        # CPU than the bytes saved (a whole-cluster profile 0.05 s faster on the bench); gzip for a slow link.
        self._headers = {"Accept-Encoding": "gzip" if compressed else "identity"}

    @property
    def base_url(self) -> str:
        return self._base

    def _backoff(self, attempt: int, response: httpx.Response | None) -> float:
        """Seconds to wait before attempt ``attempt + 1``: the server's ``Retry-After`` if it gave
        one (capped), else exponential backoff with jitter (half fixed, half random)."""
        header = response.headers.get("retry-after") if response is not None else None
        if header is not None:
            delay = self._retry_after_seconds(header)
            if delay is not None:
                return min(delay, self.RETRY_AFTER_CAP_S)
        ceiling = min(self.BACKOFF_CAP_S, self.BACKOFF_BASE_S * 2.0 ** (attempt - 1))
        return ceiling / 2 + random.uniform(0, ceiling / 2)

    async def _send(self, url: str, params: dict[str, str], method: str, timeout_s: float) -> httpx.Response:
        auth = self._auth if self._auth is not None else httpx.USE_CLIENT_DEFAULT
        if method == "GET":
            return await self._http.get(url, params=params, headers=self._headers, timeout=timeout_s, auth=auth)
        return await self._http.post(url, data=params, headers=self._headers, timeout=timeout_s, auth=auth)

    async def _call(
        self, path: str, params: dict[str, str], *, method: str = "POST", decode: Callable[[bytes], Any] = decode_answer
    ) -> ApiAnswer:
        started = time.monotonic()
        try:
            answer = await self._attempts(path, params, method, decode)
        except Exception:
            # (a call cancelled because a sibling query failed raises CancelledError: not counted)
            self._observe(path, started, ok=False)
            raise
        self._observe(path, started, ok=True)
        return answer

    def _observe(self, path: str, started: float, *, ok: bool) -> None:
        if self._on_query is not None:
            self._on_query(_query_kind(path), time.monotonic() - started, ok)

    async def _attempts(
        self, path: str, params: dict[str, str], method: str, decode: Callable[[bytes], Any]
    ) -> ApiAnswer:
        url = f"{self._base}{path}"
        deadline = time.monotonic() + self._timeout * self.MAX_ATTEMPTS
        attempt = 0
        while True:
            attempt += 1
            retried = f" after {attempt} attempts" if attempt > 1 else ""
            remaining = deadline - time.monotonic()
            response: httpx.Response | None = None
            try:
                response = await self._send(url, params, method, max(0.001, min(self._timeout, remaining)))
            except httpx.TimeoutException as exc:
                if not isinstance(exc, self.RETRY_ERRORS) or not await self._may_retry(attempt, deadline, None):
                    raise DependencyTimeout(
                        PROMETHEUS, f"no answer from {self._base} within {self._timeout:g}s{retried}"
                    ) from exc
                continue
            except httpx.HTTPError as exc:
                if not isinstance(exc, self.RETRY_ERRORS) or not await self._may_retry(attempt, deadline, None):
                    raise DependencyFailed(
                        PROMETHEUS, f"unreachable at {self._base}{retried} ({type(exc).__name__}: {exc})"
                    ) from exc
                continue
            if response.status_code in self.RETRY_STATUSES and await self._may_retry(attempt, deadline, response):
                continue
            return self._data(url, response, retried, decode)

    async def _may_retry(self, attempt: int, deadline: float, response: httpx.Response | None) -> bool:
        """Sleep before the next attempt and say True, or say False when attempts or time ran out."""
        if attempt >= self.MAX_ATTEMPTS:
            return False
        delay = self._backoff(attempt, response)
        if time.monotonic() + delay >= deadline:
            return False
        await asyncio.sleep(delay)
        return True

    @staticmethod
    def _data(url: str, response: httpx.Response, retried: str, decode: Callable[[bytes], Any]) -> ApiAnswer:
        try:
            body = decode(response.content)
        except ValueError as exc:
            raise DependencyFailed(
                PROMETHEUS,
                f"{url} answered HTTP {response.status_code}{retried} with a body that is not the JSON of an answer",
            ) from exc
        if response.status_code >= 400 or not isinstance(body, dict) or body.get("status") != "success":
            error = body.get("error") if isinstance(body, dict) else None
            raise DependencyFailed(
                PROMETHEUS, f"query failed with HTTP {response.status_code}{retried}: {error or 'unknown error'}"
            )
        # a successful answer the server itself flags as incomplete (Thanos/Mimir partial responses,
        # Prometheus's own warnings) carries them next to its data
        return ApiAnswer(body.get("data"), tuple(str(w) for w in body.get("warnings") or ()))

    @staticmethod
    def _retry_after_seconds(header: str) -> float | None:
        """``Retry-After`` as seconds from now: delay-seconds or an HTTP date; ``None`` if unreadable."""
        try:
            return max(0.0, float(header))
        except ValueError:
            pass
        try:
            when = parsedate_to_datetime(header)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            return None
        return max(0.0, when.timestamp() - time.time())

    async def query_range_answer(self, promql: str, plan: QueryPlan) -> RangeAnswer:
        """The matrix, with the warnings Prometheus gave with it (non-empty: a partial answer)."""
        answer = await self._call(
            "/api/v1/query_range",
            {"query": promql, "start": f"{plan.start:.3f}", "end": f"{plan.end:.3f}", "step": str(plan.step)},
            decode=decode_range_answer,
        )
        data = answer.data
        if not isinstance(data, dict) or data.get("resultType") != "matrix":
            raise DependencyFailed(PROMETHEUS, "query_range answered something other than a matrix")
        return RangeAnswer(data.get("result", []), answer.warnings)

    async def query_range(self, promql: str, plan: QueryPlan) -> list[MatrixSeries]:
        return (await self.query_range_answer(promql, plan)).result

    async def metric_names(self, names: Iterable[str], start: float, end: float, matchers: str = "") -> set[str]:
        """Which of ``names`` have series in ``[start, end]`` (``matchers``: extra label matchers)."""
        return set(await self.label_values("__name__", names, start, end, matchers))

    async def names_at(self, names: Iterable[str], at: float, matchers: str = "") -> set[str]:
        """Which of ``names`` have a sample within Prometheus's lookback (5 minutes) before ``at``
        (``matchers``: extra label matchers). Exact to the sample, where the label-values API is only as
        exact as the blocks: the head block names every series it holds, whatever the range asked."""
        result = await self.query(f"group by (__name__) ({_names_selector(names, matchers)})", at)
        return {str(item.get("metric", {}).get("__name__", "")) for item in result} - {""}

    async def label_values(
        self, label: str, names: Iterable[str], start: float, end: float, matchers: str = ""
    ) -> list[str]:
        """The values ``label`` takes on the series of ``names`` in ``[start, end]``."""
        answer = await self._call(
            f"/api/v1/label/{label}/values",
            {"match[]": _names_selector(names, matchers), "start": f"{start:.3f}", "end": f"{end:.3f}"},
            method="GET",
        )
        return [str(v) for v in answer.data or []]

    async def query(self, promql: str, at: float) -> list[dict[str, Any]]:
        answer = await self._call("/api/v1/query", {"query": promql, "time": f"{at:.3f}"})
        result: list[dict[str, Any]] = (answer.data or {}).get("result", [])
        return result

    async def cores(self) -> int | None:
        """How many cores the server's query engine may use: Prometheus's ``GOMAXPROCS`` from
        ``/api/v1/status/runtimeinfo``; ``None`` where the server does not say (Mimir and Amazon Managed
        Prometheus have no such endpoint) or does not answer."""
        try:
            answer = await self._call("/api/v1/status/runtimeinfo", {}, method="GET")
        except DependencyError:
            return None
        value = answer.data.get("GOMAXPROCS") if isinstance(answer.data, dict) else None
        return value if isinstance(value, int) and value > 0 else None

    async def check(self) -> None:
        """Raise unless Prometheus answers a trivial query."""
        await self._call("/api/v1/query", {"query": "1"})


# --- the collector ---------------------------------------------------------------------------

_DIALECT_PROBES: Mapping[Dialect, tuple[str, ...]] = {
    Dialect.OPENTELEMETRY: ("service_requests_total", "persistence_latency_milliseconds_bucket"),
    Dialect.TALLY: ("service_requests", "persistence_latency_bucket"),
}


def _points(item: MatrixSeries) -> Series:
    """One matrix series' finite points."""
    points = dict(item.values)
    if math.isfinite(sum(points.values())):  # the common case, checked in C
        return points
    isfinite = math.isfinite
    return {ts: value for ts, value in points.items() if isfinite(value)}


def _add_into(into: dict[Any, Series], key: Any, points: Series) -> None:
    """``points`` added to the series ``into[key]`` (taken as it is when there is none yet)."""
    series = into.get(key)
    if series is None:
        into[key] = points
    else:
        _add(series, points, "sum")


def _matrix_to_series(result: Sequence[MatrixSeries]) -> Series:
    out: Series = {}
    for item in result:
        points = _points(item)
        if out:
            _add(out, points, "sum")
        else:
            out = points
    return out


def _matrix_by_group(result: Sequence[MatrixSeries], labels: Sequence[str]) -> Grouped:
    out: Grouped = {}
    for item in result:
        metric = item.metric
        _add_into(out, tuple(metric.get(label, "") for label in labels), _points(item))
    return out


def _matrix_by_split_le(result: Sequence[MatrixSeries], labels: Sequence[str]) -> SplitBuckets:
    out: SplitBuckets = {}
    for item in result:
        metric = item.metric
        le = metric.get("le")
        if le is None:
            continue
        group = tuple(metric.get(label, "") for label in labels)
        _add_into(out.setdefault(group, {}), float(le), _points(item))
    return out


def parse_matrix(query: SeriesQuery, result: Sequence[MatrixSeries]) -> Any:
    """A query's matrix as the collector keeps it: a histogram's buckets (per split series when split), a
    grouped or split query's series per group (:func:`fetched_labels`), or one series."""
    if isinstance(query, BucketRates):
        return _matrix_by_split_le(result, query.split) if query.split else _matrix_by_le(result)
    labels = fetched_labels(query)
    return _matrix_by_group(result, labels) if labels else _matrix_to_series(result)


def _matrix_by_le(result: Sequence[MatrixSeries]) -> dict[float, Series]:
    out: dict[float, Series] = {}
    for item in result:
        le = item.metric.get("le")
        if le is not None:
            _add_into(out, float(le), _points(item))
    return out


@dataclass(frozen=True)
class BuildInfo:
    """The server build reported by ``build_information`` (tally's underscores read back as dots)."""

    version: str
    git_revision: str | None = None


CPU_AUTO = "auto"
CPU_NONE = "none"
CONCURRENCY_UNKNOWN_CORES = 4
"""Queries in flight when the server does not say how many cores it has (Mimir, Amazon Managed Prometheus)."""
MAX_CONCURRENCY = 64


class TelemetryCollector:
    """Collects the catalogue's telemetry summary for one scope and window.

    ``cpu_source``: ``auto`` (default) detects the platform CPU metrics in the window
    (:data:`~behaviour_profiles.catalogue.CPU_PLATFORMS`, in order), ``none`` never reads CPU, or a
    platform name forces that one.

    ``concurrency``: the most queries in flight; ``None`` (default) asks the server how many cores its
    query engine may use (:meth:`PrometheusClient.cores`, remembered once answered) and runs that many,
    else :data:`CONCURRENCY_UNKNOWN_CORES`. A Prometheus evaluates each query on one core, so more queries
    than cores only take turns, and the heaviest families then slow each other down.

    ``narrow_buckets``: whether a raw histogram is read for only the buckets its percentiles need
    (:class:`BucketNarrowing`: the same numbers, fewer samples for Prometheus to decode). ``None`` (default):
    where it pays, for steps of :data:`NARROW_MIN_STEP_SCRAPES` scrape intervals or more; ``True``: in any
    window of :data:`NARROW_MIN_POINTS` points or more; ``False``: never, every bucket is read.
    """

    def __init__(
        self,
        client: PrometheusClient,
        *,
        scrape_interval_s: int = 15,
        cluster_label: str | None = None,
        dialect: Dialect | None = None,
        concurrency: int | None = None,
        specs: Sequence[MetricSpec] = CATALOGUE,
        cpu_source: str = CPU_AUTO,
        use_recorded: bool = True,
        narrow_buckets: bool | None = None,
    ) -> None:
        if cpu_source not in (CPU_AUTO, CPU_NONE, *CPU_PLATFORMS):
            raise ValueError(f"cpu_source must be one of {CPU_AUTO}, {CPU_NONE}, {', '.join(CPU_PLATFORMS)}")
        self._client = client
        self._scrape = scrape_interval_s
        self._cluster_label = cluster_label or None
        self._dialect = dialect
        self._concurrency = None if concurrency is None else max(1, concurrency)
        self._specs = tuple(specs)
        self._cpu_source = cpu_source
        self._use_recorded = use_recorded
        self._narrow_buckets = narrow_buckets
        self._slugs = record_slugs(self._specs)

    @property
    def client(self) -> PrometheusClient:
        return self._client

    async def in_flight(self) -> int:
        """The most queries in flight: as set, else as many as the server's cores (remembered once the
        server has said; a server that does not say is asked again at the next collection)."""
        if self._concurrency is None:
            cores = await self._client.cores()
            if cores is None:
                return CONCURRENCY_UNKNOWN_CORES
            self._concurrency = min(cores, MAX_CONCURRENCY)
        return self._concurrency

    def _cluster_matcher(self, scope: Scope) -> str:
        return f'{self._cluster_label}="{_escape(scope.cluster_id)}"' if self._cluster_label else ""

    async def recording_status(self, scope: Scope, start: datetime, end: datetime) -> RecordingRulesStatus:
        """Which metrics a profile of the window would read from the recorded series of this version's
        rules, and why the others would be read raw (:func:`recorded_states`); looked up even where the
        collector is told not to use them (``in_use`` says so)."""
        plan, scope = self._planned(scope, start, end)
        detected = await self.detect(plan, scope, always=True)
        recorded = detected.recorded
        specs = {spec.key: spec for spec in with_cpu_platform(self._specs, detected.platform)}
        states = recorded_states(list(specs.values()), recorded)
        metrics = [
            RecordedMetric(
                metric=key,
                state=state,
                reads=STATE_WORDS[state],
                series=sorted({recorded.found[q].name for q in series_queries(specs[key]) if q in recorded.found}),
            )
            for key, state in states.items()
        ]
        return RecordingRulesStatus(
            cluster_id=scope.cluster_id,
            namespace=scope.namespace,
            task_queue=scope.task_queue,
            time_window_start=start,
            time_window_end=end,
            dialect=detected.dialect.value,
            in_use=self._use_recorded,
            summary=rules_summary(states, in_use=self._use_recorded),
            metrics=metrics,
        )

    async def detect(self, plan: QueryPlan, scope: Scope, *, always: bool = False) -> Detected:
        """The naming dialect, the CPU platform and the recorded series of the window
        (:meth:`detect_recorded`), from one round of metric-name look-ups: the raw names over the window
        (dialect probes, CPU probes, the catalogue's raw names), and the recorded names at its two ends;
        for every dialect the window may be in when the dialect is not set."""
        dialects = (self._dialect,) if self._dialect is not None else tuple(_DIALECT_PROBES)
        probes: set[str] = set()
        if self._dialect is None:
            probes.update(name for names in _DIALECT_PROBES.values() for name in names)
        if self._cpu_source == CPU_AUTO:
            probes.update(platform.probe for platform in CPU_PLATFORMS.values())
        found = await self._look_up(plan, scope, dialects, probes, always=always)
        present = found.present
        dialect = self._dialect
        if dialect is None:
            dialect = next(
                (d for d, names in _DIALECT_PROBES.items() if present.intersection(names)), Dialect.OPENTELEMETRY
            )
        if self._cpu_source == CPU_AUTO:
            platform = next((p for p in CPU_PLATFORMS.values() if p.probe in present), None)
        else:
            platform = CPU_PLATFORMS.get(self._cpu_source)
        return Detected(dialect, platform, found.recorded(dialect))

    async def detect_recorded(self, plan: QueryPlan, scope: Scope, dialect: Dialect) -> RecordedSeries:
        """The series queries whose recorded series (:func:`recording_rules`) cover the window: present
        both at its start and at its end (rules installed or backfilled part-way through are read raw),
        for a whole cluster from its own view where there is one (:attr:`RuleView.CLUSTER`, far fewer
        series), then from the coarsest tier whose rate window fits the plan's; and the queries whose raw
        series are there without recorded ones. Nothing when told not to use them."""
        return (await self._look_up(plan, scope, (dialect,), set())).recorded(dialect)

    async def _look_up(
        self, plan: QueryPlan, scope: Scope, dialects: Sequence[Dialect], probes: set[str], *, always: bool = False
    ) -> _LookedUp:
        views = (RuleView.CLUSTER, RuleView.SCOPED) if not scope.values() else (RuleView.SCOPED,)
        recording = (self._use_recorded or always) and bool(self._slugs)
        candidates = {
            dialect: {
                query: [
                    Recorded(
                        recorded_name(query, slug, dialect, tier, view),
                        tier,
                        view_labels(query, view, self._cluster_label),
                        rule_form(query, slug, dialect, self._cluster_label, tier, view),
                    )
                    for view in views
                    if view in rule_views(query)
                    for tier in sorted(rule_tiers(query), key=lambda t: -t.interval_s)
                    if tier.window_s <= plan.rate_window
                ]
                for query, slug in self._slugs.items()
            }
            for dialect in (dialects if recording else ())
        }
        options = [r for by_query in candidates.values() for rs in by_query.values() for r in rs]
        names = {r.name for r in options}
        forms = "|".join(sorted({r.form for r in options}))
        raw = {
            dialect: {query: {t.name.for_dialect(dialect) for t in _terms_of_query(query)} for query in by_query}
            for dialect, by_query in candidates.items()
        }
        probes = probes | {n for by_query in raw.values() for ns in by_query.values() for n in ns}
        matchers = self._cluster_matcher(scope)

        async def names_at(at: float, form: str) -> set[str]:
            # a histogram's recorded name is there where its +Inf bucket is: a thirtieth of its series to read
            extra = ",".join(m for m in (matchers, form, 'le=~"[+]Inf|"') if m)
            return await self._client.names_at(names, at, extra) if names else set()

        async def raw_names() -> set[str]:
            return await self._client.metric_names(probes, plan.start, plan.end, matchers) if probes else set()

        # a recorded name counts in this version's form only, where it has samples at both ends; in any
        # other form (an older rules file's) it is looked up apart, at the window's end, to say so
        present, head, tail, other = await asyncio.gather(
            raw_names(),
            names_at(plan.start, f'{FORM_LABEL}=~"{forms}"'),
            names_at(plan.end, f'{FORM_LABEL}=~"{forms}"'),
            names_at(plan.end, f'{FORM_LABEL}!~"{forms}"'),
        )
        return _LookedUp(present, head, tail, other, candidates, raw)

    def queries(
        self,
        dialect: Dialect,
        scope: Scope,
        plan: QueryPlan,
        specs: Sequence[MetricSpec] | None = None,
        recorded: Mapping[SeriesQuery, Recorded] | None = None,
    ) -> dict[SeriesQuery, Ask]:
        """Every distinct series query the catalogue (or ``specs``) needs, with how it is asked: read from
        its recorded series where ``recorded`` names them, else from raw series, raw counters that several
        read asked once for all of them (:func:`share_counters`). Histograms come first (the most finely
        grouped first), then the other raw queries: the heaviest queries start first so that the last one
        to end is short."""
        recorded = recorded or {}
        specs = self._specs if specs is None else specs
        percentiles: dict[SeriesQuery, set[float]] = {}
        for spec in specs:
            if isinstance(spec.computation, Quantile):
                percentiles.setdefault(spec.computation.buckets, set()).add(spec.computation.q)
        pays = plan.step >= NARROW_MIN_STEP_SCRAPES * self._scrape
        narrow = self._narrow_buckets is not False and len(plan.grid()) >= NARROW_MIN_POINTS
        narrow = narrow and (self._narrow_buckets or pays)
        out: dict[SeriesQuery, Ask] = {}
        for spec in specs:
            for query in series_queries(spec):
                if query in out:
                    continue
                if query in recorded:
                    out[query] = Ask(render_recorded(query, recorded[query], dialect, scope, plan))
                elif narrow and isinstance(query, BucketRates) and query in percentiles:
                    narrowed = Narrowed(query, tuple(sorted(percentiles[query])), dialect, scope, plan.rate_window)
                    out[query] = Ask(narrowed.promql(), narrowed=narrowed)
                else:
                    out[query] = Ask(render(query, dialect, scope, plan.rate_window))
        out.update(share_counters([q for q in out if q not in recorded], dialect, scope, plan.rate_window))

        def weight(query: SeriesQuery) -> tuple[int, int]:
            # histograms grouped by more labels first: the largest answers, for Prometheus and for the API
            groups = len(grouped_labels(query, scope.values()))
            return (0 if isinstance(query, BucketRates) else 2) + (1 if query in recorded else 0), -groups

        return {query: out[query] for query in sorted(out, key=weight)}

    async def run_queries(
        self,
        asks: Mapping[SeriesQuery, Ask],
        plan: QueryPlan,
        into: CatalogueSummary | None = None,
    ) -> dict[SeriesQuery, Any]:
        """Every query's series, each distinct PromQL asked once. With ``into``, each answer (and the
        warning of a partial one) is added to it as it arrives and the metrics it completes are summarised
        one at a time between answers, after the freed query slot has sent its next query."""
        semaphore = asyncio.Semaphore(await self.in_flight())
        results: dict[SeriesQuery, Any] = {}
        arrived = asyncio.Event()
        sharing: dict[str, list[SeriesQuery]] = {}
        for query, ask in asks.items():
            sharing.setdefault(ask.promql, []).append(query)

        async def one(text: str, queries: list[SeriesQuery]) -> None:
            narrowed = asks[queries[0]].narrowed  # a histogram's query: never shared
            answers: dict[SeriesQuery, Any]
            warnings: Sequence[str]
            if narrowed is not None:
                parsed, warnings = await self._read_buckets(narrowed, plan, semaphore)
                answers = {narrowed.query: parsed}
            else:
                async with semaphore:
                    answer = await self._client.query_range_answer(text, plan)
                answers = {query: parse_matrix(query, shared_part(asks[query], answer.result)) for query in queries}
                warnings = answer.warnings
            for query in queries:
                results[query] = answers[query]
                if into is not None:
                    into.add(query, results[query], "; ".join(warnings) if warnings else None)
            arrived.set()

        async def summarise_meanwhile(summary: CatalogueSummary) -> None:
            while True:
                await arrived.wait()
                arrived.clear()
                await asyncio.sleep(0)  # the next query goes out first
                if summary.summarise_one():
                    arrived.set()  # more may be ready: after the other tasks' turn

        try:
            async with asyncio.TaskGroup() as group:
                meanwhile = group.create_task(summarise_meanwhile(into)) if into is not None else None
                async with asyncio.TaskGroup() as queries:
                    for text, sharers in sharing.items():
                        queries.create_task(one(text, sharers))
                if meanwhile is not None:
                    meanwhile.cancel()
        except ExceptionGroup as eg:
            raise _first_leaf(eg) from None
        return results

    async def _read_buckets(
        self, narrowed: Narrowed, plan: QueryPlan, semaphore: asyncio.Semaphore
    ) -> tuple[Any, list[str]]:
        """A raw histogram's answer, parsed, read for only the buckets its percentiles read
        (:class:`BucketNarrowing`): its ``le`` values in the window, every bucket at a few instants, then
        the buckets those call for, then any that the answer so far calls for, until none; with the
        warnings of the reads that make it up. Read whole where leaving buckets out cannot pay (few
        bounds, or none the server names)."""
        query = narrowed.query
        async with semaphore:
            # (from the first rate window's start: the first point's rates read the samples before it)
            since = plan.start - plan.rate_window
            le_values = await self._client.label_values("le", [narrowed.name], since, plan.end, narrowed.matchers)
            narrowing = BucketNarrowing(query, narrowed.qs, le_values)
            if not narrowing.worth_it:
                answer = await self._client.query_range_answer(narrowed.promql(), plan)
                return parse_matrix(query, answer.result), list(answer.warnings)
            looks = await asyncio.gather(
                *(self._client.query_range_answer(narrowed.promql(), at) for at in probe_plans(plan))
            )
        result: list[MatrixSeries] = []
        warnings: list[str] = []
        parsed: Any = parse_matrix(query, [])
        wanted = narrowing.first(parse_matrix(query, [item for look in looks for item in look.result]))
        while wanted:
            async with semaphore:
                answer = await self._client.query_range_answer(narrowed.promql(narrowing.matcher(wanted)), plan)
            result.extend(answer.result)
            warnings.extend(answer.warnings)
            parsed = parse_matrix(query, result)
            wanted = narrowing.more(parsed)
        return parsed, warnings

    def _planned(self, scope: Scope, start: datetime, end: datetime) -> tuple[QueryPlan, Scope]:
        """The window's query plan, and ``scope`` with the collector's cluster label."""
        scoped = Scope(scope.cluster_id, scope.namespace, scope.task_queue, self._cluster_label)
        return plan_window(start, end, self._scrape), scoped

    async def collect(self, scope: Scope, start: datetime, end: datetime) -> TelemetrySummary:
        plan, scope = self._planned(scope, start, end)
        detected, _ = await asyncio.gather(self.detect(plan, scope), self.in_flight())
        dialect, recorded = detected.dialect, detected.recorded
        specs = with_cpu_platform(self._specs, detected.platform)
        summary = CatalogueSummary(dialect, specs)
        queried = self.run_queries(self.queries(dialect, scope, plan, specs, recorded.found), plan, into=summary)
        if scope.task_queue is None:  # which task queues the server names (a named one is checked apart)
            _, queues = await asyncio.gather(
                queried, self.known_values(scope, "task_queue", Source.SERVER, dialect, start, end)
            )
        else:
            await queried
            queues = []
        metrics = summary.finish(plan)
        notes = []
        if len(specs) < len(self._specs):
            notes.append(CPU_OFF if self._cpu_source == CPU_NONE else CPU_EXPLANATION)
        if recorded.found or recorded.outdated:
            notes.append(recorded_note(recorded_states(specs, recorded)))
        short = short_window_note(plan)
        if short is not None:
            notes.append(short)
        unnamed, named_too = names_queues(queues)
        if unnamed:
            metrics, note = with_unnamed_queues(metrics, specs, named_too=named_too)
            notes.append(note)
        with_data = sum(1 for m in metrics.values() if m.status is MetricStatus.OK)
        return TelemetrySummary(
            dialect=dialect.value,
            step_seconds=plan.step,
            metrics=metrics,
            coverage=Coverage(
                with_data=with_data, asked=len(metrics), scope=scope_coverage(specs, metrics, scope, dialect)
            ),
            notes=notes,
        )

    async def known_values(
        self, scope: Scope, dimension: str, source: Source, dialect: Dialect, start: datetime, end: datetime
    ) -> list[str]:
        """The values of ``dimension`` that ``source``'s scoped series carry in the window, as exported
        (within the cluster, and within the namespace when looking for task queues)."""
        label = scope_label(source, dimension)
        if label is None:
            return []
        names = sorted(
            {
                term.name.for_dialect(dialect)
                for spec in self._specs
                if source in scoped_sources(spec, dimension)
                for term in terms_of(spec)
                if term.source is source
            }
        )
        if not names:
            return []
        matchers = [self._cluster_matcher(Scope(scope.cluster_id, None, None))]
        if dimension == "task_queue" and scope.namespace:
            ns_label = scope_label(source, "namespace") or "namespace"
            matchers.append(f'{ns_label}="{_escape(exported_value(scope.namespace, source, dialect))}"')
        plan = plan_window(start, end, self._scrape)
        return sorted(
            await self._client.label_values(label, names, plan.start, plan.end, ",".join(m for m in matchers if m))
        )

    async def server_version(self, scope: Scope, start: datetime, end: datetime) -> BuildInfo | None:
        """The Temporal server build reported by ``build_information`` in the window, if any."""
        plan = plan_window(start, end, self._scrape)
        matchers = self._cluster_matcher(scope)
        span = max(int(plan.end - plan.start), self._scrape)
        promql = f"max by (build_version, git_revision) (max_over_time(build_information{{{matchers}}}[{span}s]))"
        builds: Counter[tuple[str, str | None]] = Counter()
        for item in await self._client.query(promql, plan.end):
            labels = item.get("metric", {})
            version = labels.get("build_version")
            if version:
                builds[(version_from_tally(version), labels.get("git_revision") or None)] += 1
        if not builds:
            return None
        version, revision = builds.most_common(1)[0][0]
        return BuildInfo(version, revision)


@dataclass(frozen=True)
class Detected:
    """What :meth:`TelemetryCollector.detect` found in a window."""

    dialect: Dialect
    platform: CpuPlatform | None
    recorded: RecordedSeries


@dataclass(frozen=True)
class _LookedUp:
    """One round of metric-name look-ups: raw names over the window, recorded names at its two ends."""

    present: set[str]
    head: set[str]
    """recorded names in this version's form at the window's start"""
    tail: set[str]
    """recorded names in this version's form at the window's end"""
    other: set[str]
    """recorded names in another form (another version's rules) at the window's end"""
    candidates: Mapping[Dialect, Mapping[SeriesQuery, list[Recorded]]]
    raw: Mapping[Dialect, Mapping[SeriesQuery, set[str]]]

    def recorded(self, dialect: Dialect) -> RecordedSeries:
        found: dict[SeriesQuery, Recorded] = {}
        candidates = self.candidates.get(dialect, {})
        for query, options in candidates.items():
            usable = next((r for r in options if r.name in self.head and r.name in self.tail), None)
            if usable is not None:
                found[query] = usable
        raw = self.raw.get(dialect, {})
        missing = tuple(query for query in candidates if query not in found and raw[query] & self.present)

        def at_end(query: SeriesQuery, names: set[str]) -> bool:
            return any(r.name in names for r in candidates[query])

        outdated = tuple(q for q in missing if at_end(q, self.other) and not at_end(q, self.tail))
        late = tuple(q for q in missing if at_end(q, self.tail))
        return RecordedSeries(found, missing, outdated, late, frozenset(candidates))


@dataclass(frozen=True)
class RecordedSeries:
    """What :meth:`TelemetryCollector.detect_recorded` found in a window."""

    found: dict[SeriesQuery, Recorded]
    """query -> its recorded series, for the queries whose recorded series cover the window"""
    missing: tuple[SeriesQuery, ...]
    """queries with raw series in the window but no recorded ones covering it (read raw)"""
    outdated: tuple[SeriesQuery, ...] = ()
    """those of ``missing`` whose recorded series at the window's end are all of another form: written
    by the rules file of another version, whose expression differs from this version's"""
    late: tuple[SeriesQuery, ...] = ()
    """those of ``missing`` whose recorded series are there at the window's end but not at its start"""
    looked_up: frozenset[SeriesQuery] = frozenset()
    """the queries whose recorded series were looked for (none when told not to use them)"""


def recorded_states(specs: Sequence[MetricSpec], recorded: RecordedSeries) -> dict[str, RecordedState]:
    """How each metric of ``specs`` that reads series is read over the window (pure): from recorded
    series where none of its queries with raw series lacks them, else raw, and why."""
    states: dict[str, RecordedState] = {}
    for spec in specs:
        queries = series_queries(spec)
        if not queries:
            continue
        if not all(q in recorded.looked_up for q in queries):
            states[spec.key] = RecordedState.NOT_RECORDED
        elif any(q in recorded.outdated for q in queries):
            states[spec.key] = RecordedState.OLDER_RULES
        elif any(q in recorded.late for q in queries):
            states[spec.key] = RecordedState.PARTIAL
        elif any(q in recorded.missing for q in queries):
            states[spec.key] = RecordedState.ABSENT
        elif any(q in recorded.found for q in queries):
            states[spec.key] = RecordedState.RECORDED  # its other queries have no series at all
        else:
            states[spec.key] = RecordedState.NO_DATA
    return states


OLDER_RULES_WORDS = (
    "their recorded series come from another version's rules file (install this version's, see "
    "docs/deploy.md, Recording rules)"
)
NOT_COVERING_WORDS = "their recorded series do not cover the window"


def recorded_note(states: Mapping[str, RecordedState]) -> str:
    """A profile's note on the recording rules (:func:`recorded_states`): how many metrics were read from
    recorded series, and which were read raw although their raw series exist, and why."""

    def keys(*wanted: RecordedState) -> list[str]:
        return [key for key, state in states.items() if state in wanted]

    recorded, older = keys(RecordedState.RECORDED), keys(RecordedState.OLDER_RULES)
    not_covering = keys(RecordedState.PARTIAL, RecordedState.ABSENT)
    note = (
        f"Recording rules: {len(recorded)} of {len(states)} metrics were read from the recorded series of the "
        "behaviour-profiles rules"
    )
    if not_covering:
        note += f"; read from raw series, {NOT_COVERING_WORDS}: {', '.join(not_covering)}"
    if older and not recorded and not not_covering:
        note += f"; every metric they record was read from raw series, {OLDER_RULES_WORDS}"
    elif older:
        note += f"; read from raw series, {OLDER_RULES_WORDS}: {', '.join(older)}"
    return note + "."


STATE_WORDS: Mapping[RecordedState, str] = {
    RecordedState.RECORDED: "read from this version's recorded series",
    RecordedState.OLDER_RULES: "read raw, recorded by another version's rules file only (install this version's)",
    RecordedState.PARTIAL: "read raw, recorded from within the window on (rules or data begun part-way: "
    "backfill the rules to read it from them)",
    RecordedState.ABSENT: "read raw, not recorded (install the rules for this cluster, or check "
    "PROMETHEUS_CLUSTER_LABEL)",
    RecordedState.NO_DATA: "with no data at all",
    RecordedState.NOT_RECORDED: "read raw, not in the rules (platform CPU)",
}


def rules_summary(states: Mapping[str, RecordedState], *, in_use: bool) -> str:
    """:meth:`TelemetryCollector.recording_status` in one sentence: how many metrics a profile of the
    window would read from recorded series, then how many of the others are in each state (pure)."""
    count = Counter(states.values())
    text = (
        f"{count[RecordedState.RECORDED]} of {len(states)} metrics would be read from the recorded series of "
        "this version's rules"
    )
    others = [
        f"{count[state]} {words}"
        for state, words in STATE_WORDS.items()
        if count[state] and state is not RecordedState.RECORDED
    ]
    if others:
        text += "; " + "; ".join(others)
    if not in_use:
        text += ". The API is set not to read them (PROMETHEUS_RECORDING_RULES=false): every profile reads raw series"
    return text + "."


def _first_leaf(group: BaseExceptionGroup[Any]) -> BaseException:
    first = group.exceptions[0]
    return _first_leaf(first) if isinstance(first, BaseExceptionGroup) else first

"""Where a metric lives: its top contributors at creation, and where a regression moved between two profiles.

Pure: no I/O. The collector splits a key metric's series queries by one more label (the catalogue's
``split``: task queue, operation, namespace, ...), computes the metric on each series alone and weighs it
(:func:`tail_above`, :func:`worse_part`); :func:`top_contributors` keeps the few that carry most of it.
A comparison then names, for each regression, the contributors whose share or value moved most
(:func:`attribute`); a drift check does the same with the baseline as the old side and the current
window as the new one, where both kept contributors. ``docs/comparison.md`` states the rules with a worked example.
"""

from __future__ import annotations

import math
from bisect import bisect_left
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

from behaviour_profiles.breakdown import UNNAMED_TASK_QUEUE, UNNAMED_WORDS
from behaviour_profiles.catalogue import ACTIVITY_TIMEOUT_OPERATION, HUNG_TIMEOUT_TYPES
from behaviour_profiles.formatting import format_change, format_value
from behaviour_profiles.models import (
    Attribution,
    Better,
    Contributor,
    ContributorChange,
    Contributors,
    Direction,
    MetricSummary,
    ShareOf,
    TelemetryDiff,
)

MAX_CONTRIBUTORS = 5
"""At most this many contributors are kept per metric, and named per regression: documents stay small."""

SHARE_MOVE_POINTS = 5.0
"""A share that moved by fewer percentage points than this has not moved."""

Sides = tuple[str, str]
"""The old and the new side as a statement names them: ``("profile A", "profile B")`` in a comparison,
``("the baseline", "the current window")`` in drift."""
PROFILE_SIDES: Sides = ("profile A", "profile B")

_ACTIVITY_OUTCOME_WORDS: Mapping[str, str] = {
    "RespondActivityTaskFailed": "failed attempts",
    ACTIVITY_TIMEOUT_OPERATION: "timeouts",
}
"""How an activity attempt ended, by the operation history counts it under; a timeout's words are
preceded by its ``timeout_type`` (``StartToClose timeouts``)."""

_LABEL_WORDS: tuple[tuple[str, str, str], ...] = (
    # label, words when it stands alone, words after another label
    ("activityType", "activity {}", "of activity {}"),
    ("taskqueue", "task queue {}", "in task queue {}"),
    ("task_queue", "task queue {}", "in task queue {}"),
    ("operation", "operation {}", "operation {}"),
    ("resource_exhausted_cause", "requests refused by {}", "refused by {}"),
    ("failure", "workflow tasks failed with {}", "failed with {}"),
    ("worker_type", "worker type {}", "worker type {}"),
    ("namespace", "namespace {}", "in namespace {}"),
    ("service_name", "service {}", "on {}"),
)


@dataclass(frozen=True)
class Candidate:
    """One series of a split metric before ranking: its labels, its own value and its weight."""

    labels: Mapping[str, str]
    value: float | None
    weight: float


# --- at creation: the top contributors --------------------------------------------------------


def top_contributors(by: Sequence[str], share_of: ShareOf, candidates: Iterable[Candidate]) -> Contributors | None:
    """The at most :data:`MAX_CONTRIBUTORS` candidates with the largest weight, each with its share.

    Labels without a value are left out of a contributor's labels; when no candidate has any label (the
    series do not carry the split labels, e.g. recorded series from rules older than the split) there is
    nothing to name and the answer is ``None``. With no weight at all (nothing failed, no slow tail) every
    share is 0 and the largest values come first.
    """
    named = [
        Candidate({k: v for k, v in c.labels.items() if v}, c.value, max(0.0, c.weight))
        for c in candidates
        if math.isfinite(c.weight)
    ]
    if not named or not any(c.labels for c in named):
        return None
    total = math.fsum(c.weight for c in named)
    top = [
        Contributor(labels=dict(c.labels), value=c.value, share=c.weight / total if total > 0 else 0.0)
        for c in _ranked(named)[:MAX_CONTRIBUTORS]
    ]
    rest = max(0.0, 1.0 - math.fsum(c.share for c in top)) if total > 0 else 0.0
    return Contributors(by=list(by), share_of=share_of, top=top, rest_share=min(rest, 1.0), series=len(named))


def _ranked(candidates: Iterable[Candidate]) -> list[Candidate]:
    """Largest weight first, then largest own value, then by labels (so any input order ranks the same)."""
    return sorted(
        candidates,
        key=lambda c: (-c.weight, -(c.value if c.value is not None else -math.inf), sorted(c.labels.items())),
    )


def pool_contributors(sides: Sequence[tuple[Contributors | None, float]]) -> Contributors | None:
    """Several profiles' top contributors of one metric pooled, as a rolling baseline pools the metric's
    statistics: each series' share and own value averaged over the profiles, weighted by the number given
    with each (the metric's sample count there).

    A series outside one profile's top counts there with no share (its share there was at most that
    profile's smallest kept one, and is not known) and no value. ``None`` when any profile kept none, or
    the profiles split or weighed the metric otherwise (another catalogue): nothing to pool honestly."""
    if not sides or any(kept is None for kept, _ in sides):
        return None
    kept = [(c, max(w, 1.0)) for c, w in sides if c is not None]
    first = kept[0][0]
    if any(c.by != first.by or c.share_of is not first.share_of for c, _ in kept):
        return None
    total = math.fsum(w for _, w in kept)
    parts: dict[tuple[tuple[str, str], ...], list[float]] = {}
    values: dict[tuple[tuple[str, str], ...], list[tuple[float, float]]] = {}
    for contributors, weight in kept:
        for c in contributors.top:
            key = _key(c.labels)
            parts.setdefault(key, []).append(c.share * weight / total)
            if c.value is not None and math.isfinite(c.value):
                values.setdefault(key, []).append((c.value, weight))

    def value_of(key: tuple[tuple[str, str], ...]) -> float | None:
        known = values.get(key)
        return math.fsum(v * w for v, w in known) / math.fsum(w for _, w in known) if known else None

    # exactly rounded sums: the profiles' order cannot change a share, so neither the ranking
    ranked = _ranked(Candidate(dict(key), value_of(key), math.fsum(p)) for key, p in parts.items())
    top = [
        Contributor(labels=dict(c.labels), value=c.value, share=min(c.weight, 1.0)) for c in ranked[:MAX_CONTRIBUTORS]
    ]
    # what no pooled top holds: each profile's own rest, and the pooled shares ranked below the top
    rest = math.fsum(c.rest_share * w / total for c, w in kept) + math.fsum(c.weight for c in ranked[MAX_CONTRIBUTORS:])
    rest = min(max(rest, 0.0), 1.0)
    return Contributors(
        by=list(first.by), share_of=first.share_of, top=top, rest_share=rest, series=max(c.series for c, _ in kept)
    )


def contender_floor(weights: Iterable[float]) -> float:
    """The least weight a candidate needs to be able to rank among :func:`top_contributors`' top ones,
    whatever the values: the :data:`MAX_CONTRIBUTORS`-th largest weight as ranked there (``-inf`` when there
    are no more candidates than that). A candidate under it needs no value: weights rank first."""
    ranked = sorted((max(0.0, w) for w in weights if math.isfinite(w)), reverse=True)
    return ranked[MAX_CONTRIBUTORS - 1] if len(ranked) > MAX_CONTRIBUTORS else -math.inf


def tail_above(buckets: Sequence[tuple[float, float]], threshold: float) -> float:
    """How many of a histogram's observations lie above ``threshold``, from cumulative ``(upper_bound, count)``
    buckets, interpolating linearly inside the bucket that holds it (as ``histogram_quantile`` does)."""
    ordered = sorted(buckets)
    return tail_above_in_order([b for b, _ in ordered], [c for _, c in ordered], threshold)


def hung_attempts_of(contributors: Contributors | None) -> list[Contributor]:
    """The contributors of the activity failures that are attempts which hung past their timeout (history's
    timeout with a ``timeout_type`` of :data:`~behaviour_profiles.catalogue.HUNG_TIMEOUT_TYPES`): a worker
    took them and did not answer in time."""
    return [
        c
        for c in (contributors.top if contributors is not None else [])
        if c.labels.get("operation") == ACTIVITY_TIMEOUT_OPERATION
        and c.labels.get("timeout_type") in HUNG_TIMEOUT_TYPES
    ]


def threshold_bucket(bounds: Sequence[float], threshold: float) -> int:
    """The index of the first bound at or above ``threshold``: the bucket :func:`tail_above` interpolates in."""
    return bisect_left(bounds, threshold)


def can_rank(weights: Sequence[float]) -> list[bool]:
    """For each candidate's weight, whether it can still be among :func:`top_contributors`' top ones
    (:func:`contender_floor`): only those need a value."""
    floor = contender_floor(weights)
    return [max(0.0, weight) >= floor for weight in weights]


def tail_above_in_order(bounds: Sequence[float], counts: Sequence[float], threshold: float) -> float:
    """:func:`tail_above` of buckets already in bound order (``bounds`` ascending, ``counts`` theirs)."""
    if not bounds or not math.isfinite(threshold):
        return 0.0
    i = threshold_bucket(bounds, threshold)
    lower, lower_count = (bounds[i - 1], counts[i - 1]) if i > 0 else (0.0, 0.0)
    if i == len(bounds) or math.isinf(bounds[i]):
        below = lower_count  # past the last finite bound: the +Inf bucket is all above
    else:
        width = bounds[i] - lower
        frac = (threshold - lower) / width if width > 0 else 1.0
        below = lower_count + (counts[i] - lower_count) * min(max(frac, 0.0), 1.0)
    return max(0.0, counts[-1] - below)


def held_largest(series: Sequence[Mapping[float, float]]) -> list[float]:
    """For each series (instant -> value), at how many instants it was the largest of them all: the weight
    of a maximum's parts. Series tied for the largest share that instant equally; non-finite values and
    instants where every value is 0 (nothing to be largest of) count for none."""
    held = [0.0] * len(series)
    instants = sorted({t for points in series for t in points})
    for t in instants:
        values = [(i, points[t]) for i, points in enumerate(series) if t in points and math.isfinite(points[t])]
        if not values:
            continue
        top = max(v for _, v in values)
        if top <= 0:
            continue
        leaders = [i for i, v in values if v == top]
        for i in leaders:
            held[i] += 1.0 / len(leaders)
    return held


WeighPair = Callable[[float, float], float]


def _short_of(part: float, whole: float) -> float:
    """What ``part`` falls short of ``whole`` by (polls not matched at once, starts not closed)."""
    return max(whole - part, 0.0)


def _within(part: float, whole: float) -> float:
    return min(part, whole)


# per ratio form, what of ``(part, whole)`` raises the ratio and what lowers it. ``a/b`` is read as two
# rates of one unit (closes over starts): its excess raises it, its shortfall (the starts not closed)
# lowers it
_RAISES_AND_LOWERS: Mapping[str, tuple[WeighPair, WeighPair]] = {
    "a/(a+b)": (lambda part, whole: part, lambda part, whole: whole),
    "1-part/whole": (_short_of, _within),
    "part/whole": (_within, _short_of),
    "a/b": (lambda a, b: _short_of(b, a), _short_of),
}


def worse_part_of(form: str, better: Better) -> WeighPair:
    """:func:`worse_part` of one metric, as a function of ``(part, whole)``, chosen once for all its points."""
    raises, lowers = _RAISES_AND_LOWERS.get(form, _RAISES_AND_LOWERS["a/b"])
    return lowers if better is Better.HIGHER else raises


def worse_part(form: str, better: Better, part: float, whole: float) -> float:
    """The part of a ratio's inputs that makes the metric worse (see :class:`~behaviour_profiles.catalogue.Ratio`
    for the forms): what raises the ratio when lower is better, what lowers it when higher is better."""
    return worse_part_of(form, better)(part, whole)


# --- in a comparison: where a regression lives ------------------------------------------------


def describe_labels(labels: Mapping[str, str]) -> str:
    """A contributor in words: ``operation UpdateWorkflowExecution on history``, ``task queue main_queue in
    namespace default`` (``the task queues the server does not name in namespace default`` for the server's
    ``__omitted__``), ``StartToClose timeouts of activity work in task queue main_queue`` for the activity
    attempts history timed out; labels this module has no words for read ``label=value``."""
    known = {label for label, _, _ in _LABEL_WORDS}
    words: list[str] = []
    outcome = _ACTIVITY_OUTCOME_WORDS.get(labels.get("operation", ""))
    if outcome is not None:  # an activity attempt's end: "StartToClose timeouts of activity work in ..."
        words.append(" ".join(filter(None, (labels.get("timeout_type"), outcome))))
        labels = {k: v for k, v in labels.items() if k not in ("operation", "timeout_type")}
    for label, alone, after in _LABEL_WORDS:
        if label == "taskqueue" and labels.get(label) == UNNAMED_TASK_QUEUE:
            words.append(("in " if words else "") + UNNAMED_WORDS)
        elif label in labels:
            words.append((after if words else alone).format(labels[label]))
    words += [f"{label}={value}" for label, value in sorted(labels.items()) if label not in known]
    return " ".join(words) or "series without labels"


def lead_words(share_of: ShareOf, share: float, labels: Mapping[str, str]) -> str:
    """A contributor and its share in words, as the share reads for ``share_of``: "90 % of it from task
    queue orders_queue", or for a maximum "the largest in task queue orders_queue at 90 % of instants"."""
    if share_of is ShareOf.LARGEST:
        return f"the largest in {describe_labels(labels)} at {_pct(share)} of instants"
    return f"{_pct(share)} of it from {describe_labels(labels)}"


def _key(labels: Mapping[str, str]) -> tuple[tuple[str, str], ...]:
    return tuple(sorted(labels.items()))


def _pct(share: float) -> str:
    return format_value(share, "share")


def _change_pct(old: float | None, new: float | None) -> float | None:
    if old is None or new is None or old == 0:
        return None
    return (new - old) / abs(old) * 100.0


def _ceiling(side: Contributors | None) -> float:
    """The most a series missing from ``side``'s top can have had: no more than the smallest top share."""
    if side is None or not side.top:
        return 0.0
    return min([side.rest_share, *(c.share for c in side.top)])


def _changes(old: Contributors | None, new: Contributors) -> list[ContributorChange]:
    old_top = {_key(c.labels): c for c in old.top} if old is not None else {}
    new_top = {_key(c.labels): c for c in new.top}
    out: list[tuple[float, float, ContributorChange]] = []
    for key in dict.fromkeys([*new_top, *old_top]):
        was, now = old_top.get(key), new_top.get(key)
        old_share = was.share if was is not None else None
        new_share = now.share if now is not None else None
        old_value = was.value if was is not None else None
        new_value = now.value if now is not None else None
        change = ContributorChange(
            labels=dict(key),
            old_share=old_share,
            new_share=new_share,
            old_value=old_value,
            new_value=new_value,
            share_change_points=(
                (new_share - old_share) * 100.0 if old_share is not None and new_share is not None else None
            ),
            value_change_pct=_change_pct(old_value, new_value),
        )
        # ordered by the share gained (a side that did not keep it: at most its smallest kept share),
        # then by how much its own value rose
        gained = (new_share if new_share is not None else _ceiling(new)) - (
            old_share if old_share is not None else _ceiling(old) if old_top else 0.0
        )
        rose = change.value_change_pct if change.value_change_pct is not None else -math.inf
        out.append((gained, rose, change))
    out.sort(key=lambda item: (-item[0], -item[1], _key(item[2].labels)))
    return [change for _, _, change in out[:MAX_CONTRIBUTORS]]


def named_contributor(changes: Sequence[ContributorChange]) -> ContributorChange | None:
    """The contributor a statement names, among ``changes`` (ordered as :func:`attribute` orders them): the one
    that gained most share when it gained at least :data:`SHARE_MOVE_POINTS` or was not among the old side's
    top; otherwise (no share moved) the largest share on the new side. ``None`` when the new side kept none
    of them."""
    in_new = [c for c in changes if c.new_share is not None]
    if not in_new:
        return None
    moved = in_new[0]
    if moved.share_change_points is None or moved.share_change_points >= SHARE_MOVE_POINTS:
        return moved
    return max(in_new, key=lambda c: c.new_share or 0.0)


def _statement(
    diff: TelemetryDiff,
    old: Contributors | None,
    new: Contributors,
    changes: list[ContributorChange],
    sides: Sides,
) -> str:
    old_side, new_side = sides
    head = f"{diff.title} {diff.change_text or 'regressed'}"
    lead = named_contributor(changes)
    if lead is None:
        return f"{head}: no contributor kept in {new_side}."
    words = f"{head}: {lead_words(new.share_of, lead.new_share or 0.0, lead.labels)}"
    details: list[str] = []
    if old is None and diff.old_value == 0:
        details.append(f"{old_side} had none of it")  # nothing to split, rather than nothing kept
    elif old is None:
        details.append(f"{old_side} kept no contributors")
    elif lead.old_share is None:
        details.append(f"not among {old_side}'s top {len(old.top)}")
    elif lead.share_change_points is not None and abs(lead.share_change_points) >= SHARE_MOVE_POINTS:
        details.append(f"was {_pct(lead.old_share)}")
    else:
        details.append(f"as before, {_pct(lead.old_share)}: spread like the whole")
    if lead.value_change_pct is not None:
        details.append(f"its own value {format_change(lead.value_change_pct)}")
    return f"{words} ({'; '.join(details)})."


def attribute(
    diff: TelemetryDiff,
    old: MetricSummary | None,
    new: MetricSummary | None,
    *,
    sides: Sides = PROFILE_SIDES,
) -> Attribution | None:
    """Where ``diff``'s regression lives, from the contributors both sides kept for its metric (``None``
    when it is not a regression or the new side kept none); ``sides`` names them in the statement."""
    if diff.direction is not Direction.REGRESSED or new is None or new.contributors is None:
        return None
    before = old.contributors if old is not None else None
    if before is not None and before.by != new.contributors.by:
        before = None  # split otherwise (another catalogue): nothing to match
    changes = _changes(before, new.contributors)
    return Attribution(
        metric=diff.metric,
        title=diff.title,
        unit=diff.unit,
        by=new.contributors.by,
        share_of=new.contributors.share_of,
        contributors=changes,
        statement=_statement(diff, before, new.contributors, changes, sides),
    )


def attribute_regressions(
    diffs: Iterable[TelemetryDiff],
    old: Mapping[str, MetricSummary],
    new: Mapping[str, MetricSummary],
    *,
    sides: Sides = PROFILE_SIDES,
    both_sides: bool = False,
) -> list[Attribution]:
    """An attribution for every regression beyond its threshold whose metric kept contributors on the new
    side (``both_sides``: on the old side too), in ``diffs``' order."""
    out = []
    for diff in diffs:
        if not diff.beyond_threshold:
            continue
        before = old.get(diff.metric)
        if both_sides and (before is None or before.contributors is None):
            continue
        found = attribute(diff, before, new.get(diff.metric), sides=sides)
        if found is not None:
            out.append(found)
    return out

"""The local stack's view of Prometheus's TSDB blocks: which overlap (and are still to be merged)."""

from __future__ import annotations

import json
from pathlib import Path

from copilot.dev.stack import overlapping, tsdb_block_spans

HOUR_MS = 3_600_000


def _block(tsdb: Path, name: str, start_h: float, end_h: float) -> None:
    (tsdb / name).mkdir(parents=True)
    meta = {"ulid": name, "minTime": int(start_h * HOUR_MS), "maxTime": int(end_h * HOUR_MS), "version": 1}
    (tsdb / name / "meta.json").write_text(json.dumps(meta))


def test_back_to_back_blocks_do_not_overlap() -> None:
    assert not overlapping([(0, 10), (10, 20), (20, 30)])
    assert not overlapping([])


def test_a_block_inside_another_overlaps_whatever_the_order() -> None:
    assert overlapping([(20, 30), (0, 100)])
    # a short block between two that touch: only its neighbours in start order reveal it
    assert overlapping([(0, 50), (10, 20), (50, 60)])
    assert overlapping([(0, 10), (9, 20)])


def test_spans_are_read_from_complete_blocks_only(tmp_path: Path) -> None:
    _block(tmp_path, "01RAW", 0, 2)
    _block(tmp_path, "01RULE", 0.01, 1.99)
    _block(tmp_path, "01NEXT", 2, 4)
    _block(tmp_path, "01MERGED.tmp-for-creation", 0, 2)  # a compaction's output being written
    (tmp_path / "wal").mkdir()
    (tmp_path / "01TORN").mkdir()
    (tmp_path / "01TORN" / "meta.json").write_text("{")  # being written or deleted

    spans = tsdb_block_spans(tmp_path)

    assert spans == [(0, 2 * HOUR_MS), (int(0.01 * HOUR_MS), int(1.99 * HOUR_MS)), (2 * HOUR_MS, 4 * HOUR_MS)]
    assert overlapping(spans)
    assert not overlapping([spans[0], spans[2]])

"""The product on a real Temporal server whose history persistence QPS limit the load exceeds.

``live_limited`` is a real dev server started with a low ``history.persistenceMaxQPS``, a real SDK worker
and one ``steady`` phase. History then refuses many of its persistence requests with ResourceExhausted:
a real server counts them in ``persistence_error_with_type`` (and not in ``service_errors_resource_exhausted``
while the workflows run), refuses rather than queues them, and the workflows barely progress. A real
server is the judge: the simulator must write the same family under the same label keys.
"""

from __future__ import annotations

import pytest

from tests.integration.test_real_temporal import (
    assert_simulated_like_real,
    direct_mean,
    simulated_series,
)
from tests.live import LiveTemporal
from tests.support import created_profile, serve

pytestmark = pytest.mark.stack


async def test_persistence_requests_the_qps_limit_refused_are_read_and_placed(live_limited: LiveTemporal) -> None:
    live = live_limited
    # raw series, to agree with the same PromQL run directly (the recorded ones lag by up to one rule interval)
    async with serve(live.settings(prometheus_recording_rules=False)) as api:
        profile = await created_profile(api, live.profile_body(live.steady, task_queue=None))
    metrics = profile["telemetry"]["metrics"]
    refused = metrics["throttled_persistence_per_sec"]
    assert refused["status"] == "ok" and refused["mean"] > 1.0, refused
    promql = (
        "sum(rate(persistence_error_with_type"
        f'{{cluster="{live.cluster}",namespace="default",error_type="serviceerror_ResourceExhausted"}}[1m]))'
    )
    assert refused["mean"] == pytest.approx(await direct_mean(live, promql, profile), rel=0.15)
    # history refused them, operation by operation
    top = refused["contributors"]["top"]
    assert top and {c["labels"]["service_name"] for c in top} == {"history"}, top
    assert all(c["labels"]["operation"] for c in top), top
    # the work starved: the workers' activities barely ran while starts went on
    assert metrics["completion_ratio"]["mean"] < 0.5, metrics["completion_ratio"]
    # the simulator writes the family under the real server's label keys, with the same error type
    await assert_simulated_like_real(live, "persistence_error_with_type", 'error_type="serviceerror_ResourceExhausted"')
    simulated = simulated_series()["persistence_error_with_type"]
    assert {s["error_type"] for s in simulated} == {"serviceerror_ResourceExhausted"}

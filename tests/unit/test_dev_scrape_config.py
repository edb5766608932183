"""The local stack's Prometheus configuration: itself always, Temporal's server and SDK worker when asked."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from copilot.dev.stack import COMPONENTS, ScrapeTarget, StackConfig, prometheus_config


def _jobs(text: str) -> dict[str, dict[str, Any]]:
    config = yaml.safe_load(text)
    return {job["job_name"]: job for job in config["scrape_configs"]}


def test_without_targets_prometheus_scrapes_only_itself() -> None:
    jobs = _jobs(prometheus_config(9090))
    assert list(jobs) == ["prometheus"]
    assert jobs["prometheus"]["static_configs"] == [{"targets": ["127.0.0.1:9090"]}]


def test_each_target_is_a_job_with_its_interval_and_the_cluster_label() -> None:
    labels = {"cluster": "temporal-live"}
    text = prometheus_config(
        9090,
        [
            ScrapeTarget("temporal-server", "127.0.0.1:9433", 10, labels),
            ScrapeTarget("temporal-sdk", "127.0.0.1:9434", 10, labels),
        ],
    )
    jobs = _jobs(text)
    assert list(jobs) == ["prometheus", "temporal-server", "temporal-sdk"]
    for job, address in (("temporal-server", "127.0.0.1:9433"), ("temporal-sdk", "127.0.0.1:9434")):
        assert jobs[job]["scrape_interval"] == "10s"
        assert jobs[job]["static_configs"] == [{"targets": [address], "labels": {"cluster": "temporal-live"}}]
    assert yaml.safe_load(text)["global"]["scrape_interval"] == "15s"


def test_label_values_that_need_quoting_survive_the_yaml() -> None:
    odd = 'a: "b" # c'
    jobs = _jobs(prometheus_config(1, [ScrapeTarget("j: x", "127.0.0.1:2", 5, {"cluster": odd})]))
    assert jobs["j: x"]["static_configs"][0]["labels"] == {"cluster": odd}
    assert jobs["j: x"]["scrape_timeout"] == "5s"


def test_temporal_ports_default_clear_of_the_other_components_and_their_grpc_ports() -> None:
    config = StackConfig(state_dir=Path("unused"))
    others = {
        config.postgres_port,
        config.s3_port,
        config.weed_master_port,
        config.weed_volume_port,
        config.weed_filer_port,
        config.prometheus_port,
        config.api_port,
    }
    others |= {port + 10_000 for port in others} | {7233, 7243, 8233}  # and a Temporal of your own
    temporal = {config.temporal_port, config.temporal_http_port, config.temporal_metrics_port, config.sdk_metrics_port}
    assert len(temporal) == 4
    assert not temporal & others
    assert config.temporal_cluster == "temporal-live"


def test_temporal_starts_before_prometheus_so_down_stops_it_after() -> None:
    assert COMPONENTS.index("temporal") < COMPONENTS.index("prometheus")


def test_isolated_stacks_get_their_own_temporal_ports(tmp_path: Path) -> None:
    a = StackConfig.isolated(tmp_path / "a", "a")
    b = StackConfig.isolated(tmp_path / "b", "b")
    ports_a = {a.temporal_port, a.temporal_http_port, a.temporal_metrics_port, a.sdk_metrics_port}
    ports_b = {b.temporal_port, b.temporal_http_port, b.temporal_metrics_port, b.sdk_metrics_port}
    assert len(ports_a) == 4
    assert not ports_a & ports_b


# --- the stack's ports, moved by the environment ----------------------------------------------------


def test_the_environment_moves_the_ports_it_names_and_keeps_the_others(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from copilot.dev.local import stack_config
    from copilot.dev.stack import StackError, port_variable

    base = StackConfig(state_dir=tmp_path)
    moved = base.with_ports_from({"COPILOT_DEV_PROMETHEUS_PORT": "19090", "COPILOT_DEV_API_PORT": " 18081 "})
    assert (moved.prometheus_port, moved.api_port) == (19090, 18081)
    assert {k: v for k, v in moved.ports().items() if k not in ("prometheus_port", "api_port")} == {
        k: v for k, v in base.ports().items() if k not in ("prometheus_port", "api_port")
    }
    assert base.with_ports_from({"COPILOT_DEV_S3_PORT": ""}) == base  # empty: the default
    assert set(base.ports()) >= {"postgres_port", "s3_port", "prometheus_port", "api_port", "temporal_port"}
    assert port_variable("weed_filer_port") == "COPILOT_DEV_WEED_FILER_PORT"

    with pytest.raises(StackError, match=r"COPILOT_DEV_API_PORT='http' is not a usable port: .* 1 to 65535"):
        base.with_ports_from({"COPILOT_DEV_API_PORT": "http"})
    with pytest.raises(StackError, match=r"COPILOT_DEV_S3_PORT='60000' .* 1 to 55535 \(SeaweedFS also binds"):
        base.with_ports_from({"COPILOT_DEV_S3_PORT": "60000"})
    with pytest.raises(StackError, match=r"COPILOT_DEV_API_PORT='0'"):
        base.with_ports_from({"COPILOT_DEV_API_PORT": "0"})
    with pytest.raises(StackError, match=r"port 9090 would serve both prometheus_port \(COPILOT_DEV_PROMETHEUS_PORT\)"):
        base.with_ports_from({"COPILOT_DEV_API_PORT": "9090"})

    # what every `copilot dev` command builds: the state directory's config with the environment's ports
    monkeypatch.setenv("COPILOT_DEV_PROMETHEUS_PORT", "19091")
    assert stack_config(tmp_path).prometheus_port == 19091

"""The host's configured files: a broken one is the deployment's fault (503 naming it), never the caller's."""

from __future__ import annotations

from pathlib import Path

import pytest

from behaviour_profiles.errors import NotConfigured
from copilot.monitored import read_host_config


def test_a_malformed_dynamic_config_file_is_not_configured_naming_the_variable_the_path_and_the_line(
    tmp_path: Path,
) -> None:
    broken = tmp_path / "dc.yaml"
    broken.write_text("history.persistenceMaxQPS:\n  - value: [unclosed\n")
    with pytest.raises(NotConfigured) as raised:
        read_host_config(broken, None, None)
    message = raised.value.message
    assert message.startswith(f"MONITORED_DYNAMIC_CONFIG_PATH {broken}: the file is not valid YAML at line ")
    assert "config.dynamic_config" not in message  # the request's field is not what is broken


def test_a_dynamic_config_file_in_the_wrong_shape_is_not_configured(tmp_path: Path) -> None:
    wrong = tmp_path / "dc.yaml"
    wrong.write_text("history.persistenceMaxQPS: {value: 5}\n")
    expected = r"MONITORED_DYNAMIC_CONFIG_PATH .*: the file\['history.persistenceMaxQPS'\] must be a list"
    with pytest.raises(NotConfigured, match=expected):
        read_host_config(wrong, None, None)


def test_a_well_formed_dynamic_config_file_is_read_with_its_source(tmp_path: Path) -> None:
    good = tmp_path / "dc.yaml"
    good.write_text("history.persistenceMaxQPS:\n  - value: 3000\n")
    host = read_host_config(good, None, None)
    assert host is not None
    assert host.dynamic_config_text == good.read_text() and host.dynamic_config_source == f"file:{good}"

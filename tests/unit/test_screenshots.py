"""The browser tests write their screenshots to a scratch directory unless COPILOT_UPDATE_SCREENSHOTS=1."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support import DOC_SCREENSHOTS, screenshot_dir


@pytest.mark.parametrize("value", [None, "", "0", "true", "yes", "2"])
def test_screenshots_go_to_scratch_unless_asked(tmp_path: Path, value: str | None) -> None:
    environ = {} if value is None else {"COPILOT_UPDATE_SCREENSHOTS": value}
    assert screenshot_dir(environ, tmp_path) == tmp_path


@pytest.mark.parametrize("value", ["1", " 1 "])
def test_update_on_request_writes_the_docs_screenshots(tmp_path: Path, value: str) -> None:
    assert screenshot_dir({"COPILOT_UPDATE_SCREENSHOTS": value}, tmp_path) == DOC_SCREENSHOTS


def test_the_docs_screenshots_are_the_tracked_ones() -> None:
    names = {p.name for p in DOC_SCREENSHOTS.glob("*.png")}
    assert {"compare-top.png", "create.png", "drift.png"} <= names
    readme = (DOC_SCREENSHOTS.parent.parent / "README.md").read_text()
    assert "docs/screenshots/compare-top.png" in readme

"""``gigsy-search serve``: the uvicorn settings it runs with (uvicorn itself is stubbed)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from typer.testing import CliRunner

from search_service.cli import app
from search_service.settings import get_settings


@pytest.fixture
def started(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    """The keyword arguments ``serve`` passes to ``uvicorn.run`` (which returns at once)."""
    monkeypatch.chdir(tmp_path)
    get_settings.cache_clear()
    seen: dict[str, Any] = {}

    def run(_app: object, **kwargs: Any) -> None:
        seen.update(kwargs)

    monkeypatch.setattr(uvicorn, "run", run)
    yield seen
    get_settings.cache_clear()


def test_the_access_log_is_on_by_default(started: dict[str, Any]) -> None:
    result = CliRunner().invoke(app, ["serve", "--port", "8123"])
    assert result.exit_code == 0, result.output
    assert started["access_log"] is True
    assert started["port"] == 8123
    assert (started["loop"], started["http"]) == ("auto", "auto")


def test_no_access_log_turns_it_off(started: dict[str, Any]) -> None:
    result = CliRunner().invoke(app, ["serve", "--no-access-log"])
    assert result.exit_code == 0, result.output
    assert started["access_log"] is False

"""``gigsy-search`` commands through typer's runner, on a temp ``./var``."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from unittest import mock

import pytest
from typer.testing import CliRunner

from models import SavedSearch, User
from search_service.cli import app
from search_service.db import session_scope
from search_service.runtime import open_engine
from search_service.settings import get_settings

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "resumes_small.csv"


@pytest.fixture
def cli_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[CliRunner]:
    """Run commands in an empty directory with the hashing encoder."""
    monkeypatch.chdir(tmp_path)
    for name in ("DATABASE_URL", "QDRANT_URL", "EMBEDDING_MODEL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("GIGSY_EMBEDDING__MODEL", "hashing")
    get_settings.cache_clear()
    yield CliRunner()
    get_settings.cache_clear()


def test_create_api_key_prints_key_last(cli_env: CliRunner) -> None:
    result = cli_env.invoke(app, ["create-api-key", "--role", "employer"])
    assert result.exit_code == 0, result.output
    key = result.output.split()[-1]
    assert key.startswith("gsk_") and len(key) > 40
    assert Path("var/gigsy.db").is_file()


def test_create_api_key_rejects_unknown_role(cli_env: CliRunner) -> None:
    result = cli_env.invoke(app, ["create-api-key", "--role", "wizard"])
    assert result.exit_code != 0


def test_ingest_then_search(cli_env: CliRunner) -> None:
    result = cli_env.invoke(app, ["ingest-resumes", str(FIXTURE)])
    assert result.exit_code == 0, result.output
    assert "3 created" in result.output and "1 skipped" in result.output
    assert "indexed 3 profiles" in result.output
    again = cli_env.invoke(app, ["ingest-resumes", str(FIXTURE)])
    assert "0 created, 0 updated, 3 unchanged" in again.output
    found = cli_env.invoke(app, ["search", "pastry kitchen", "--mode", "keyword"])
    assert found.exit_code == 0, found.output
    assert "[102]" in found.output.splitlines()[0]


def test_ingest_missing_file_fails_cleanly(cli_env: CliRunner) -> None:
    result = cli_env.invoke(app, ["ingest-resumes", "nope.csv"])
    assert result.exit_code == 1
    assert "no such file" in result.output


def test_search_before_any_index_says_how_to_build_it(cli_env: CliRunner) -> None:
    result = cli_env.invoke(app, ["search", "python"])
    assert result.exit_code == 1
    assert "reindex" in result.output


def test_demo_loads_and_if_empty_skips(cli_env: CliRunner) -> None:
    result = cli_env.invoke(app, ["demo", "--count", "30"])
    assert result.exit_code == 0, result.output
    assert "30 created" in result.output
    skipped = cli_env.invoke(app, ["demo", "--count", "30", "--if-empty"])
    assert skipped.exit_code == 0
    assert "skipping" in skipped.output


def test_reindex_recreate(cli_env: CliRunner) -> None:
    cli_env.invoke(app, ["demo", "--count", "10"])
    result = cli_env.invoke(app, ["reindex", "--recreate"])
    assert result.exit_code == 0, result.output
    assert "indexed 10 profiles (10 embedded, 0 reused)" in result.output


def test_reindex_and_demo_build_every_collections_search_structures(cli_env: CliRunner) -> None:
    """The embedded store has no background optimizer: a bulk load must run it."""
    from indexers.store_edge import EdgeStore

    with mock.patch.object(EdgeStore, "optimize", autospec=True) as optimize:
        assert cli_env.invoke(app, ["demo", "--count", "10"]).exit_code == 0
        assert optimize.call_count == 2
        optimize.reset_mock()
        result = cli_env.invoke(app, ["reindex"])
    assert result.exit_code == 0, result.output
    assert optimize.call_count == 2
    assert "optimized the profiles index" in result.output
    assert "optimized the gigs index" in result.output


def test_refresh_snapshots_and_purge_commands(cli_env: CliRunner) -> None:
    assert cli_env.invoke(app, ["demo", "--count", "5"]).exit_code == 0
    idle = cli_env.invoke(app, ["refresh"])
    assert idle.exit_code == 0, idle.output
    assert idle.output.startswith("refreshed 0 profiles")
    snaps = cli_env.invoke(app, ["reconcile-snapshots"])
    assert snaps.exit_code == 0 and "checked 5 profiles: 0 repaired" in snaps.output
    purge = cli_env.invoke(app, ["purge-deleted", "--retention-days", "0"])
    assert purge.exit_code == 0 and "purged 0 users" in purge.output


def test_worker_runs_the_jobs_serves_metrics_and_stops_on_sigterm(tmp_path: Path) -> None:
    """The worker's own metrics port needs no token (it is not the API port), and the
    API's GIGSY_METRICS__TOKEN does not apply to it."""
    import os
    import signal
    import socket
    import subprocess
    import sys
    import time

    import httpx

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {
        **os.environ,
        "GIGSY_EMBEDDING__MODEL": "hashing",
        "GIGSY_DATA_DIR": str(tmp_path / "var"),
        "GIGSY_METRICS__TOKEN": "api-port-token-0123456789",
    }
    for name in ("DATABASE_URL", "QDRANT_URL", "EMBEDDING_MODEL", "GIGSY_DATABASE_URL"):
        env.pop(name, None)
    out = tmp_path / "worker.log"
    with out.open("wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-c", "from search_service.cli import main; main()"]
            + ["worker", "--metrics-port", str(port)],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            deadline = time.monotonic() + 60
            while "worker running" not in out.read_text():
                assert proc.poll() is None, out.read_text()
                assert time.monotonic() < deadline, out.read_text()
                time.sleep(0.1)
            scrape = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10)
            assert scrape.status_code == 200, scrape.text
            assert "gigsy_profiles_stale " in scrape.text
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(timeout=30) == 0, out.read_text()
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    assert "Traceback" not in out.read_text()


def test_run_saved_searches_runs_the_due_ones(cli_env: CliRunner) -> None:
    assert cli_env.invoke(app, ["demo", "--count", "10"]).exit_code == 0
    engine = open_engine(get_settings())
    with session_scope(engine) as session:
        owner = User(clerk_id="cli_emp", roles=["employer"])
        session.add(owner)
        session.flush()
        assert owner.id is not None
        session.add(SavedSearch(owner_id=owner.id, name="all", request={"query": ""}))
    engine.dispose()
    result = cli_env.invoke(app, ["run-saved-searches"])
    assert result.exit_code == 0, result.output
    assert "ran 1 saved searches (0 failed, 0 skipped): 0 new alerts" in result.output
    again = cli_env.invoke(app, ["run-saved-searches"])
    assert "ran 0 saved searches" in again.output  # the next run is an interval away
    forced = cli_env.invoke(app, ["run-saved-searches", "--all"])
    assert "ran 1 saved searches" in forced.output

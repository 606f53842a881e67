"""``gigsy-search`` commands through typer's runner, on a temp ``./var``."""

from __future__ import annotations

from pathlib import Path
from unittest import mock

import pytest
from typer.testing import CliRunner

from models import SavedSearch, User
from search_service.cli import ExitCode, app
from search_service.db import session_scope
from search_service.runtime import open_engine
from search_service.settings import get_settings

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "resumes_small.csv"
JOBS = Path(__file__).resolve().parents[1] / "fixtures" / "jobs_small.csv"


def test_create_api_key_prints_key_last(cli_env: CliRunner) -> None:
    result = cli_env.invoke(app, ["create-api-key", "--role", "employer"])
    assert result.exit_code == 0, result.output
    key = result.output.split()[-1]
    assert key.startswith("gsk_") and len(key) > 40
    assert Path("var/gigsy.db").is_file()


def test_ingest_then_search(cli_env: CliRunner) -> None:
    result = cli_env.invoke(app, ["ingest-resumes", str(FIXTURE)])
    assert result.exit_code == 0, result.output
    assert "3 created" in result.output and "1 skipped (1 empty resumes)" in result.output
    assert "indexed 3 profiles" in result.output
    again = cli_env.invoke(app, ["ingest-resumes", str(FIXTURE)])
    assert "0 created, 0 updated, 3 unchanged" in again.output
    found = cli_env.invoke(app, ["search", "pastry kitchen", "--mode", "keyword"])
    assert found.exit_code == 0, found.output
    assert "[102]" in found.output.splitlines()[0]


def test_ingest_missing_file_fails_cleanly(cli_env: CliRunner) -> None:
    result = cli_env.invoke(app, ["ingest-resumes", "nope.csv"])
    assert result.exit_code == 2 and ExitCode(2) is ExitCode.USAGE
    assert "no such file" in result.output


@pytest.mark.parametrize("command", ["ingest-resumes", "ingest-jobs"])
def test_both_ingest_commands_exit_2_for_a_file_of_another_format(
    cli_env: CliRunner, tmp_path: Path, command: str
) -> None:
    other = tmp_path / "other.csv"
    other.write_text("a,b\n1,2\n", encoding="utf-8")
    binary = tmp_path / "binary.csv"
    binary.write_bytes(b"\xff\xfe\x00garbage")
    for path in (other, binary, tmp_path / "missing.csv"):
        result = cli_env.invoke(app, [command, str(path)])
        assert result.exit_code == ExitCode.USAGE, (path, result.output)
        assert result.output.startswith("error: ")


def test_help_shows_the_exit_code_table(cli_env: CliRunner) -> None:
    result = cli_env.invoke(app, ["--help"])
    assert result.exit_code == ExitCode.OK
    text = " ".join(result.output.split())
    for code in ExitCode:
        assert f" {code.value} " in f" {text} "
    assert "Exit codes:" in text and "called wrongly" in text


def test_option_choices_shown_in_help_are_the_enums_values() -> None:
    # The metavars are written out so that --help needs no import of models.
    from search_service.cli import _ROLE, _SEARCH_MODE

    for choice in (_ROLE, _SEARCH_MODE):
        assert choice.metavar == "[" + "|".join(choice.choices()) + "]"


def test_an_unknown_role_is_a_usage_error(cli_env: CliRunner) -> None:
    result = cli_env.invoke(app, ["create-api-key", "--role", "wizard"])
    assert result.exit_code == ExitCode.USAGE
    assert "'wizard' is not one of" in result.output


@pytest.mark.parametrize(
    "command",
    [["demo"], ["ingest-resumes", "x.csv"], ["ingest-jobs", "x.csv"], ["reindex"], ["refresh"]],
)
def test_every_long_command_takes_no_progress(command: list[str]) -> None:
    result = CliRunner().invoke(app, [*command, "--help"])
    assert result.exit_code == 0, result.output
    assert "--no-progress" in result.output


def test_ingest_limit_imports_only_the_first_rows(cli_env: CliRunner) -> None:
    result = cli_env.invoke(app, ["ingest-resumes", str(FIXTURE), "--limit", "2", "--no-progress"])
    assert result.exit_code == 0, result.output
    assert "ingest-resumes: 2 rows: 2 created" in result.output
    assert "indexed 2 profiles" in result.output
    rest = cli_env.invoke(app, ["ingest-resumes", str(FIXTURE), "--no-progress"])
    assert "0 updated, 2 unchanged" in rest.output and "1 created" in rest.output


def test_a_small_import_embeds_only_what_it_changed(cli_env: CliRunner, tmp_path: Path) -> None:
    first = cli_env.invoke(app, ["ingest-resumes", str(FIXTURE), "--no-progress"])
    assert first.exit_code == 0, first.output
    assert "indexed 3 profiles, the first index of them (3 embedded" in first.output
    jobs = cli_env.invoke(app, ["ingest-jobs", str(JOBS), "--no-progress"])
    assert jobs.exit_code == 0, jobs.output
    assert "indexed 7 gigs, the first index of them (7 embedded" in jobs.output

    edited = tmp_path / "edited.csv"
    text = FIXTURE.read_text(encoding="utf-8")
    assert text.count("Pastry chef running a busy kitchen") == 1
    edited.write_text(text.replace("Pastry chef running", "Pastry chef and baker running"))
    again = cli_env.invoke(app, ["ingest-resumes", str(edited), "--no-progress"])
    assert again.exit_code == 0, again.output
    assert "0 created, 1 updated, 2 unchanged" in again.output
    # One profile re-embedded, nothing else rewritten, and no gigs counted as profiles.
    assert "indexed 1 new or changed profiles (1 embedded, 0 reused, 0 failed" in again.output
    assert "gigs" not in again.output

    unchanged = cli_env.invoke(app, ["ingest-jobs", str(JOBS), "--no-progress"])
    assert unchanged.exit_code == 0, unchanged.output
    assert "indexed 0 new or changed gigs (0 embedded" in unchanged.output
    assert "profiles" not in unchanged.output
    found = cli_env.invoke(app, ["search", "baker", "--mode", "keyword"])
    assert "[102]" in found.output.splitlines()[0]


def test_refresh_reports_each_entity(cli_env: CliRunner) -> None:
    assert cli_env.invoke(app, ["demo", "--count", "4", "--gigs", "3"]).exit_code == 0
    result = cli_env.invoke(app, ["refresh", "--no-progress"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].startswith("refreshed 0 profiles")
    assert lines[1].startswith("refreshed 0 gigs")


def test_search_before_any_index_says_how_to_build_it(cli_env: CliRunner) -> None:
    result = cli_env.invoke(app, ["search", "python"])
    assert result.exit_code == 1 and ExitCode(1) is ExitCode.FAILURE
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

"""``gigsy-search``: serve the API and manage data and the index from the shell.

Every command works on ``./var/`` of the current directory unless settings say
otherwise. With the embedded default (Qdrant Edge) one process owns the index:
stop ``serve`` before running commands that write or read the index.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from sqlalchemy import Engine

from indexers import IndexerError
from models import Role, SearchFilters, SearchMode, SearchRequest
from search_service.db import session_scope
from search_service.runtime import Runtime, open_engine
from search_service.settings import get_settings

app = typer.Typer(
    name="gigsy-search",
    help="Gigsy talent search: hybrid BM25 + dense ranking of student profiles.",
    no_args_is_help=True,
    add_completion=False,
)


def _fail(message: str, code: int = 1) -> typer.Exit:
    typer.secho(f"error: {message}", fg=typer.colors.RED, err=True)
    return typer.Exit(code)


@contextmanager
def _runtime() -> Iterator[Runtime]:
    try:
        rt = Runtime.open(get_settings())
    except IndexerError as exc:
        raise _fail(str(exc)) from exc
    try:
        yield rt
    except IndexerError as exc:
        raise _fail(str(exc)) from exc
    finally:
        rt.close()


@contextmanager
def _sql_engine() -> Iterator[Engine]:
    """SQL only, no index: safe while `serve` holds the embedded index."""
    engine = open_engine(get_settings())
    try:
        yield engine
    finally:
        engine.dispose()


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
    log_level: Annotated[
        str | None,
        typer.Option(help="Override GIGSY_LOG__LEVEL: debug, info, warning, error, critical."),
    ] = None,
    access_log: Annotated[
        bool,
        typer.Option(
            help="Log one line per request at INFO (uvicorn's access log); off saves "
            "formatting and writing a line per request (benchmarks/README.md)."
        ),
    ] = True,
) -> None:
    """Serve the HTTP API (OpenAPI docs at /docs).

    One process on the embedded default (it owns the Qdrant Edge shard), on
    uvicorn's fastest installed event loop and HTTP parser (``uvloop`` and
    ``httptools`` with ``uvicorn[standard]``).
    """
    import uvicorn
    from pydantic import ValidationError

    from search_service.app import create_app
    from search_service.logs import configure_logging
    from search_service.settings import LogSettings

    if log_level is not None:
        log = get_settings().log
        try:
            chosen = LogSettings(level=log_level, format=log.format)
        except ValidationError as exc:
            raise _fail(f"--log-level: {log_level!r} is not a log level") from exc
        configure_logging(chosen)

    base = f"http://{host}:{port}"
    typer.echo(
        f"Gigsy search on {base}  (docs: {base}/docs)\n"
        "Get an API key (in another shell, same directory):\n"
        "  .venv/bin/gigsy-search create-api-key --role employer\n"
        "  (demo data: --user demo_employer_01 --role employer, or --user demo_00000 "
        "--role student)\n"
        "then query:\n"
        f"  curl -s {base}/v1/search -H 'Authorization: Bearer <key>' "
        "-H 'Content-Type: application/json' \\\n"
        '    -d \'{"query": "react developer with figma", '
        '"filters": {"availability": "weekends"}}\'\n'
        f"  curl -s {base}/v1/me/recommended-gigs -H 'Authorization: Bearer <student key>'"
    )
    # log_config=None: uvicorn's loggers propagate to the handler of configure_logging.
    uvicorn.run(
        create_app(),
        host=host,
        port=port,
        log_config=None,
        access_log=access_log,
        loop="auto",
        http="auto",
        # Forwarded headers are the app's business (GIGSY_HTTP__TRUSTED_PROXIES,
        # create_app): uvicorn's default would believe any loopback peer, and
        # its FORWARDED_ALLOW_IPS variable, so a local caller could pick its IP.
        proxy_headers=False,
    )


_DEMO_STUDENT = "demo_00000"
"""Student 0 of ``profiles.demo_data`` (the demo prints a key acting as them)."""


@app.command()
def demo(
    count: Annotated[int, typer.Option(min=0, help="How many demo students.")] = 2000,
    gigs: Annotated[int, typer.Option(min=0, help="How many demo gigs.")] = 60,
    seed: Annotated[int, typer.Option(help="Random seed (same seed, same data).")] = 42,
    if_empty: Annotated[
        bool, typer.Option("--if-empty", help="Do nothing when users already exist.")
    ] = False,
) -> None:
    """Load seeded demo students and gigs, index them, and print API keys to try them."""
    from search_service.gigs.demo import DEMO_EMPLOYER_CLERK_ID, DemoVocabulary, load_demo_gigs
    from search_service.index.entity import GIG_ROWS, PROFILE_ROWS
    from search_service.profiles import demo_vocab
    from search_service.profiles.demo import load_demo
    from search_service.refresh.writer import reindex
    from search_service.users.repository import count_users

    with _runtime() as rt:
        if if_empty:
            with session_scope(rt.engine) as session:
                existing = count_users(session)
            if existing and rt.store.count():
                typer.echo(
                    f"{existing} users already loaded; skipping demo data. Keys for the demo "
                    f"users: gigsy-search create-api-key --user {_DEMO_STUDENT} --role student "
                    f"(or --user {DEMO_EMPLOYER_CLERK_ID} --role employer)"
                )
                return
        report = load_demo(rt, count=count, seed=seed)
        typer.echo(
            f"demo: {report.created} created, {report.updated} updated, "
            f"{report.unchanged} unchanged"
        )
        vocab = DemoVocabulary(
            tracks=demo_vocab.TRACKS, cities=demo_vocab.CITIES, skill_labels=demo_vocab.SKILL_LABELS
        )
        gig_report = load_demo_gigs(rt, vocab, count=gigs, seed=seed)
        typer.echo(
            f"demo gigs: {gig_report.created} created, {gig_report.updated} updated, "
            f"{gig_report.unchanged} unchanged, {gig_report.skipped} kept as they were "
            f"(closed or deleted); {gig_report.employers_created} employers created"
        )
        idx = reindex(rt, entities=[PROFILE_ROWS])
        typer.echo(
            f"indexed {idx.indexed} profiles ({idx.embedded} embedded) in {idx.seconds:.1f}s"
        )
        gidx = reindex(rt, entities=[GIG_ROWS])
        typer.echo(f"indexed {gidx.indexed} gigs ({gidx.embedded} embedded) in {gidx.seconds:.1f}s")
        _optimize(rt)
        for line in _demo_keys(rt, _DEMO_STUDENT, DEMO_EMPLOYER_CLERK_ID):
            typer.echo(line)


def _demo_keys(rt: Runtime, student: str, employer: str) -> list[str]:
    """Create a student key and an employer key for the demo users (those that
    exist) and return the lines that show them, as shell ``export`` lines."""
    from search_service.gigs.repository import owner_gigs
    from search_service.users.api_keys import create_api_key
    from search_service.users.repository import find_user_by_clerk_id

    lines: list[str] = []
    with session_scope(rt.engine) as session:
        s_user = find_user_by_clerk_id(session, student)
        if s_user is not None:
            _, key = create_api_key(session, role="student", name="demo", user_id=s_user.id)
            name = f"{s_user.first_name} {s_user.last_name}"
            lines.append(f"export STUDENT_KEY={key}  # student {student}, {name}")
        e_user = find_user_by_clerk_id(session, employer)
        if e_user is not None and e_user.id is not None:
            _, key = create_api_key(session, role="employer", name="demo", user_id=e_user.id)
            open_gigs = owner_gigs(session, e_user.id, status="open", limit=100, offset=0)
            ids = sorted(g.id for g in open_gigs if g.id is not None)
            shown = ", ".join(map(str, ids[:5])) + (", ..." if len(ids) > 5 else "")
            lines.append(
                f"export EMPLOYER_KEY={key}  # employer {employer}, {e_user.name}, "
                f"open gigs {shown or 'none'}"
            )
    if lines:
        lines.insert(
            0,
            "API keys for the demo users (shown once; more with "
            "gigsy-search create-api-key --user CLERK_ID --role ROLE):",
        )
    return lines


@app.command("ingest-jobs")
def ingest_jobs_cmd(
    path: Annotated[
        Path,
        typer.Argument(
            help="LinkedIn job CSV: job_id,title,company,date,industry,job_function,description."
        ),
    ],
    index: Annotated[bool, typer.Option(help="Index the gigs after importing.")] = True,
    progress: Annotated[bool, typer.Option(help="Show a progress bar.")] = True,
) -> None:
    """Import job postings as open gigs, one employer per company (re-running updates,
    never duplicates, and never reopens a gig its owner closed or deleted). Exit code
    2 for a missing file or a CSV of another format."""
    import csv
    import time

    from search_service.gigs.ingest import ingest_jobs
    from search_service.index.entity import GIG_ROWS
    from search_service.refresh.writer import reindex

    if not path.is_file():
        raise _fail(f"no such file: {path}", code=2)
    with _runtime() as rt:
        started = time.perf_counter()
        try:
            report = ingest_jobs(rt, path, progress=progress)
        except UnicodeDecodeError as exc:
            raise _fail(f"{path}: not a job-postings CSV (not UTF-8 text)", code=2) from exc
        except (ValueError, csv.Error) as exc:
            raise _fail(str(exc), code=2) from exc
        typer.echo(
            f"ingest-jobs: {report.rows} rows, {report.postings} postings "
            f"({report.duplicate_rows} duplicate rows, {report.empty_rows} empty rows): "
            f"{report.created} created, {report.updated} updated, {report.unchanged} unchanged, "
            f"{report.skipped} skipped ({report.kept_closed} closed or deleted by their owner, "
            f"{report.employer_gone} of suspended or deleted employers, {report.invalid} invalid); "
            f"{report.employers_created} employers created"
        )
        if index:
            idx = reindex(rt, entities=[GIG_ROWS], progress=progress)
            total = time.perf_counter() - started
            typer.echo(
                f"indexed {idx.indexed} gigs ({idx.embedded} embedded, {idx.reused} reused) "
                f"in {idx.seconds:.1f}s; ingest + index {total:.1f}s"
            )


@app.command("ingest-resumes")
def ingest_resumes_cmd(
    path: Annotated[Path, typer.Argument(help="CSV with columns ID,Category,Resume_str.")],
    index: Annotated[bool, typer.Option(help="Index after importing.")] = True,
) -> None:
    """Import resumes as student profiles (re-running updates, never duplicates)."""
    import time

    from search_service.profiles.ingest import ingest_resumes
    from search_service.refresh.writer import reindex

    if not path.is_file():
        raise _fail(f"no such file: {path}")
    with _runtime() as rt:
        started = time.perf_counter()
        try:
            report = ingest_resumes(rt, path)
        except ValueError as exc:
            raise _fail(str(exc)) from exc
        typer.echo(
            f"ingest: {report.rows} rows, {report.created} created, {report.updated} updated, "
            f"{report.unchanged} unchanged, {report.skipped} skipped (empty), "
            f"{report.deleted} skipped (deleted users)"
        )
        if index:
            idx = reindex(rt)
            total = time.perf_counter() - started
            typer.echo(
                f"indexed {idx.indexed} profiles ({idx.embedded} embedded, {idx.reused} reused) "
                f"in {idx.seconds:.1f}s = {idx.per_second:.1f} profiles/s; "
                f"ingest + index {total:.1f}s"
            )


@app.command()
def reindex(
    recreate: Annotated[
        bool, typer.Option("--recreate", help="Drop the index and re-embed everything.")
    ] = False,
) -> None:
    """Rebuild the search index from SQL (profiles, then gigs)."""
    from search_service.index.entity import ENTITIES
    from search_service.refresh.writer import reindex as do_reindex

    with _runtime() as rt:
        for entity in ENTITIES:
            idx = do_reindex(rt, recreate=recreate, entities=[entity])
            typer.echo(
                f"indexed {idx.indexed} {entity.name} ({idx.embedded} embedded, "
                f"{idx.reused} reused) in {idx.seconds:.1f}s = {idx.per_second:.1f} {entity.name}/s"
            )
        _optimize(rt)


def _optimize(rt: Runtime) -> None:
    """Build every collection's HNSW graph after a bulk load (``VectorStore.optimize``:
    the embedded store has no background optimizer, docs/scaling.md)."""
    for name, store in rt.stores.items():
        started = time.perf_counter()
        store.optimize()
        typer.echo(f"optimized the {name} index in {time.perf_counter() - started:.1f}s")


@app.command()
def search(
    query: Annotated[str, typer.Argument(help="What the employer needs.")],
    mode: Annotated[SearchMode, typer.Option(help="Ranking mode.")] = SearchMode.HYBRID,
    limit: Annotated[int, typer.Option(min=1, max=100)] = 10,
    skill: Annotated[list[str] | None, typer.Option(help="Required skill (repeatable).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the API's JSON.")] = False,
) -> None:
    """Search from the shell, as the API would."""
    from pydantic import ValidationError

    from search_service.search.service import search_profiles

    try:
        req = SearchRequest(
            query=query, mode=mode, limit=limit, filters=SearchFilters(skills=skill or [])
        )
    except ValidationError as exc:
        raise _fail(str(exc)) from exc
    with _runtime() as rt, session_scope(rt.engine) as session:
        if mode is not SearchMode.KEYWORD:
            _ = rt.encoder  # load the model first: tookMs should time the search alone
        res = search_profiles(rt, session, req)
    if as_json:
        typer.echo(json.dumps(res.model_dump(by_alias=True), indent=2))
        return
    for i, hit in enumerate(res.results, 1):
        ex = hit.explanation
        typer.echo(
            f"{i:>3}. {hit.score:.4f}  [{hit.external_id or hit.user_id}] {hit.headline[:60]}"
            f"  kw#{ex.keyword_rank or '-'} sem#{ex.semantic_rank or '-'}"
            f"  {', '.join(ex.matched_terms)}"
        )
    typer.echo(f"({len(res.results)} results in {res.took_ms:.1f} ms)")


@app.command("create-api-key")
def create_api_key_cmd(
    role: Annotated[Role, typer.Option(help="Role the key carries.")] = Role.EMPLOYER,
    user: Annotated[
        str | None,
        typer.Option(
            "--user", help="clerkId of the user the key acts as (default: a new service user)."
        ),
    ] = None,
    name: Annotated[str, typer.Option(help="A label for the key.")] = "",
) -> None:
    """Create an API key; the key is the last word printed (shown once)."""
    from search_service.users.api_keys import create_api_key, create_service_user
    from search_service.users.repository import find_user_by_clerk_id

    with _sql_engine() as engine, session_scope(engine) as session:
        if user is None:
            owner = create_service_user(session, role=role.value, name=name)
        else:
            found = find_user_by_clerk_id(session, user)
            if found is None:
                raise _fail(f"no user with clerkId {user!r}")
            if role.value not in found.roles:
                raise _fail(f"user {user} does not have the role {role.value}")
            owner = found
        row, key = create_api_key(session, role=role.value, name=name, user_id=owner.id)
    typer.echo(f"created API key #{row.id} for {owner.clerk_id} with role {role.value}: {key}")


@app.command("reconcile-balances")
def reconcile_balances_cmd() -> None:
    """Prove every cached balance equals the sum of its ledger; exit 1 on drift."""
    from search_service.users.ledger import reconcile_balances

    with _sql_engine() as engine:
        report = reconcile_balances(engine)
    for d in report.drifts:
        typer.echo(f"DRIFT user {d.user_id} ({d.clerk_id}): cached {d.cached}, ledger {d.ledger}")
    typer.echo(f"checked {report.checked} balances, {len(report.drifts)} drifted")
    if report.drifts:
        raise typer.Exit(1)


@app.command()
def worker(
    metrics_port: Annotated[
        int | None, typer.Option(help="Serve Prometheus metrics on this port.")
    ] = None,
) -> None:
    """Run the background jobs alone (embedding refresh, outbox, drift, retention,
    balances) for deployments whose API replicas set GIGSY_SCHEDULER__ENABLED=false.
    Stop with Ctrl-C or SIGTERM; a killed worker loses nothing."""
    import signal

    from prometheus_client import start_http_server

    from search_service.scheduler import build_scheduler

    with _runtime() as rt:
        scheduler = build_scheduler(rt, blocking=True)
        if metrics_port is not None:
            start_http_server(metrics_port, registry=rt.metrics.registry)
            typer.echo(f"metrics on http://0.0.0.0:{metrics_port}/metrics")

        def _stop(signum: int, _frame: object) -> None:
            scheduler.shutdown(wait=False)

        signal.signal(signal.SIGTERM, _stop)
        typer.echo("worker running; Ctrl-C to stop")
        try:
            scheduler.start()
        except (KeyboardInterrupt, SystemExit):
            pass


@app.command()
def refresh(
    limit: Annotated[int | None, typer.Option(min=1, help="Most profiles to refresh.")] = None,
) -> None:
    """Index stale profiles now (what the scheduled refresh job does), once."""
    from search_service.refresh.freshness import refresh_stale

    with _runtime() as rt:
        r = refresh_stale(rt, limit=limit)
        typer.echo(
            f"refreshed {r.indexed} profiles ({r.embedded} embedded, {r.reused} reused, "
            f"{len(r.failed)} failed, {r.removed} removed) in {r.seconds:.1f}s "
            f"= {r.per_second:.1f} profiles/s"
        )
        if r.failed:
            typer.echo(f"failed user ids: {', '.join(map(str, r.failed))}")
            raise typer.Exit(1)


@app.command("reconcile-snapshots")
def reconcile_snapshots_cmd() -> None:
    """Compare profile snapshots with the normalized tables and repair drift."""
    from search_service.profiles.service import reconcile_snapshots

    with _sql_engine() as engine:
        r = reconcile_snapshots(engine)
    typer.echo(
        f"checked {r.checked} profiles: {r.repaired} repaired ({r.reindexed} to re-embed), "
        f"{r.backfilled} backfilled"
    )


@app.command("purge-deleted")
def purge_deleted_cmd(
    retention_days: Annotated[
        int | None, typer.Option(min=0, help="Override GIGSY_PRIVACY__RETENTION_DAYS.")
    ] = None,
) -> None:
    """Erase personal data of users deleted longer ago than the retention period."""
    from search_service.privacy.service import purge_expired

    days = retention_days if retention_days is not None else get_settings().privacy.retention_days
    with _sql_engine() as engine:
        n = purge_expired(engine, retention_days=days)
    typer.echo(f"purged {n} users deleted more than {days} days ago")


@app.command("run-saved-searches")
def run_saved_searches_cmd(
    all_: Annotated[
        bool, typer.Option("--all", help="Run every saved search, not only the due ones.")
    ] = False,
) -> None:
    """Run due saved searches now (what the scheduled job does), once."""
    from search_service.saved.service import run_due_saved_searches

    with _runtime() as rt:
        r = run_due_saved_searches(rt, force=all_)
    typer.echo(
        f"ran {r.ran} saved searches ({r.failed} failed, {r.skipped} skipped): "
        f"{r.alerts} new alerts"
    )
    if r.failed:
        raise typer.Exit(1)


def main() -> None:  # pragma: no cover - console entry point
    """Entry point with logging configured (``search_service.logs``)."""
    from pydantic import ValidationError

    from search_service.logs import configure_logging
    from search_service.settings import LogSettings

    try:
        log_settings = get_settings().log
    except ValidationError:  # the command itself reports the invalid settings
        log_settings = LogSettings()
    configure_logging(log_settings)
    app()


if __name__ == "__main__":  # pragma: no cover - `python -m search_service.cli`
    main()

"""``gigsy-search``: serve the API and manage data and the index from the shell.

Every command works on ``./var/`` of the current directory unless settings say
otherwise. With the embedded default (Qdrant Edge) one process owns the index:
stop ``serve`` before running commands that write or read the index.

Every command exits with a code of :class:`ExitCode` (``docs/cli.md``). The module
imports nothing heavy: each command imports what it needs, so ``--help`` answers
at once (``tests/search_service/test_cli_startup.py``).
"""

from __future__ import annotations

import importlib
import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from enum import Enum, IntEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from search_service.index.entity import IndexedEntity
    from search_service.refresh.freshness import RefreshReport
    from search_service.runtime import Runtime


class ExitCode(IntEnum):
    """The exit status of every ``gigsy-search`` command (``docs/cli.md``).

    ``OK`` (0): done. ``FAILURE`` (1): the command ran and failed, or found what
    it checks for: the database, the vector store or the model failed (for
    example another process holds the embedded index), rows failed to index,
    balances drifted, saved searches failed. ``USAGE`` (2): the command was
    called wrongly: an unknown option or a bad value (click's own usage errors
    exit 2 as well), an input file that is missing or not of the expected format,
    a user that does not exist. Nothing was written.
    """

    OK = 0
    FAILURE = 1
    USAGE = 2


_EXIT_CODES = "\n\n".join(
    [
        "Exit codes:",
        "0  done",
        "1  failed: the database, the index or the model failed, rows failed to index, "
        "balances drifted, saved searches failed",
        "2  called wrongly: a bad option or value, an input file that is missing or "
        "not of the expected format, an unknown user",
    ]
)

app = typer.Typer(
    name="gigsy-search",
    help="Gigsy talent search: hybrid BM25 + dense ranking of student profiles and gigs.\n\n"
    + _EXIT_CODES,
    no_args_is_help=True,
    add_completion=False,
)

_NO_PROGRESS = typer.Option("--progress/--no-progress", help="Show progress bars (on stderr).")


class _EnumValue:
    """Parses an option into the value of an enum that is imported on first use, so
    the module loads without ``models`` (SQLModel: seconds of start-up).

    Args:
        module: the module defining the enum.
        enum: its name.
        metavar: the choices as ``--help`` shows them, ``[a|b|c]``; it cannot be
            computed without the import, so a test compares it with :meth:`choices`.
    """

    def __init__(self, module: str, enum: str, metavar: str) -> None:
        self._module = module
        self._enum = enum
        self.metavar = metavar

    def choices(self) -> list[str]:
        """The enum's values, in declaration order."""
        enum: type[Enum] = getattr(importlib.import_module(self._module), self._enum)
        return [str(member.value) for member in enum]

    def __call__(self, value: str) -> str:
        """``value`` if it is one of :meth:`choices`.

        Raises:
            typer.BadParameter: it is not (a usage error: exit code 2).
        """
        text = str(getattr(value, "value", value))
        choices = self.choices()
        if text not in choices:
            raise typer.BadParameter(f"{text!r} is not one of {', '.join(choices)}")
        return text


_ROLE = _EnumValue("models.user", "Role", "[student|employer|mentor|admin]")
_SEARCH_MODE = _EnumValue("models.search", "SearchMode", "[hybrid|keyword|semantic]")


_log_configured = False
_log_from_settings = False
"""Set by :func:`main`: a command configures logging from settings once it starts
working; tests that invoke ``app`` keep pytest's logging."""


def _configure_logging() -> None:
    global _log_configured
    if not _log_from_settings or _log_configured:
        return
    from pydantic import ValidationError

    from search_service.logs import configure_logging
    from search_service.settings import LogSettings, get_settings

    try:
        log_settings = get_settings().log
    except ValidationError:  # the command itself reports the invalid settings
        log_settings = LogSettings()
    configure_logging(log_settings)
    _log_configured = True


def _fail(message: str, code: ExitCode = ExitCode.FAILURE) -> typer.Exit:
    typer.secho(f"error: {message}", fg=typer.colors.RED, err=True)
    return typer.Exit(int(code))


@contextmanager
def _runtime() -> Iterator[Runtime]:
    from indexers import IndexerError
    from search_service.entities import ENTITIES
    from search_service.runtime import Runtime
    from search_service.settings import get_settings

    _configure_logging()
    try:
        rt = Runtime.open(get_settings(), entities=ENTITIES)
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
    from search_service.runtime import open_engine
    from search_service.settings import get_settings

    _configure_logging()
    engine = open_engine(get_settings())
    try:
        yield engine
    finally:
        engine.dispose()


@contextmanager
def _input_file(path: Path, what: str) -> Iterator[None]:
    """Exit with :attr:`ExitCode.USAGE` for an input file that is missing, not UTF-8
    text, or not of the expected format (the reader's ``ValueError`` or ``csv.Error``)."""
    import csv

    if not path.is_file():
        raise _fail(f"no such file: {path}", ExitCode.USAGE)
    try:
        yield
    except UnicodeDecodeError as exc:
        raise _fail(f"{path}: not {what} (not UTF-8 text)", ExitCode.USAGE) from exc
    except (ValueError, csv.Error) as exc:
        raise _fail(str(exc), ExitCode.USAGE) from exc


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
    from search_service.settings import LogSettings, get_settings

    _configure_logging()
    if log_level is not None:
        log = get_settings().log
        try:
            chosen = LogSettings(level=log_level, format=log.format)
        except ValidationError as exc:
            raise _fail(f"--log-level: {log_level!r} is not a log level", ExitCode.USAGE) from exc
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
        f"  curl -s {base}/v1/me/recommended-gigs -H 'Authorization: Bearer <student key>'\n"
        "starting the server: opening the database and the index, loading and warming "
        "up the embedding model (a few seconds; 'Uvicorn running' follows)"
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
    progress: Annotated[bool, _NO_PROGRESS] = True,
) -> None:
    """Load seeded demo students and gigs, index them, and print API keys to try them.

    Says what it does before each step that takes a while: writing the rows,
    loading the model, embedding (with a progress bar), building the search graphs.
    """
    from search_service.db import session_scope
    from search_service.gigs.demo import DEMO_EMPLOYER_CLERK_ID, DemoVocabulary, load_demo_gigs
    from search_service.gigs.ingest import unserved_reasons
    from search_service.profiles import demo_vocab
    from search_service.profiles.demo import load_demo
    from search_service.refresh.writer import reindex
    from search_service.runtime import GIGS, PROFILES
    from search_service.users.repository import count_users

    with _runtime() as rt:
        if if_empty:
            with session_scope(rt.engine) as session:
                existing = count_users(session)
            if existing and rt.index(PROFILES).store.count():
                typer.echo(
                    f"{existing} users already loaded; skipping demo data. Keys for the demo "
                    f"users: gigsy-search create-api-key --user {_DEMO_STUDENT} --role student "
                    f"(or --user {DEMO_EMPLOYER_CLERK_ID} --role employer)"
                )
                return
        typer.echo(f"demo: writing {count} students and {gigs} gigs (seed {seed}) to the database")
        report = load_demo(rt, count=count, seed=seed, progress=progress)
        typer.echo(
            f"profiles: {report.created} created, {report.updated} updated, "
            f"{report.unchanged} unchanged{_profile_skips(report.skipped, report.deleted)}"
        )
        vocab = DemoVocabulary(
            tracks=demo_vocab.TRACKS, cities=demo_vocab.CITIES, skill_labels=demo_vocab.SKILL_LABELS
        )
        gig_report = load_demo_gigs(rt, vocab, count=gigs, seed=seed, progress=progress)
        typer.echo(
            f"gigs: {gig_report.created} created, {gig_report.updated} updated, "
            f"{gig_report.unchanged} unchanged, {gig_report.kept_closed} skipped (closed or "
            f"deleted by their owner since: kept as they are); "
            f"{gig_report.employers_created} employers created"
        )
        _load_model(rt)
        for entity in rt.entities:
            typer.echo(f"indexing {entity.name}: embedding each one and writing it to the index")
            idx = reindex(rt, entities=[entity], progress=progress)
            line = (
                f"indexed {idx.indexed} {entity.name} ({idx.embedded} embedded, "
                f"{idx.reused} reused) in {idx.seconds:.1f}s"
            )
            if entity.name == GIGS:
                line += _unserved(unserved_reasons(rt, gig_report.external_ids), "demo gigs")
            typer.echo(line)
        _optimize(rt)
        for text in _demo_keys(rt, _DEMO_STUDENT, DEMO_EMPLOYER_CLERK_ID):
            typer.echo(text)


def _profile_skips(empty: int, deleted: int) -> str:
    """``", N skipped (why)"`` for an import's skipped profile rows, ``""`` for none."""
    reasons = [f"{empty} empty resumes"] if empty else []
    if deleted:
        reasons.append(f"{deleted} of deleted users, never brought back")
    return f", {empty + deleted} skipped ({'; '.join(reasons)})" if reasons else ", 0 skipped"


def _unserved(reasons: dict[str, int], what: str) -> str:
    """``"; N <what> not indexed (students see only open gigs ...): 4 draft, ..."``."""
    total = sum(reasons.values())
    if not total:
        return ""
    parts = ", ".join(f"{n} {reason}" for reason, n in sorted(reasons.items()))
    return (
        f"; {total} {what} not indexed, as students see only open gigs before their "
        f"deadline: {parts}"
    )


def _load_model(rt: Runtime) -> None:
    """Load the dense encoder now, saying so: the first load of an ONNX backend also
    builds its export, and a bare wait before the first progress tick looks hung."""
    typer.echo(
        "loading the embedding model (the first run also exports it to ONNX, once, "
        "into the model cache)"
    )
    started = time.perf_counter()
    encoder = rt.encoder
    typer.echo(f"loaded {encoder.name} in {time.perf_counter() - started:.1f}s")


def _demo_keys(rt: Runtime, student: str, employer: str) -> list[str]:
    """Create a student key and an employer key for the demo users (those that
    exist) and return the lines that show them, as shell ``export`` lines."""
    from search_service.db import session_scope
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


def _index_imported(rt: Runtime, entity: IndexedEntity, *, progress: bool) -> str:
    """Index what an import changed in ``entity`` and describe it in one line.

    The import's writes mark exactly the rows whose indexed document changed as
    stale, so the refresh job's pass (:func:`_refresh_entity`) embeds those and
    nothing else. Only an entity never indexed before is built whole (``reindex``),
    which also measures its BM25 average document length and builds its search graph.
    """
    from search_service.db import session_scope
    from search_service.index.state import get_state
    from search_service.refresh.writer import reindex

    with session_scope(rt.engine) as session:
        indexed_before = get_state(session, entity.bm25_key) is not None
    if not indexed_before:
        _load_model(rt)
        idx = reindex(rt, entities=[entity], progress=progress)
        _optimize(rt, only=entity.name)
        return (
            f"indexed {idx.indexed} {entity.name}, the first index of them "
            f"({idx.embedded} embedded, {idx.reused} reused) in {idx.seconds:.1f}s"
        )
    r = _refresh_entity(rt, entity, progress=progress)
    line = (
        f"indexed {r.indexed} new or changed {entity.name} ({r.embedded} embedded, "
        f"{r.reused} reused, {len(r.failed)} failed, {r.removed} removed) in {r.seconds:.1f}s; "
        "the rest of the index was left as it was"
    )
    if r.failed:
        typer.echo(line)
        raise _fail(
            f"{len(r.failed)} {entity.name} failed to index (ids {_ids(r.failed)}); "
            "the refresh job retries them"
        )
    return line


def _ids(ids: list[int]) -> str:
    return ", ".join(map(str, ids[:20])) + (", ..." if len(ids) > 20 else "")


def _refresh_entity(
    rt: Runtime, entity: IndexedEntity, *, progress: bool, limit: int | None = None
) -> RefreshReport:
    """Index ``entity``'s stale rows (the refresh job's pass) until none is left, or
    ``limit`` rows were claimed, with a progress bar over the backlog."""
    from tqdm import tqdm

    from search_service.db import session_scope
    from search_service.index.repository import staleness
    from search_service.refresh.freshness import RefreshReport, refresh_stale

    with session_scope(rt.engine) as session:
        backlog = staleness(session, entity=entity).stale
    if limit is not None:
        backlog = min(backlog, limit)
    step = rt.settings.freshness.batch_size
    total = RefreshReport()
    with tqdm(
        total=backlog,
        desc=f"refresh {entity.name}",
        unit=entity.item,
        disable=not progress or backlog == 0,
    ) as bar:
        while True:
            want = step if limit is None else min(step, limit - total.claimed)
            if want <= 0:
                break
            run = refresh_stale(rt, limit=want, entities=[entity])
            total.add(run)
            bar.update(max(0, min(run.claimed, backlog - bar.n)))
            if run.claimed < want or not (run.indexed or run.removed):
                break
    return total


@app.command("ingest-jobs")
def ingest_jobs_cmd(
    path: Annotated[
        Path,
        typer.Argument(
            help="LinkedIn job CSV: job_id,title,company,date,industry,job_function,description."
        ),
    ],
    index: Annotated[bool, typer.Option(help="Index the gigs after importing.")] = True,
    limit: Annotated[
        int | None, typer.Option(min=1, help="Import only the first N data rows.")
    ] = None,
    progress: Annotated[bool, _NO_PROGRESS] = True,
) -> None:
    """Import job postings as open gigs, one employer per company (re-running updates,
    never duplicates, and never reopens a gig its owner closed or deleted), then
    embed only the gigs it created or changed."""
    from search_service.gigs.ingest import ingest_jobs, unserved_reasons
    from search_service.index.entity import GIG_ROWS

    with _input_file(path, "a job-postings CSV"), _runtime() as rt:
        started = time.perf_counter()
        report = ingest_jobs(rt, path, progress=progress, limit=limit)
        typer.echo(
            f"ingest-jobs: {report.rows} rows, {report.postings} postings "
            f"({report.duplicate_rows} duplicate rows, {report.empty_rows} empty rows): "
            f"{report.created} created, {report.updated} updated, {report.unchanged} unchanged, "
            f"{report.skipped} skipped ({report.kept_closed} closed or deleted by their owner, "
            f"{report.employer_gone} of suspended or deleted employers, {report.invalid} invalid); "
            f"{report.employers_created} employers created"
        )
        if index:
            line = _index_imported(rt, GIG_ROWS, progress=progress)
            line += _unserved(unserved_reasons(rt, report.external_ids), "imported gigs")
            typer.echo(f"{line}; ingest + index {time.perf_counter() - started:.1f}s")


@app.command("ingest-resumes")
def ingest_resumes_cmd(
    path: Annotated[Path, typer.Argument(help="CSV with columns ID,Category,Resume_str.")],
    index: Annotated[bool, typer.Option(help="Index the profiles after importing.")] = True,
    limit: Annotated[
        int | None, typer.Option(min=1, help="Import only the first N data rows.")
    ] = None,
    progress: Annotated[bool, _NO_PROGRESS] = True,
) -> None:
    """Import resumes as student profiles (re-running updates, never duplicates, and
    never brings back a deleted user), then embed only the profiles it created or changed."""
    from search_service.index.entity import PROFILE_ROWS
    from search_service.profiles.ingest import ingest_resumes

    with _input_file(path, "a resume CSV"), _runtime() as rt:
        started = time.perf_counter()
        report = ingest_resumes(rt, path, progress=progress, limit=limit)
        typer.echo(
            f"ingest-resumes: {report.rows} rows: {report.created} created, "
            f"{report.updated} updated, {report.unchanged} unchanged"
            f"{_profile_skips(report.skipped, report.deleted)}"
        )
        if index:
            line = _index_imported(rt, PROFILE_ROWS, progress=progress)
            typer.echo(f"{line}; ingest + index {time.perf_counter() - started:.1f}s")


@app.command()
def reindex(
    recreate: Annotated[
        bool, typer.Option("--recreate", help="Drop the index and re-embed everything.")
    ] = False,
    progress: Annotated[bool, _NO_PROGRESS] = True,
) -> None:
    """Rebuild the search index from SQL (profiles, then gigs)."""
    from search_service.refresh.writer import reindex as do_reindex

    with _runtime() as rt:
        _load_model(rt)
        for entity in rt.entities:
            idx = do_reindex(rt, recreate=recreate, entities=[entity], progress=progress)
            typer.echo(
                f"indexed {idx.indexed} {entity.name} ({idx.embedded} embedded, "
                f"{idx.reused} reused) in {idx.seconds:.1f}s = {idx.per_second:.1f} {entity.name}/s"
            )
        _optimize(rt)


def _optimize(rt: Runtime, *, only: str | None = None) -> None:
    """Build every collection's HNSW graph (or ``only`` that one's) after a bulk load
    (``VectorStore.optimize``: the embedded store has no background optimizer,
    docs/scaling.md), saying so before each."""
    for entity in rt.entities:
        name, store = entity.name, rt.index(entity).store
        if only is not None and name != only:
            continue
        typer.echo(f"optimizing the {name} index (building its search graph)")
        started = time.perf_counter()
        store.optimize()
        typer.echo(f"optimized the {name} index in {time.perf_counter() - started:.1f}s")


@app.command()
def search(
    query: Annotated[str, typer.Argument(help="What the employer needs.")],
    mode: Annotated[
        str,
        typer.Option(parser=_SEARCH_MODE, metavar=_SEARCH_MODE.metavar, help="Ranking mode."),
    ] = "hybrid",
    limit: Annotated[int, typer.Option(min=1, max=100)] = 10,
    skill: Annotated[list[str] | None, typer.Option(help="Required skill (repeatable).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the API's JSON.")] = False,
) -> None:
    """Search from the shell, as the API would."""
    from pydantic import ValidationError

    from models import SearchFilters, SearchMode, SearchRequest
    from search_service.db import session_scope
    from search_service.search.service import search_profiles

    try:
        req = SearchRequest(
            query=query,
            mode=SearchMode(mode),
            limit=limit,
            filters=SearchFilters(skills=skill or []),
        )
    except ValidationError as exc:
        raise _fail(str(exc), ExitCode.USAGE) from exc
    with _runtime() as rt, session_scope(rt.engine) as session:
        if req.mode is not SearchMode.KEYWORD:
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
    role: Annotated[
        str,
        typer.Option(parser=_ROLE, metavar=_ROLE.metavar, help="Role the key carries."),
    ] = "employer",
    user: Annotated[
        str | None,
        typer.Option(
            "--user", help="clerkId of the user the key acts as (default: a new service user)."
        ),
    ] = None,
    name: Annotated[str, typer.Option(help="A label for the key.")] = "",
) -> None:
    """Create an API key; the key is the last word printed (shown once)."""
    from search_service.db import session_scope
    from search_service.users.api_keys import create_api_key, create_service_user
    from search_service.users.repository import find_user_by_clerk_id

    with _sql_engine() as engine, session_scope(engine) as session:
        if user is None:
            owner = create_service_user(session, role=role, name=name)
        else:
            found = find_user_by_clerk_id(session, user)
            if found is None:
                raise _fail(f"no user with clerkId {user!r}", ExitCode.USAGE)
            if role not in found.roles:
                raise _fail(f"user {user} does not have the role {role}", ExitCode.USAGE)
            owner = found
        row, key = create_api_key(session, role=role, name=name, user_id=owner.id)
    typer.echo(f"created API key #{row.id} for {owner.clerk_id} with role {role}: {key}")


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
        raise typer.Exit(ExitCode.FAILURE)


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
    limit: Annotated[
        int | None, typer.Option(min=1, help="Most rows of each entity to refresh.")
    ] = None,
    progress: Annotated[bool, _NO_PROGRESS] = True,
) -> None:
    """Index stale profiles and gigs now (what the scheduled refresh job does), once;
    exit 1 if some failed."""
    failed: list[int] = []
    with _runtime() as rt:
        for entity in rt.entities:
            r = _refresh_entity(rt, entity, progress=progress, limit=limit)
            typer.echo(
                f"refreshed {r.indexed} {entity.name} ({r.embedded} embedded, {r.reused} reused, "
                f"{len(r.failed)} failed, {r.removed} removed) in {r.seconds:.1f}s "
                f"= {r.per_second:.1f} {entity.name}/s"
            )
            if r.failed:
                typer.echo(f"failed {entity.item} ids: {_ids(r.failed)}")
            failed += r.failed
    if failed:
        raise typer.Exit(ExitCode.FAILURE)


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
    from search_service.settings import get_settings

    with _sql_engine() as engine:
        days = (
            retention_days if retention_days is not None else get_settings().privacy.retention_days
        )
        n = purge_expired(engine, retention_days=days)
    typer.echo(f"purged {n} users deleted more than {days} days ago")


@app.command("run-saved-searches")
def run_saved_searches_cmd(
    all_: Annotated[
        bool, typer.Option("--all", help="Run every saved search, not only the due ones.")
    ] = False,
) -> None:
    """Run due saved searches now (what the scheduled job does), once; exit 1 if some
    failed."""
    from search_service.saved.service import run_due_saved_searches

    with _runtime() as rt:
        r = run_due_saved_searches(rt, force=all_)
    typer.echo(
        f"ran {r.ran} saved searches ({r.failed} failed, {r.skipped} skipped): "
        f"{r.alerts} new alerts"
    )
    if r.failed:
        raise typer.Exit(ExitCode.FAILURE)


def main() -> None:  # pragma: no cover - console entry point
    """Entry point: the command run configures logging from settings
    (``search_service.logs``) once it starts working, so ``--help`` imports nothing."""
    global _log_from_settings
    _log_from_settings = True
    app()


if __name__ == "__main__":  # pragma: no cover - `python -m search_service.cli`
    main()

"""``python -m benchmarks``: latency, facets, relevance (BEIR and resumes), recommendation,
freshness and refresh harnesses that print numbers."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from models import SearchMode

if TYPE_CHECKING:
    from benchmarks.relevance import Config, Record

app = typer.Typer(
    help="Gigsy search benchmarks (they print numbers; nothing asserts).",
    no_args_is_help=True,
    add_completion=False,
)

JOBS_CSV = Path("../shared/data/jobs/linkedin_jobs_2023_sample.csv")
RESUMES_CSV = Path("../shared/data/resumes/livecareer_resumes_2484.csv")
SCIFACT_DIR = Path("../shared/data/scifact")
RESUMES_CSV = Path("../shared/data/resumes/livecareer_resumes_2484.csv")


@app.command()
def latency(
    data_dir: Annotated[Path, typer.Option(help="Directory whose ./var holds the data.")] = Path(
        "."
    ),
    n: Annotated[int, typer.Option(help="Searches per mode.")] = 100,
    mode: Annotated[list[SearchMode] | None, typer.Option(help="Mode(s) to time.")] = None,
    url: Annotated[str | None, typer.Option(help="Use a running server instead.")] = None,
    key: Annotated[str | None, typer.Option(help="Employer key for --url.")] = None,
    jobs_csv: Annotated[Path, typer.Option(help="Real job titles used as queries.")] = JOBS_CSV,
) -> None:
    """p50/p95/p99 of N searches per mode through HTTP (starts `serve` unless --url)."""
    from benchmarks.latency import employer_queries, run_latency

    modes = [m.value for m in (mode or [SearchMode.HYBRID])]
    queries = employer_queries(n * len(modes), jobs_csv.resolve() if jobs_csv else None)
    for rep in run_latency(
        data_dir=data_dir.resolve(), queries=queries, modes=modes, url=url, key=key
    ):
        typer.echo(rep.summary())


@app.command()
def facets(
    n: Annotated[int, typer.Option(help="Searches per case and variant.")] = 50,
) -> None:
    """p50/p95 ms of employer searches with and without facets and suggestions (./var data)."""
    from benchmarks.facets import run_facets
    from search_service.runtime import Runtime
    from search_service.settings import get_settings

    rt = Runtime.open(get_settings())
    try:
        cases = run_facets(rt, n=n)
        profiles = rt.store.count()
    finally:
        rt.close()
    typer.echo(f"{profiles} indexed profiles, {n} searches per case and variant (ms, in process)")
    typer.echo(f"{'case':<34} {'p50':>7} {'p95':>7} {'+f p50':>8} {'+f p95':>8} {'counted':>8}")
    for case in cases:
        typer.echo(case.row())


relevance_app = typer.Typer(
    help="nDCG@10, recall@100, MRR@10 (resumes: P@10) per ranking configuration.",
    no_args_is_help=True,
)
app.add_typer(relevance_app, name="relevance")

ModelOpt = Annotated[
    str | None,
    typer.Option(help="Dense model: a path or id, or 'hashing' (default: all-MiniLM-L6-v2)."),
]
CacheOpt = Annotated[
    Path | None,
    typer.Option(help="Embedding cache (default: ~/.cache/gigsy-bench/embeddings)."),
]
ConfigOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--config",
        help="A configuration, e.g. 'keyword', 'rrf k=60 w=1:1', 'convex norm=tmm alpha=0.3'"
        " (repeatable; default: the whole grid).",
    ),
]
JsonOpt = Annotated[Path | None, typer.Option("--json", help="Also write the records here.")]
ExpandOpt = Annotated[
    bool, typer.Option(help="Expand the query with taxonomy aliases (indexers.taxonomy).")
]


def _configs(texts: list[str] | None) -> list[Config]:
    from benchmarks.relevance import DEFAULT_GRID, parse_config

    if not texts:
        return list(DEFAULT_GRID)
    try:
        return [parse_config(t) for t in texts]
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--config") from None


def _report(records: list[Record], json_path: Path | None) -> None:
    import json

    from benchmarks.relevance import format_record

    for rec in records:
        typer.echo(format_record(rec))
    if json_path is not None:
        json_path.write_text(
            json.dumps([r.as_json() for r in records], indent=2) + "\n", encoding="utf-8"
        )


@relevance_app.command("beir")
def relevance_beir(
    data: Annotated[
        Path, typer.Option(help="BEIR directory: corpus.jsonl, queries.jsonl, qrels/.")
    ] = SCIFACT_DIR,
    split: Annotated[str, typer.Option(help="Judgements: qrels/<split>.tsv.")] = "train",
    model: ModelOpt = None,
    cache_dir: CacheOpt = None,
    config: ConfigOpt = None,
    json_path: JsonOpt = None,
    expand: ExpandOpt = False,
    limit_docs: Annotated[
        int | None,
        typer.Option(help="Index the first N docs plus every doc judged for a kept query."),
    ] = None,
    limit_queries: Annotated[int | None, typer.Option(help="Evaluate the first N queries.")] = None,
) -> None:
    """A BEIR dataset (SciFact by default) through the service's retrieval and fusion."""
    from benchmarks.embcache import CachedEncoder, default_cache_dir
    from benchmarks.relevance import expand_query, load_beir, open_beir, run_configs

    configs = _configs(config)
    beir = load_beir(
        data.resolve(), split=split, limit_docs=limit_docs, limit_queries=limit_queries
    )
    encoder = CachedEncoder(model, cache_dir or default_cache_dir())
    name = f"{data.resolve().name}/{split}"
    with open_beir(beir, encoder, name=name) as (rt, judged):
        typer.echo(
            f"{name}: {len(judged.queries)} judged queries, {judged.docs} docs,"
            f" model {encoder.name}{' (query expansion)' if expand else ''}"
        )
        records = run_configs(rt, judged, configs, rewrite=expand_query if expand else None)
    _report(records, json_path)


@relevance_app.command("resumes")
def relevance_resumes(
    resumes: Annotated[Path, typer.Option(help="LiveCareer resume CSV.")] = RESUMES_CSV,
    model: ModelOpt = None,
    cache_dir: CacheOpt = None,
    config: ConfigOpt = None,
    json_path: JsonOpt = None,
    expand: ExpandOpt = False,
) -> None:
    """The 24 resume category names as queries, through the service's retrieval and fusion."""
    from benchmarks.embcache import CachedEncoder, default_cache_dir
    from benchmarks.relevance import expand_query, open_resumes, run_configs

    configs = _configs(config)
    encoder = CachedEncoder(model, cache_dir or default_cache_dir())
    with open_resumes(resumes.resolve(), encoder) as (rt, judged):
        typer.echo(
            f"resumes: {len(judged.queries)} category queries, {judged.docs} profiles,"
            f" model {encoder.name}{' (query expansion)' if expand else ''}"
        )
        records = run_configs(
            rt, judged, configs, precision=True, rewrite=expand_query if expand else None
        )
    _report(records, json_path)


@app.command()
def recommend(
    resumes: Annotated[
        Path, typer.Option(help="LiveCareer resume CSV (ID,Category,Resume_str).")
    ] = RESUMES_CSV,
    jobs: Annotated[Path, typer.Option(help="LinkedIn job CSV.")] = JOBS_CSV,
    sample: Annotated[
        int | None,
        typer.Option(min=1, help="Keep a seeded random N resumes and N postings (quick run)."),
    ] = None,
    data_dir: Annotated[
        Path | None,
        typer.Option(
            help="Build the data here (SQLite + Qdrant Edge); reused by a run with the same "
            "inputs (default: a fresh temp dir)."
        ),
    ] = None,
    k: Annotated[int, typer.Option(min=1, help="Cut-off.")] = 10,
    seed: Annotated[int, typer.Option(help="Seed of --sample and of the feedback sample.")] = 42,
    model: Annotated[
        str | None,
        typer.Option(help="Dense model: a path or id, or 'hashing' (default: all-MiniLM-L6-v2)."),
    ] = None,
    feedback_gigs: Annotated[
        int, typer.Option(min=1, help="Mapped postings judged in the feedback task.")
    ] = 200,
    progress: Annotated[bool, typer.Option(help="Show progress bars.")] = True,
) -> None:
    """P@10, nDCG@10, MRR and latency of candidates, recommended gigs, similar profiles
    and feedback, through the API's ranking functions, on the resumes and postings."""
    import tempfile

    from benchmarks.recommend import build_corpus, check_manifest, format_report, run_recommend
    from search_service.runtime import Runtime
    from search_service.settings import EmbeddingSettings, QdrantSettings, Settings

    for path, name in ((resumes, "--resumes"), (jobs, "--jobs")):
        if not path.is_file():
            raise typer.BadParameter(f"no such file: {path}", param_hint=name)
    with tempfile.TemporaryDirectory(prefix="gigsy-recommend-") as tmp:
        var = data_dir.resolve() if data_dir else Path(tmp) / "var"
        inputs = {
            "resumes": str(resumes.resolve()),
            "jobs": str(jobs.resolve()),
            "sample": sample,
            "seed": seed,
            "model": model,
        }
        try:
            check_manifest(var, inputs)
        except ValueError as exc:
            raise typer.BadParameter(str(exc), param_hint="--data-dir") from exc
        settings = Settings(
            data_dir=var,
            database_url=f"sqlite:///{var / 'gigsy.db'}",
            qdrant=QdrantSettings(url=None),
            embedding=EmbeddingSettings(model=model),
        )
        rt = Runtime.open(settings)
        try:
            corpus = build_corpus(rt, resumes, jobs, sample=sample, seed=seed, progress=progress)
            rep = run_recommend(
                rt, corpus, k=k, feedback_gigs=feedback_gigs, seed=seed, progress=progress
            )
        finally:
            rt.close()
    typer.echo(f"data: {var}")
    typer.echo(format_report(rep))


@app.command()
def freshness(
    profiles: Annotated[
        int, typer.Option(min=1, help="Demo students to load when the data dir has none.")
    ] = 500,
    edits: Annotated[int, typer.Option(min=1, help="Timed edits (sequential).")] = 50,
    students: Annotated[
        int, typer.Option(min=1, help="Demo students edited round-robin (one key each).")
    ] = 10,
    data_dir: Annotated[
        Path | None,
        typer.Option(help="Directory whose ./var holds the data (default: a fresh temp dir)."),
    ] = None,
    port: Annotated[int | None, typer.Option(help="Port for serve (default: a free one).")] = None,
    seed: Annotated[int, typer.Option(help="Demo data seed.")] = 42,
) -> None:
    """Edit-to-searchable latency: PATCH a unique token, poll keyword search until found."""
    import os
    import tempfile

    from benchmarks.freshness import run_freshness

    # serve inherits the environment: a server URL would time (and edit) another setup.
    urls = ("DATABASE_URL", "GIGSY_DATABASE_URL", "QDRANT_URL", "GIGSY_QDRANT__URL")
    remote = [v for v in urls if os.environ.get(v)]
    if remote:
        raise typer.BadParameter(
            f"unset {', '.join(remote)}: this benchmark measures the embedded default "
            "(SQLite + Qdrant Edge under ./var)"
        )
    with tempfile.TemporaryDirectory(prefix="gigsy-freshness-") as tmp:
        where = data_dir.resolve() if data_dir else Path(tmp)
        typer.echo(f"data: {where}/var  ({profiles} demo profiles unless already loaded)")
        rep = run_freshness(
            data_dir=where,
            profiles=profiles,
            edits=edits,
            students=min(students, profiles),
            port=port,
            seed=seed,
        )
    typer.echo(rep.summary())


@app.command()
def refresh(
    profiles: Annotated[int, typer.Option(min=1, help="Demo students to load and refresh.")] = 1000,
    model: Annotated[
        str | None,
        typer.Option(help="Dense model: a path or id, or 'hashing' (default: all-MiniLM-L6-v2)."),
    ] = None,
    seed: Annotated[int, typer.Option(help="Demo data seed.")] = 42,
) -> None:
    """Refresh throughput (profiles/s), in-process: every text changed, timestamps only, one
    profile, then a reindex of unchanged data."""
    import tempfile

    from benchmarks.refresh import format_results, run_refresh
    from search_service.settings import EmbeddingSettings, QdrantSettings, Settings

    with tempfile.TemporaryDirectory(prefix="gigsy-refresh-") as tmp:
        var = Path(tmp) / "var"
        settings = Settings(
            data_dir=var,
            database_url=f"sqlite:///{var / 'gigsy.db'}",
            qdrant=QdrantSettings(url=None),
            embedding=EmbeddingSettings(model=model),
        )
        results = run_refresh(
            settings, profiles=profiles, seed=seed, on_step=lambda m: typer.echo(f"... {m}")
        )
    typer.echo(f"{profiles} demo profiles, batch size {settings.freshness.batch_size}")
    typer.echo(format_results(results))


if __name__ == "__main__":
    app()

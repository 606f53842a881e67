"""``python -m benchmarks``: latency, facets, relevance, SciFact and freshness harnesses
that print numbers."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

import typer

from models import SearchMode

app = typer.Typer(
    help="Gigsy search benchmarks (they print numbers; nothing asserts).",
    no_args_is_help=True,
    add_completion=False,
)

JOBS_CSV = Path("../shared/data/jobs/linkedin_jobs_2023_sample.csv")
SCIFACT_DIR = Path("../shared/data/scifact")


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


@app.command()
def relevance(
    k: Annotated[int, typer.Option(help="Cut-off.")] = 10,
    per_category: Annotated[bool, typer.Option(help="Print precision@k per category.")] = False,
) -> None:
    """precision@10, nDCG@10, MRR per mode with the 24 category names as queries (./var data)."""
    from benchmarks.relevance import run_relevance
    from search_service.runtime import Runtime
    from search_service.settings import get_settings

    rt = Runtime.open(get_settings())
    try:
        rep = run_relevance(rt, k=k)
    finally:
        rt.close()
    typer.echo(f"{rep.queries} category queries, k={k}")
    typer.echo(f"{'mode':<10} {'P@10':>6} {'nDCG@10':>8} {'MRR':>6}")
    for name, m in rep.mean.items():
        typer.echo(f"{name:<10} {m['p@10']:>6.3f} {m['ndcg@10']:>8.3f} {m['mrr']:>6.3f}")
    if per_category:
        names = list(rep.mean)
        typer.echo("category".ljust(26) + " ".join(f"{n:>9}" for n in names))
        for cat, ps in rep.per_category.items():
            typer.echo(cat.ljust(26) + " ".join(f"{ps[n]:>9.1f}" for n in names))


@app.command()
def scifact(
    data_dir: Annotated[
        Path, typer.Option(help="BEIR SciFact directory (corpus, queries, qrels/train.tsv).")
    ] = SCIFACT_DIR,
    model: Annotated[
        str | None,
        typer.Option(help="Dense model: a path or id, or 'hashing' (default: all-MiniLM-L6-v2)."),
    ] = None,
    store: Annotated[
        Literal["edge", "memory"],
        typer.Option(help="Qdrant Edge shard, or qdrant-client ':memory:'."),
    ] = "edge",
    index_dir: Annotated[
        Path | None,
        typer.Option(help="Keep the Edge shard here; reused when docs are unchanged."),
    ] = None,
    limit_docs: Annotated[
        int | None,
        typer.Option(help="Index the first N docs plus every doc judged for a kept query."),
    ] = None,
    limit_queries: Annotated[int | None, typer.Option(help="Evaluate the first N queries.")] = None,
) -> None:
    """nDCG@10, recall@100, MRR@10 and ms/query per mode on BEIR SciFact (indexers only)."""
    from benchmarks.scifact import format_report, run_benchmark

    if index_dir is not None and store == "memory":
        raise typer.BadParameter("--index-dir needs --store edge", param_hint="--index-dir")
    rep = run_benchmark(
        data_dir=data_dir.resolve(),
        model=model,
        store=store,
        index_dir=index_dir.resolve() if index_dir else None,
        limit_docs=limit_docs,
        limit_queries=limit_queries,
    )
    typer.echo(format_report(rep, limited=limit_docs is not None or limit_queries is not None))


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
    """Refresh throughput (profiles/s), in-process: every text changed, then timestamps only."""
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

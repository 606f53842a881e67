"""``python -m benchmarks``: latency, server CPU per request, facets, relevance (BEIR and
resumes), recommendation, freshness and refresh harnesses that print numbers."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from models import SearchMode
from search_service.entities import ENTITIES
from search_service.runtime import PROFILES

if TYPE_CHECKING:
    from benchmarks.embcache import CachedEncoder
    from benchmarks.relevance import Config, Record
    from indexers import Backend

app = typer.Typer(
    help="Gigsy search benchmarks (they print numbers; nothing asserts).",
    no_args_is_help=True,
    add_completion=False,
)

JOBS_CSV = Path("../shared/data/jobs/linkedin_jobs_2023_sample.csv")
RESUMES_CSV = Path("../shared/data/resumes/livecareer_resumes_2484.csv")
SCIFACT_DIR = Path("../shared/data/scifact")
RESUMES_CSV = Path("../shared/data/resumes/livecareer_resumes_2484.csv")


class VectorsOption(StrEnum):
    """``--vectors`` of ``latency --profiles`` and ``cpu``: how a new build makes dense
    vectors (``benchmarks.scale_build.Vectors``)."""

    REAL = "real"
    COMPOSED = "composed"


_VECTORS_HELP = (
    "How a new build makes dense vectors: real (every document embedded) or composed "
    "(distinct fragments embedded once, vectors composed: ~15 min at 100k on 2 cores). "
    "An existing build must have been made the same way."
)


def _build_first(
    where: Path, *, profiles: int, seed: int, vectors: VectorsOption, fp32_sample: int = 0
) -> None:
    """Build (or check and reuse) the data in ``where`` with ``vectors``, so the harness
    that follows reuses it.

    Raises:
        typer.BadParameter: ``where`` holds another build.
    """
    from benchmarks.scale_build import build_data

    try:
        build_data(
            where,
            profiles=profiles,
            seed=seed,
            fp32_sample=fp32_sample,
            vectors=vectors.value,
            say=typer.echo,
        )
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--data-dir") from exc


def _built_data(data_dir: Path | None, *, profiles: int, seed: int, vectors: VectorsOption) -> Path:
    """The data directory of a harness that serves the data: ``data_dir`` (default
    ``benchmarks/results/data-<profiles>``), created and built or reused
    (:func:`_build_first`).

    Raises:
        typer.BadParameter: it holds another build.
    """
    where = (data_dir or Path("benchmarks/results") / f"data-{profiles}").resolve()
    where.mkdir(parents=True, exist_ok=True)
    _build_first(where, profiles=profiles, seed=seed, vectors=vectors)
    return where


def _embedded_only(url: str | None = None) -> None:
    """Refuse a server URL in the environment (``serve`` inherits it and would time,
    and write to, another setup) or ``--url``.

    Raises:
        typer.BadParameter: one is set.
    """
    import os

    urls = ("DATABASE_URL", "GIGSY_DATABASE_URL", "QDRANT_URL", "GIGSY_QDRANT__URL")
    remote = [v for v in urls if os.environ.get(v)]
    if remote or url:
        raise typer.BadParameter(
            f"unset {', '.join(remote) or '--url'}: --profiles measures the embedded "
            "default (SQLite + Qdrant Edge under --data-dir)"
        )


@app.command()
def latency(
    data_dir: Annotated[
        Path | None,
        typer.Option(
            help="Directory whose ./var holds the data (with --profiles: built there, or "
            "reused when built before with the same inputs; default benchmarks/results/data-<N>)."
        ),
    ] = None,
    profiles: Annotated[
        int | None,
        typer.Option(
            min=10,
            help="Build N demo profiles and N/10 gigs and run the whole harness "
            "(every list's stages and server CPU, QPS, RSS, indexing, freshness, baselines).",
        ),
    ] = None,
    json_path: Annotated[
        Path | None,
        typer.Option(
            "--json",
            help="With --profiles: the JSON report (default benchmarks/results/latency-<N>.json).",
        ),
    ] = None,
    queries: Annotated[
        int, typer.Option(min=10, help="With --profiles: timed requests per list.")
    ] = 200,
    edits: Annotated[int, typer.Option(min=1, help="With --profiles: timed edits.")] = 30,
    qps_seconds: Annotated[
        float, typer.Option(min=1.0, help="With --profiles: seconds per QPS measurement.")
    ] = 15.0,
    baselines: Annotated[
        bool, typer.Option(help="With --profiles: run the rank-bm25 and qdrant-client baselines.")
    ] = True,
    serve_arg: Annotated[
        list[str] | None,
        typer.Option(
            help="With --profiles: an extra `serve` option (repeatable), e.g. --http=h11."
        ),
    ] = None,
    fp32_sample: Annotated[
        int,
        typer.Option(
            min=0, help="With --profiles: documents for the plain fp32 comparison (0: skip)."
        ),
    ] = 2000,
    seed: Annotated[int, typer.Option(help="Demo data seed.")] = 42,
    vectors: Annotated[
        VectorsOption, typer.Option(help=f"With --profiles: {_VECTORS_HELP}")
    ] = VectorsOption.REAL,
    n: Annotated[int, typer.Option(help="Without --profiles: searches per mode.")] = 100,
    mode: Annotated[list[SearchMode] | None, typer.Option(help="Mode(s) to time.")] = None,
    url: Annotated[str | None, typer.Option(help="Use a running server instead.")] = None,
    key: Annotated[str | None, typer.Option(help="Employer key for --url.")] = None,
    jobs_csv: Annotated[Path, typer.Option(help="Real job titles used as queries.")] = JOBS_CSV,
) -> None:
    """Search latency through HTTP. With --profiles N: the whole harness at that scale
    (benchmarks/scale.py); without: p50/p95/p99 of N searches per mode on existing
    data (starts `serve` unless --url)."""
    from benchmarks.latency import employer_queries, run_latency

    titles = jobs_csv.resolve() if jobs_csv and jobs_csv.is_file() else None
    if profiles is not None:
        from benchmarks.scale import format_report, run_scale, write_json

        _embedded_only(url)
        where = (data_dir or Path("benchmarks/results") / f"data-{profiles}").resolve()
        where.mkdir(parents=True, exist_ok=True)
        _build_first(where, profiles=profiles, seed=seed, vectors=vectors, fp32_sample=fp32_sample)
        try:
            rep = run_scale(
                where,
                profiles=profiles,
                queries=queries,
                edits=edits,
                qps_s=qps_seconds,
                seed=seed,
                jobs_csv=titles,
                serve_args=serve_arg or [],
                baselines=baselines,
                fp32_sample=fp32_sample,
                say=typer.echo,
            )
        except ValueError as exc:
            raise typer.BadParameter(str(exc), param_hint="--data-dir") from exc
        out = json_path or Path("benchmarks/results") / f"latency-{profiles}.json"
        write_json(rep, out)
        typer.echo(format_report(rep))
        typer.echo(f"data: {where}/var  report: {out}")
        return
    modes = [m.value for m in (mode or [SearchMode.HYBRID])]
    texts = employer_queries(n * len(modes), titles)
    for rep_line in run_latency(
        data_dir=(data_dir or Path(".")).resolve(), queries=texts, modes=modes, url=url, key=key
    ):
        typer.echo(rep_line.summary())


@app.command()
def cpu(
    profiles: Annotated[
        int, typer.Option(min=10, help="Demo profiles (gigs: a tenth), built or reused.")
    ] = 2000,
    data_dir: Annotated[
        Path | None,
        typer.Option(
            help="Directory whose ./var holds the data (built there, or reused when built "
            "before with the same inputs; default benchmarks/results/data-<N>, as latency)."
        ),
    ] = None,
    json_path: Annotated[
        Path | None,
        typer.Option("--json", help="The JSON report (default benchmarks/results/cpu-<N>.json)."),
    ] = None,
    requests: Annotated[int, typer.Option(min=1, help="Timed requests per list.")] = 200,
    warmup: Annotated[int, typer.Option(min=0, help="Untimed requests per list first.")] = 10,
    applicants: Annotated[
        int, typer.Option(min=1, help="Students who apply to each subject gig first.")
    ] = 3,
    qps_seconds: Annotated[
        float, typer.Option(min=0.1, help="Seconds per QPS measurement.")
    ] = 15.0,
    clients: Annotated[
        list[int] | None,
        typer.Option("--clients", min=1, help="Client counts of the QPS curve (default 1 2 4 8)."),
    ] = None,
    idle_seconds: Annotated[
        float, typer.Option(min=0.0, help="Seconds the idle server's CPU is read over (0: skip).")
    ] = 3.0,
    serve_arg: Annotated[
        list[str] | None,
        typer.Option(
            help="An extra `serve` option (repeatable), e.g. --serve-arg=--no-access-log."
        ),
    ] = None,
    seed: Annotated[int, typer.Option(help="Demo data seed.")] = 42,
    vectors: Annotated[VectorsOption, typer.Option(help=_VECTORS_HELP)] = VectorsOption.REAL,
    jobs_csv: Annotated[Path, typer.Option(help="Real job titles used as queries.")] = JOBS_CSV,
) -> None:
    """Server CPU per request (utime+stime of `serve`) and wall p50/p95 of every ranked
    list, QPS of cached searches at 1/2/4/8 clients, each row against its budget, with
    the load average (benchmarks/cpu.py). No freshness, baselines or fp32 comparison."""
    from benchmarks.cpu import CLIENTS, format_cpu_report, run_cpu, write_json

    _embedded_only()
    titles = jobs_csv.resolve() if jobs_csv and jobs_csv.is_file() else None
    where = _built_data(data_dir, profiles=profiles, seed=seed, vectors=vectors)
    try:
        rep = run_cpu(
            where,
            profiles=profiles,
            requests=requests,
            warmup=warmup,
            applicants=applicants,
            qps_s=qps_seconds,
            clients=clients or CLIENTS,
            idle_s=idle_seconds,
            seed=seed,
            jobs_csv=titles,
            serve_args=serve_arg or [],
            say=typer.echo,
        )
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--data-dir") from exc
    out = json_path or Path("benchmarks/results") / f"cpu-{profiles}.json"
    write_json(rep, out)
    typer.echo(format_cpu_report(rep))
    typer.echo(f"data: {where}/var  report: {out}")


@app.command()
def instructions(
    profiles: Annotated[
        int, typer.Option(min=10, help="Demo profiles (gigs: a tenth), built or reused.")
    ] = 2000,
    data_dir: Annotated[
        Path | None,
        typer.Option(
            help="Directory whose ./var holds the data (built there, or reused when built "
            "before with the same inputs; default benchmarks/results/data-<N>, as cpu)."
        ),
    ] = None,
    json_path: Annotated[
        Path | None,
        typer.Option(
            "--json", help="The JSON report (default benchmarks/results/instructions-<N>.json)."
        ),
    ] = None,
    requests: Annotated[int, typer.Option(min=1, help="Counted requests per list.")] = 20,
    warmup: Annotated[int, typer.Option(min=0, help="Uncounted requests per list first.")] = 5,
    list_name: Annotated[
        list[str] | None,
        typer.Option("--list", help="A list to count (repeatable; default every list)."),
    ] = None,
    seed: Annotated[int, typer.Option(help="Demo data seed.")] = 42,
    vectors: Annotated[VectorsOption, typer.Option(help=_VECTORS_HELP)] = VectorsOption.REAL,
    jobs_csv: Annotated[Path, typer.Option(help="Real job titles used as queries.")] = JOBS_CSV,
) -> None:
    """User-space instructions per request of every ranked list, counted by Valgrind's
    callgrind in `serve`: the same count run after run, for side-by-side comparisons
    that CPU time on a shared machine is too noisy for (benchmarks/instructions.py).
    Needs valgrind; serve runs ~50x slower under it."""
    from benchmarks.cpu import LISTS
    from benchmarks.instructions import format_instructions_report, run_instructions, write_json

    _embedded_only()
    titles = jobs_csv.resolve() if jobs_csv and jobs_csv.is_file() else None
    where = _built_data(data_dir, profiles=profiles, seed=seed, vectors=vectors)
    try:
        rep = run_instructions(
            where,
            profiles=profiles,
            requests=requests,
            warmup=warmup,
            lists=list_name or LISTS,
            seed=seed,
            jobs_csv=titles,
            say=typer.echo,
        )
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from exc
    out = json_path or Path("benchmarks/results") / f"instructions-{profiles}.json"
    write_json(rep, out)
    typer.echo(format_instructions_report(rep))
    typer.echo(f"data: {where}/var  report: {out}")


@app.command()
def facets(
    n: Annotated[int, typer.Option(help="Searches per case and variant.")] = 50,
) -> None:
    """p50/p95 ms of employer searches with and without facets and suggestions (./var data)."""
    from benchmarks.facets import run_facets
    from search_service.runtime import Runtime
    from search_service.settings import get_settings

    rt = Runtime.open(get_settings(), entities=ENTITIES)
    try:
        cases = run_facets(rt, n=n)
        profiles = rt.index(PROFILES).store.count()
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
BackendOpt = Annotated[
    str | None,
    typer.Option(
        help="Document encoder backend: torch, torch-bf16, onnx or onnx-int8 (default: the"
        " service's)."
    ),
]
QueryBackendOpt = Annotated[
    str | None,
    typer.Option(help="Query encoder backend (default: --backend when given, else the service's)."),
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


def _backend(text: str | None) -> Backend:
    from indexers import BACKENDS
    from search_service.settings import EmbeddingSettings

    if text is None:
        return EmbeddingSettings().document_backend
    for backend in BACKENDS:
        if backend == text:
            return backend
    raise typer.BadParameter(f"expected one of {', '.join(BACKENDS)}", param_hint="--backend")


def _query_backend(text: str | None, backend_text: str | None) -> Backend:
    """``--query-backend``; unset: ``--backend`` when that was given, else the service's."""
    from search_service.settings import EmbeddingSettings

    if text is not None:
        return _backend(text)
    if backend_text is not None:
        return _backend(backend_text)
    return EmbeddingSettings().resolved_query_backend


def _cached_encoder(
    model: str | None,
    cache_dir: Path | None,
    backend: Backend,
    query_backend: Backend | None = None,
) -> CachedEncoder:
    from benchmarks.embcache import CachedEncoder, default_cache_dir
    from search_service.settings import EmbeddingSettings

    return CachedEncoder(
        model,
        cache_dir or default_cache_dir(),
        backend=backend,
        query_backend=query_backend,
        model_cache_dir=EmbeddingSettings().model_cache_dir,
    )


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
    backend: BackendOpt = None,
    query_backend: QueryBackendOpt = None,
) -> None:
    """A BEIR dataset (SciFact by default) through the service's retrieval and fusion."""
    from benchmarks.relevance import expand_query, load_beir, open_beir, run_configs

    configs = _configs(config)
    beir = load_beir(
        data.resolve(), split=split, limit_docs=limit_docs, limit_queries=limit_queries
    )
    encoder = _cached_encoder(
        model, cache_dir, _backend(backend), _query_backend(query_backend, backend)
    )
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
    per_category: Annotated[
        int | None,
        typer.Option(min=1, help="Keep the first N resumes of each category (a quick run)."),
    ] = None,
    backend: BackendOpt = None,
    query_backend: QueryBackendOpt = None,
) -> None:
    """The 24 resume category names as queries, through the service's retrieval and fusion."""
    from benchmarks.relevance import expand_query, open_resumes, run_configs

    configs = _configs(config)
    encoder = _cached_encoder(
        model, cache_dir, _backend(backend), _query_backend(query_backend, backend)
    )
    with open_resumes(resumes.resolve(), encoder, per_category=per_category) as (rt, judged):
        typer.echo(
            f"resumes: {len(judged.queries)} category queries, {judged.docs} profiles,"
            f" model {encoder.name}{' (query expansion)' if expand else ''}"
        )
        records = run_configs(
            rt, judged, configs, precision=True, rewrite=expand_query if expand else None
        )
    _report(records, json_path)


@app.command()
def encoders(
    backend: Annotated[
        list[str] | None,
        typer.Option(help="Backend(s) to compare (default: torch, torch-bf16, onnx, onnx-int8)."),
    ] = None,
    docs: Annotated[int, typer.Option(min=1, help="Resumes encoded per round.")] = 256,
    rounds: Annotated[int, typer.Option(min=1, help="Interleaved passes over the resumes.")] = 3,
    queries: Annotated[int, typer.Option(min=1, help="Distinct job titles as queries.")] = 200,
    threads: Annotated[int, typer.Option(min=1, help="Intra-op threads.")] = 2,
    batch_size: Annotated[int, typer.Option(min=1, help="Documents per forward pass.")] = 32,
    resumes: Annotated[Path, typer.Option(help="LiveCareer resume CSV.")] = RESUMES_CSV,
    jobs_csv: Annotated[Path, typer.Option(help="Real job titles used as queries.")] = JOBS_CSV,
    scifact: Annotated[
        Path | None,
        typer.Option(help="Also SciFact nDCG@10 (dense, default hybrid) per backend from here."),
    ] = None,
    cache_dir: CacheOpt = None,
) -> None:
    """docs/s, query p50/p95 and cosine to torch per encoder backend on the same resumes
    (and, with --scifact, nDCG@10 per backend through the relevance harness)."""
    from benchmarks.encoders import format_runs, resume_texts, run_encoders
    from benchmarks.latency import employer_queries
    from search_service.settings import EmbeddingSettings

    chosen = [_backend(b) for b in (backend or ["torch", "torch-bf16", "onnx", "onnx-int8"])]
    texts = resume_texts(resumes.resolve(), docs)
    runs = run_encoders(
        chosen,
        texts,
        employer_queries(queries, jobs_csv.resolve()),
        rounds=rounds,
        threads=threads,
        batch_size=batch_size,
        model_cache_dir=EmbeddingSettings().model_cache_dir,
        on_step=lambda m: typer.echo(f"... {m}", err=True),
    )
    if scifact is not None:
        from benchmarks.relevance import Config, load_beir, open_beir, run_configs
        from search_service.settings import SearchSettings

        configs = {
            "dense nDCG@10": Config(SearchMode.SEMANTIC),
            "hybrid nDCG@10": Config(SearchMode.HYBRID, SearchSettings().fusion_spec),
        }
        beir = load_beir(scifact.resolve(), split="train")
        for run in runs:
            typer.echo(f"... SciFact with {run.backend}", err=True)
            encoder = _cached_encoder(None, cache_dir, run.backend)
            with open_beir(beir, encoder, name="scifact/train", progress=False) as (rt, judged):
                records = run_configs(rt, judged, list(configs.values()))
            run.ndcg = {lab: rec.ndcg_at_10 for lab, rec in zip(configs, records, strict=True)}
    typer.echo(format_runs(runs, docs=len(texts), threads=threads))


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
        rt = Runtime.open(settings, entities=ENTITIES)
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


@app.command()
def footprint(
    writes: Annotated[
        int, typer.Option(min=0, help="Also time N single-row write transactions.")
    ] = 0,
    threads: Annotated[int, typer.Option(min=1, help="Concurrent writers for --writes.")] = 1,
) -> None:
    """Bytes per row of every SQL table and per point of every collection (the data
    of the current settings: ./var, or GIGSY_DATABASE_URL; Qdrant Edge only)."""
    from benchmarks.footprint import collection_footprint, table_footprints, write_rate
    from indexers.store_edge import EdgeStore
    from search_service.runtime import Runtime
    from search_service.settings import get_settings

    settings = get_settings()
    if settings.qdrant.url:
        raise typer.BadParameter("measures the embedded Qdrant Edge store: unset the Qdrant URL")
    rt = Runtime.open(settings, entities=ENTITIES)
    try:
        tables = table_footprints(rt.engine)
        collections = []
        for entity in rt.entities:
            name, store = entity.name, rt.index(entity).store
            if isinstance(store, EdgeStore) and store.count():
                store.flush()
                collections.append(collection_footprint(name, store.shard, store.path))
        rate = write_rate(rt.engine, writes, threads=threads) if writes else None
    finally:
        rt.close()
    if rate is not None:
        typer.echo(f"{writes} write transactions, {threads} writer(s): {rate:.0f}/s")
    typer.echo(f"{rt.engine.dialect.name}: table + indexes")
    typer.echo(f"{'table':<22} {'rows':>8} {'bytes':>12} {'B/row':>8}")
    for t in tables:
        per_row = f"{t.bytes / t.rows:8.0f}" if t.rows else f"{'-':>8}"
        typer.echo(f"{t.name:<22} {t.rows:>8} {t.bytes:>12} {per_row}")
    typer.echo(
        f"{'collection':<10} {'points':>7} {'disk B/pt':>9} {'files B/pt':>10} {'dense B':>7}"
        f" {'nnz mean':>8} {'p50':>5} {'p95':>5} {'payload B':>9} {'p95':>6}"
    )
    for c in collections:
        typer.echo(
            f"{c.name:<10} {c.points:>7} {c.disk_bytes / c.points:>9.0f}"
            f" {c.apparent_bytes / c.points:>10.0f} {c.dense_bytes:>7} {c.nnz_mean:>8.1f}"
            f" {c.nnz_p50:>5.0f} {c.nnz_p95:>5.0f} {c.payload_mean:>9.0f} {c.payload_p95:>6.0f}"
        )


quantization_app = typer.Typer(
    help="Qdrant Edge quantization and growth: latency, memory, disk, recall, nDCG@10.",
    no_args_is_help=True,
)
app.add_typer(quantization_app, name="quantization")


@quantization_app.command("growth")
def quantization_growth(
    size: Annotated[
        list[int] | None, typer.Option("--size", help="Points (repeatable; default 10k 30k 100k).")
    ] = None,
    variant: Annotated[
        list[str] | None,
        typer.Option("--variant", help="A variant (repeatable; default: plain, int8)."),
    ] = None,
    queries: Annotated[int, typer.Option(min=10, help="Timed queries per shard.")] = 200,
    nnz: Annotated[int, typer.Option(min=1, help="Mean BM25 terms per point.")] = 150,
    root: Annotated[
        Path | None, typer.Option(help="Where the shards are built (default: a temp dir).")
    ] = None,
    keep: Annotated[bool, typer.Option(help="Keep the shards.")] = False,
    seed: Annotated[int, typer.Option(help="Synthetic data seed.")] = 42,
) -> None:
    """Upsert throughput, optimize time, disk, hybrid p50/p95 with two filters, dense
    recall@10 and RSS per variant and size, on synthetic vectors (no encoder)."""
    import tempfile

    from benchmarks.quantization import GROWTH_HEADER, VARIANTS, run_growth
    from search_service.settings import SearchSettings

    names = variant or ["plain", "int8"]
    unknown = [n for n in names if n not in VARIANTS]
    if unknown:
        raise typer.BadParameter(
            f"unknown {unknown}; known: {', '.join(VARIANTS)}", param_hint="--variant"
        )
    with tempfile.TemporaryDirectory(prefix="gigsy-growth-") as tmp:
        where = root.resolve() if root else Path(tmp)
        typer.echo(f"{queries} hybrid queries (2 keyword filters) per shard, mean {nnz} BM25 terms")
        typer.echo(GROWTH_HEADER)
        for row in run_growth(
            sizes=size or [10_000, 30_000, 100_000],
            variants=names,
            queries=queries,
            root=where,
            fusion=SearchSettings().fusion_spec,
            seed=seed,
            nnz=nnz,
            keep=keep,
        ):
            typer.echo(row.row())


@quantization_app.command("scifact")
def quantization_scifact(
    data: Annotated[
        Path, typer.Option(help="BEIR directory: corpus.jsonl, queries.jsonl, qrels/.")
    ] = SCIFACT_DIR,
    split: Annotated[str, typer.Option(help="Judgements: qrels/<split>.tsv.")] = "train",
    variant: Annotated[
        list[str] | None,
        typer.Option("--variant", help="Variant (repeatable; default plain hnsw int8 binary)."),
    ] = None,
    model: ModelOpt = None,
    cache_dir: CacheOpt = None,
    limit_docs: Annotated[
        int | None,
        typer.Option(help="Index the first N docs plus every doc judged for a kept query."),
    ] = None,
    limit_queries: Annotated[int | None, typer.Option(help="Evaluate the first N queries.")] = None,
) -> None:
    """nDCG@10 (semantic and the default hybrid) per variant, through the service's retrieve."""
    from benchmarks.embcache import default_cache_dir
    from benchmarks.quantization_beir import run_scifact

    try:
        header, rows = run_scifact(
            data,
            split=split,
            variants=variant or ["plain", "hnsw", "int8", "binary"],
            model=model,
            cache_dir=cache_dir or default_cache_dir(),
            limit_docs=limit_docs,
            limit_queries=limit_queries,
        )
    except KeyError as exc:
        raise typer.BadParameter(str(exc), param_hint="--variant") from None
    typer.echo(header)
    typer.echo(f"{'variant':<17} {'semantic':>9} {'hybrid':>9} {'disk MiB':>9} {'build s':>8}")
    for r in rows:
        typer.echo(
            f"{r.variant:<17} {r.semantic:>9.4f} {r.hybrid:>9.4f}"
            f" {r.disk_bytes / 2**20:>9.1f} {r.build_s:>8.1f}"
        )


if __name__ == "__main__":
    app()

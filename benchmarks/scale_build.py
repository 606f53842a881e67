"""Build a latency data set of N demo profiles and N/10 demo gigs, and time indexing.

Everything goes through the service's own code on the embedded default (SQLite +
Qdrant Edge under ``<data dir>/var``, the layout ``gigsy-search serve`` reads
there): the demo generators load SQL, :func:`reindex` embeds with the configured
encoder (``GIGSY_EMBEDDING__*`` settings, :func:`indexers.load_encoder`). Timed:

* ``index_profiles_per_s``: the first full reindex of the profiles (every text
  embedded), profiles per second of wall time;
* ``reindex_unchanged_s``: a second full reindex of unchanged data (profiles and
  gigs; stored dense vectors are reused), seconds;
* ``index_fp32_profiles_per_s``: plain fp32 sentence-transformers
  (``SentenceTransformer.encode``, batch size of the settings) on a sample of the
  same profile documents, for comparison with the configured encoder;
* ``refresh_one_ms``: one profile's text edited through :func:`write_profile`,
  then one :func:`refresh_stale` run (claim, embed, upsert, verify), ms (median
  of a few edits).

A finished build writes ``latency-build.json`` beside the data; a later run with
the same inputs reuses the data and these figures.
"""

from __future__ import annotations

import json
import statistics
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from benchmarks.metrics import percentile
from models import now_ms
from search_service.db import session_scope
from search_service.gigs.demo import DemoVocabulary, load_demo_gigs
from search_service.index.entity import GIG_ROWS, PROFILE_ROWS
from search_service.profiles import demo_vocab
from search_service.profiles.demo import load_demo
from search_service.profiles.repository import (
    load_profile_rows,
    profile_ids,
    profile_write_of,
    write_profile,
)
from search_service.refresh.freshness import refresh_stale
from search_service.refresh.writer import LOADERS, reindex
from search_service.runtime import Runtime
from search_service.settings import QdrantSettings, Settings

__all__ = [
    "FP32_SAMPLE",
    "MANIFEST",
    "BuildReport",
    "build_data",
    "data_settings",
    "profile_texts",
]

MANIFEST = "latency-build.json"
"""Written under ``<data dir>/var`` when a build finishes."""

FP32_SAMPLE = 2000
"""Profile documents embedded by the plain fp32 sentence-transformers comparison."""

_REFRESH_EDITS = 5


@dataclass(slots=True)
class BuildReport:
    """What a build loaded and how long indexing took.

    Attributes:
        profiles, gigs: demo rows loaded (gigs = profiles // 10, at least 1).
        seed: demo data seed.
        encoder: the configured encoder's name.
        indexed_profiles: points written by the first profile reindex.
        index_profiles_s: its wall time, seconds.
        index_profiles_per_s: ``indexed_profiles / index_profiles_s``.
        index_gigs_s: the first gig reindex, seconds.
        reindex_unchanged_s: a second full reindex (profiles and gigs), seconds.
        optimize_s: ``VectorStore.optimize`` of both collections after the first
            build (HNSW graphs), seconds.
        fp32_sample: documents in the fp32 comparison.
        index_fp32_profiles_per_s: plain fp32 sentence-transformers, documents/s.
        refresh_one_ms: median ms of one edited profile's refresh run.
        refresh_one_p95_ms: the slowest of those runs (p95 of a handful), ms.
    """

    profiles: int
    gigs: int
    seed: int
    encoder: str = ""
    indexed_profiles: int = 0
    index_profiles_s: float = 0.0
    index_profiles_per_s: float = 0.0
    index_gigs_s: float = 0.0
    reindex_unchanged_s: float = 0.0
    optimize_s: float = 0.0
    fp32_sample: int = 0
    index_fp32_profiles_per_s: float | None = None
    refresh_one_ms: float = 0.0
    refresh_one_p95_ms: float = 0.0

    def as_json(self) -> dict[str, Any]:
        """The fields as a JSON object."""
        return asdict(self)


def data_settings(data_dir: Path) -> Settings:
    """Settings of the embedded default under ``data_dir/var`` (what ``serve`` started
    in ``data_dir`` uses); the encoder and everything else from the environment."""
    var = data_dir / "var"
    return Settings(
        data_dir=var, database_url=f"sqlite:///{var / 'gigsy.db'}", qdrant=QdrantSettings(url=None)
    )


def profile_texts(rt: Runtime, limit: int | None = None) -> tuple[list[int], list[str]]:
    """Ids and document texts (what is embedded and BM25-encoded) of the indexable
    profiles, at most ``limit``, in id order."""
    with session_scope(rt.engine) as session:
        ids = profile_ids(session)
    ids = ids[:limit] if limit is not None else ids
    out_ids: list[int] = []
    texts: list[str] = []
    for start in range(0, len(ids), 512):
        docs, _ = LOADERS[PROFILE_ROWS.name](rt, ids[start : start + 512])
        out_ids += [d.id for d in docs]
        texts += [d.text for d in docs]
    return out_ids, texts


def _fp32_per_s(rt: Runtime, sample: int) -> tuple[int, float | None]:
    """Documents/s of plain fp32 ``SentenceTransformer.encode`` on ``sample`` profile
    documents (the default model directory); ``None`` when no such model is installed."""
    from sentence_transformers import SentenceTransformer

    from indexers.encoders import default_model_path

    try:
        path = default_model_path()
    except Exception:  # no packaged model: the comparison is skipped, not the build
        return 0, None
    _, texts = profile_texts(rt, sample)
    model = SentenceTransformer(str(path), device="cpu")
    model.encode(texts[:8], batch_size=8)  # first call allocates; not timed
    started = time.perf_counter()
    model.encode(
        texts,
        batch_size=rt.settings.embedding.batch_size,
        normalize_embeddings=True,
        show_progress_bar=True,
    )
    return len(texts), len(texts) / (time.perf_counter() - started)


def _refresh_one(rt: Runtime, edits: int = _REFRESH_EDITS) -> list[float]:
    """ms of one refresh run after each of ``edits`` single-profile bio edits."""
    with session_scope(rt.engine) as session:
        ids = profile_ids(session)[-edits:]
    out: list[float] = []
    for uid in ids:
        with session_scope(rt.engine) as session:
            row = load_profile_rows(session, [uid])[uid]
            doc = profile_write_of(row)
            if doc is None:
                continue
            draft = doc.to_draft()
            draft = draft.model_copy(update={"bio": f"{draft.bio} refreshed {now_ms()}"})
            write_profile(session, row.user, draft, now=now_ms())
        started = time.perf_counter()
        report = refresh_stale(rt)
        out.append((time.perf_counter() - started) * 1000)
        if report.embedded < 1:
            raise RuntimeError(f"the edited profile {uid} was not re-embedded: {report}")
    return out


def _manifest(data_dir: Path) -> Path:
    return data_dir / "var" / MANIFEST


def build_data(
    data_dir: Path,
    *,
    profiles: int,
    seed: int = 42,
    fp32_sample: int = FP32_SAMPLE,
    progress: bool = True,
    say: Any = print,
) -> BuildReport:
    """Load and index ``profiles`` demo students and ``profiles // 10`` demo gigs under
    ``data_dir/var``, timing the indexing; reuse an earlier build with the same inputs.
    ``fp32_sample`` documents go through plain fp32 sentence-transformers (0: skip).

    Raises:
        ValueError: ``data_dir`` holds a build of other inputs, or data without a
            finished build's manifest.
        RuntimeError: an edited profile was not re-embedded by its refresh run.
    """
    manifest = _manifest(data_dir)
    if manifest.is_file():
        found = json.loads(manifest.read_text(encoding="utf-8"))
        if (found.get("profiles"), found.get("seed")) != (profiles, seed):
            raise ValueError(
                f"{data_dir} holds a build of {found.get('profiles')} profiles (seed "
                f"{found.get('seed')}); use another --data-dir"
            )
        say(f"reusing the build in {data_dir}/var ({MANIFEST})")
        return BuildReport(**found)
    if (data_dir / "var").exists() and any((data_dir / "var").iterdir()):
        raise ValueError(f"{data_dir}/var holds data but no {MANIFEST}: use an empty --data-dir")
    rep = BuildReport(profiles=profiles, gigs=max(1, profiles // 10), seed=seed)
    rt = Runtime.open(data_settings(data_dir))
    try:
        rep.encoder = rt.encoder.name
        say(f"loading {profiles} demo profiles and {rep.gigs} demo gigs (encoder {rep.encoder})")
        load_demo(rt, count=profiles, seed=seed, progress=progress)
        vocab = DemoVocabulary(
            tracks=demo_vocab.TRACKS, cities=demo_vocab.CITIES, skill_labels=demo_vocab.SKILL_LABELS
        )
        load_demo_gigs(rt, vocab, count=rep.gigs, seed=seed, progress=progress)
        started = time.perf_counter()
        idx = reindex(rt, entities=[PROFILE_ROWS], progress=progress)
        rep.index_profiles_s = time.perf_counter() - started
        rep.indexed_profiles = idx.indexed
        rep.index_profiles_per_s = idx.indexed / rep.index_profiles_s
        started = time.perf_counter()
        reindex(rt, entities=[GIG_ROWS], progress=progress)
        rep.index_gigs_s = time.perf_counter() - started
        say("building the HNSW graphs (VectorStore.optimize)")
        started = time.perf_counter()
        for store in rt.stores.values():
            store.optimize()
        rep.optimize_s = time.perf_counter() - started
        say("second full reindex of unchanged data")
        started = time.perf_counter()
        again = reindex(rt, progress=progress)
        rep.reindex_unchanged_s = time.perf_counter() - started
        if again.embedded:
            say(f"note: the unchanged reindex embedded {again.embedded} documents")
        say("one profile's refresh")
        times = _refresh_one(rt)
        rep.refresh_one_ms = statistics.median(times)
        rep.refresh_one_p95_ms = percentile(times, 95)
        if fp32_sample > 0:
            say(f"plain fp32 sentence-transformers on {fp32_sample} of the same documents")
            rep.fp32_sample, rep.index_fp32_profiles_per_s = _fp32_per_s(rt, fp32_sample)
    finally:
        rt.close()
    manifest.write_text(json.dumps(rep.as_json(), indent=2) + "\n", encoding="utf-8")
    return rep

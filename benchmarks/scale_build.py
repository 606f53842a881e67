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

``vectors="composed"`` builds the same SQL rows, payloads and BM25 vectors through the
same :func:`reindex` (leases, verification, index state), but with a
:class:`ComposedEncoder` in place of the document encoder: each distinct text
fragment is embedded once by the real model and a document's dense vector is
composed from its fragments' embeddings. At 100,000 profiles that replaces ~52
minutes of embedding. The fp32 comparison (it times the encoder this mode avoids) and
the unchanged reindex (which does not depend on how vectors were made: 151 s at
100,000 profiles, ``benchmarks/README.md``) are skipped to keep the build short. The
refresh runs and queries at serve time go through the real model.
"""

from __future__ import annotations

import hashlib
import json
import re
import statistics
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from benchmarks.metrics import percentile
from indexers import DenseEncoder, embed_documents
from indexers.encoders import FloatArray
from models import now_ms
from search_service.db import session_scope
from search_service.entities import ENTITIES
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
from search_service.refresh.writer import reindex
from search_service.runtime import Runtime
from search_service.settings import QdrantSettings, Settings

__all__ = [
    "COMPOSED_NOISE",
    "FP32_SAMPLE",
    "MANIFEST",
    "REALISM_SAMPLE",
    "BuildReport",
    "ComposedEncoder",
    "Vectors",
    "build_data",
    "data_settings",
    "fragments",
    "profile_texts",
]

MANIFEST = "latency-build.json"
"""Written under ``<data dir>/var`` when a build finishes."""

FP32_SAMPLE = 2000
"""Profile documents embedded by the plain fp32 sentence-transformers comparison."""

_REFRESH_EDITS = 5

Vectors = Literal["real", "composed"]
"""How a build makes stored dense vectors: ``real`` embeds every document with the
configured encoder; ``composed`` composes them (:class:`ComposedEncoder`)."""

COMPOSED_NOISE = 0.1
"""Norm of the Gaussian noise added to a composed unit vector before it is normalised
again (cosine to the noiseless vector ~0.995). Chosen, not measured: small beside the
spread between different profiles, large enough that no two distinct texts share a
vector."""

REALISM_SAMPLE = 200
"""Profile documents embedded with the real model after a composed build, to report
how close composed vectors are to real ones (``composed_cosine_*``)."""

_WORD_BUDGET = 190
"""Words of a text that count: all-MiniLM-L6-v2 reads the first 256 word pieces
(``max_seq_length``, its model card); at the usual rule of thumb of ~4/3 word pieces per
English word (not measured on these texts) that is ~190 words."""

# Fragment boundaries: lines, sentence ends, commas, colons, bars, "and" (lists of
# skills, languages, duties) and "at", "in", "from" (role at school, degree in field):
# without the last three, the demo's fields x schools x years of study made ~17,000
# distinct fragments at 100,000 profiles, with them 4,638 (profiles and gigs, the
# ``distinct_texts`` of that build). Years in parentheses are dropped: they make
# fragments distinct without meaning much to the model.
_SPLIT = re.compile(r"\s*(?:\n|[,;:|]|\b(?:and|at|in|from)\b|(?<=[.!?])\s)\s*")
_YEARS = re.compile(r"\(\d{4}-\d{0,4}\)")


def fragments(text: str) -> list[str]:
    """The fragments a composed vector is made of, in text order, repeats kept; a text
    with none (empty, punctuation only) is its own single fragment."""
    out = [f.strip(" .()") for f in _SPLIT.split(_YEARS.sub("", text))]
    return [f for f in out if f] or [text.strip()]


class ComposedEncoder:
    """A document encoder that composes vectors from embedded fragments; queries go to
    the real encoder.

    A document's vector is ``normalise(u + COMPOSED_NOISE * g / sqrt(dim))`` with
    ``u = normalise(sum_f words(f) * e(f))`` over its fragments (:func:`fragments`)
    within the first :data:`_WORD_BUDGET` words, ``e`` the real encoder (each distinct
    fragment embedded once, then cached) and ``g`` standard Gaussian, seeded by
    ``seed`` and the text's sha256 (the same text always gets the same vector).
    Weighting by words imitates the model's mean pooling over tokens.

    "Realistic" here means: vectors of the real model's space, built from the real
    embeddings of the very phrases each document contains, so documents sharing
    skills, roles, schools or duties sit near each other as they do with the real
    model, and the HNSW graph is built over vectors of the space the queries come
    from. It is not the model's vector of the whole text: context between fragments
    (word order, which skill goes with which job) is lost, so rankings differ in
    detail; :func:`build_data` reports the cosine to real vectors on a sample.

    Its ``name`` is the real encoder's, so payloads record the same recipe as a real
    build and a later ``reindex`` reuses these vectors (re-embed with
    ``reindex --recreate``).

    Args:
        real: the real encoder (documents' fragments and queries).
        seed: noise seed.
        noise: the noise norm (:data:`COMPOSED_NOISE`).
    """

    def __init__(self, real: DenseEncoder, *, seed: int = 0, noise: float = COMPOSED_NOISE) -> None:
        self.real = real
        self.seed = seed
        self.noise = noise
        self.cache: dict[str, FloatArray] = {}
        self.embed_s = 0.0
        """Seconds spent in the real encoder."""
        self.total_s = 0.0
        """Seconds spent in :meth:`encode_documents`, the real encoder's included."""

    @property
    def dim(self) -> int:
        """The real encoder's dimension."""
        return self.real.dim

    @property
    def name(self) -> str:
        """The real encoder's name (the recipe recorded with stored vectors)."""
        return self.real.name

    def encode_query(self, text: str) -> FloatArray:
        """The real encoder's ``(dim,)`` query vector."""
        return self.real.encode_query(text)

    def encode_documents(self, texts: Sequence[str], *, progress: bool = False) -> FloatArray:
        """Composed vectors of ``texts``: ``(len(texts), dim)`` float32, L2-normalised.

        Raises:
            EncoderError: as the real encoder raises it (new fragments only).
        """
        started = time.perf_counter()
        parts = [self._budgeted(fragments(t)) for t in texts]
        new = list(dict.fromkeys(f for p in parts for f in p if f not in self.cache))
        if new:
            embed_started = time.perf_counter()
            encoded = np.asarray(self.real.encode_documents(new, progress=progress), np.float32)
            self.embed_s += time.perf_counter() - embed_started
            self.cache.update(zip(new, encoded, strict=True))
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        scale = self.noise / np.sqrt(self.dim)
        for i, (text, frags) in enumerate(zip(texts, parts, strict=True)):
            weights = np.array([len(f.split()) or 1 for f in frags], dtype=np.float32)
            vec = weights @ np.stack([self.cache[f] for f in frags])
            vec /= np.linalg.norm(vec) or 1.0
            digest = int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big")
            rng = np.random.default_rng([self.seed % 2**63, digest])
            vec += scale * rng.standard_normal(self.dim).astype(np.float32)
            out[i] = vec / (np.linalg.norm(vec) or 1.0)
        self.total_s += time.perf_counter() - started
        return out

    @property
    def compose_s(self) -> float:
        """Seconds composing (fragmenting, summing, noise), the real encoder's excluded."""
        return self.total_s - self.embed_s

    @staticmethod
    def _budgeted(frags: list[str]) -> list[str]:
        kept: list[str] = []
        words = 0
        for f in frags:
            if kept and words >= _WORD_BUDGET:
                break
            kept.append(f)
            words += len(f.split())
        return kept


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
        vectors: ``real`` or ``composed`` (:data:`Vectors`).
        load_s: loading the demo rows into SQL, seconds.
        build_s: the whole build (load, index, optimize, refresh runs), seconds.
        distinct_texts: composed: distinct fragments embedded by the real model.
        embed_texts_s: composed: seconds embedding them (inside the reindexes).
        compose_s: composed: seconds composing vectors (inside the reindexes).
        composed_cosine_mean, composed_cosine_min: composed: cosine between composed
            and real stored vectors of :data:`REALISM_SAMPLE` profile documents.
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
    vectors: str = "real"
    load_s: float = 0.0
    build_s: float = 0.0
    distinct_texts: int = 0
    embed_texts_s: float = 0.0
    compose_s: float = 0.0
    composed_cosine_mean: float | None = None
    composed_cosine_min: float | None = None

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
    profiles = rt.index(PROFILE_ROWS).entity
    for start in range(0, len(ids), 512):
        with session_scope(rt.engine) as session:
            docs, _ = profiles.documents(session, ids[start : start + 512])
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


def _realism(rt: Runtime, composed: ComposedEncoder, sample: int) -> tuple[float, float]:
    """Mean and minimum cosine between composed and real stored vectors
    (:func:`embed_documents`, title included) of ``sample`` profile documents."""
    with session_scope(rt.engine) as session:
        docs, _ = rt.index(PROFILE_ROWS).entity.documents(session, _profile_ids(rt)[:sample])
    texts, titles = [d.text for d in docs], [d.title for d in docs]
    real = embed_documents(composed.real, texts, titles)
    fake = embed_documents(composed, texts, titles)
    cos = np.sum(real * fake, axis=1)
    return float(cos.mean()), float(cos.min())


def _profile_ids(rt: Runtime) -> list[int]:
    """Ids of the indexable profiles, in id order."""
    with session_scope(rt.engine) as session:
        return profile_ids(session)


def build_data(
    data_dir: Path,
    *,
    profiles: int,
    seed: int = 42,
    fp32_sample: int = FP32_SAMPLE,
    vectors: Vectors | None = None,
    progress: bool = True,
    say: Any = print,
) -> BuildReport:
    """Load and index ``profiles`` demo students and ``profiles // 10`` demo gigs under
    ``data_dir/var``, timing the indexing; reuse an earlier build with the same inputs.
    ``fp32_sample`` documents go through plain fp32 sentence-transformers (0: skip).

    ``vectors`` picks how dense vectors are made (:data:`Vectors`); ``None`` reuses
    whatever build is there and builds ``real`` otherwise. ``composed`` indexes through
    the same :func:`reindex` with a :class:`ComposedEncoder`, skips the unchanged
    reindex and the fp32 comparison (``reindex_unchanged_s`` 0, ``fp32_sample`` 0), and
    reports the cosine of composed to real vectors on :data:`REALISM_SAMPLE` documents.

    Raises:
        ValueError: ``data_dir`` holds a build of other inputs, or data without a
            finished build's manifest.
        RuntimeError: an edited profile was not re-embedded by its refresh run.
    """
    manifest = _manifest(data_dir)
    if manifest.is_file():
        found = json.loads(manifest.read_text(encoding="utf-8"))
        built = found.get("vectors", "real")
        if (found.get("profiles"), found.get("seed")) != (profiles, seed) or (
            vectors is not None and vectors != built
        ):
            raise ValueError(
                f"{data_dir} holds a build of {found.get('profiles')} profiles (seed "
                f"{found.get('seed')}, {built} vectors); use another --data-dir"
            )
        say(f"reusing the build in {data_dir}/var ({MANIFEST}, {built} vectors)")
        return BuildReport(**found)
    if (data_dir / "var").exists() and any((data_dir / "var").iterdir()):
        raise ValueError(f"{data_dir}/var holds data but no {MANIFEST}: use an empty --data-dir")
    mode: Vectors = vectors or "real"
    rep = BuildReport(profiles=profiles, gigs=max(1, profiles // 10), seed=seed, vectors=mode)
    build_started = time.perf_counter()
    settings = data_settings(data_dir)
    rt = Runtime.open(settings, entities=ENTITIES)
    try:
        rep.encoder = rt.encoder.name
        say(f"loading {profiles} demo profiles and {rep.gigs} demo gigs (encoder {rep.encoder})")
        started = time.perf_counter()
        load_demo(rt, count=profiles, seed=seed, progress=progress)
        vocab = DemoVocabulary(
            tracks=demo_vocab.TRACKS, cities=demo_vocab.CITIES, skill_labels=demo_vocab.SKILL_LABELS
        )
        load_demo_gigs(rt, vocab, count=rep.gigs, seed=seed, progress=progress)
        rep.load_s = time.perf_counter() - started
        real = rt.encoder
        composed: ComposedEncoder | None = None
        if mode == "composed":
            # The same runtime, writer and protocol; only the document encoder differs.
            composed = ComposedEncoder(real, seed=seed)
            rt.close()
            rt = Runtime.open(settings, entities=ENTITIES, encoder=composed)
            say("composing dense vectors (each distinct fragment embedded once)")
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
        for entity in rt.entities:
            rt.index(entity).store.optimize()
        rep.optimize_s = time.perf_counter() - started
        if composed is not None:
            rep.distinct_texts = len(composed.cache)
            rep.embed_texts_s = composed.embed_s
            rep.compose_s = composed.compose_s
            say(f"cosine of composed to real vectors on {REALISM_SAMPLE} profiles")
            rep.composed_cosine_mean, rep.composed_cosine_min = _realism(
                rt, composed, REALISM_SAMPLE
            )
            # Edits from here on are embedded by the real model, as `serve` would.
            rt.close()
            rt = Runtime.open(settings, entities=ENTITIES, encoder=real)
        else:
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
        if fp32_sample > 0 and composed is None:
            say(f"plain fp32 sentence-transformers on {fp32_sample} of the same documents")
            rep.fp32_sample, rep.index_fp32_profiles_per_s = _fp32_per_s(rt, fp32_sample)
    finally:
        rt.close()
    rep.build_s = time.perf_counter() - build_started
    manifest.write_text(json.dumps(rep.as_json(), indent=2) + "\n", encoding="utf-8")
    return rep

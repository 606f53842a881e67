"""SciFact (or any BEIR dataset) per quantization variant, through the service's ranking.

The dataset is indexed as ``relevance beir`` indexes it
(:func:`benchmarks.relevance.open_beir`), its points are copied into one shard per
:data:`benchmarks.quantization.VARIANTS` entry (optimized where the variant asks),
and every judged query is ranked by ``retrieve`` and scored by
:func:`benchmarks.relevance.run_configs`, so the ``plain`` row repeats
``relevance beir``'s figures for the same documents.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import qdrant_edge as qe

from benchmarks.quantization import VARIANTS, Variant, allocated_bytes
from indexers.store import DENSE, SPARSE, CollectionSchema

__all__ = ["ScifactRow", "copy_points", "quantized_copy", "run_scifact"]


def copy_points(source: Any, target: qe.EdgeShard, *, page: int = 512) -> int:
    """Copy every point (vectors and payload) of ``source`` (an ``EdgeShard``) into
    ``target``; returns how many."""
    offset: Any = None
    copied = 0
    while True:
        records, offset = source.scroll(
            qe.ScrollRequest(offset=offset, limit=page, with_payload=True, with_vector=True)
        )
        ops = [qe.Point(r.id, dict(r.vector), dict(r.payload or {})) for r in records]
        if ops:
            target.update(qe.UpdateOperation.upsert_points(ops))
        copied += len(ops)
        if offset is None:
            return copied


def quantized_copy(
    source: Any, path: Path, variant: Variant, schema: CollectionSchema, dim: int
) -> None:
    """A shard at ``path`` with ``source``'s points under ``variant``'s config,
    optimized when the variant asks for it (indexing threshold 1 KB, so even a
    small corpus gets its HNSW graph and quantized copy)."""
    from indexers.store_edge import _indexes

    config = qe.EdgeConfig(
        vectors={DENSE: variant.vector_params(dim)},
        sparse_vectors={SPARSE: qe.EdgeSparseVectorParams(modifier=qe.Modifier.Idf)},
        optimizers=qe.EdgeOptimizersConfig(indexing_threshold=1),
    )
    shard = qe.EdgeShard.create(str(path), config)
    for name, kind in _indexes(schema):
        shard.update(qe.UpdateOperation.create_field_index(name, kind))
    copy_points(source, shard)
    if variant.optimize:
        shard.optimize()
    shard.flush()
    shard.close()


@dataclass(frozen=True, slots=True)
class ScifactRow:
    """nDCG@10 of one variant on a BEIR dataset.

    Attributes:
        variant: :data:`VARIANTS` key.
        semantic: nDCG@10 of the dense list alone.
        hybrid: nDCG@10 of the default fusion (``SearchSettings``).
        disk_bytes: allocated bytes of the variant's shard.
        build_s: copy + optimize wall time, seconds.
    """

    variant: str
    semantic: float
    hybrid: float
    disk_bytes: int
    build_s: float


def run_scifact(
    data: Path,
    *,
    split: str,
    variants: Sequence[str],
    model: str | None,
    cache_dir: Path,
    limit_docs: int | None = None,
    limit_queries: int | None = None,
) -> tuple[str, list[ScifactRow]]:
    """Index ``data`` as ``relevance beir`` does, then rank it once per variant
    through the service's ``retrieve`` (Qdrant's default quantization search
    parameters: the adapter sends none). ``limit_docs`` and ``limit_queries`` are
    those of ``relevance beir``.

    Returns:
        The header line and one row per variant.

    Raises:
        KeyError: an unknown variant; FileNotFoundError: no BEIR data.
    """
    import tempfile

    from benchmarks.embcache import CachedEncoder
    from benchmarks.relevance import Config, load_beir, open_beir, run_configs
    from indexers import PROFILE_SCHEMA
    from indexers.store_edge import EdgeStore
    from models import SearchMode
    from search_service.runtime import PROFILES
    from search_service.settings import SearchSettings

    for name in variants:
        if VARIANTS[name].search_params() is not None:
            raise KeyError(f"{name}: the adapter sends no search parameters; use growth")
    configs = [
        Config(SearchMode.SEMANTIC),
        Config(SearchMode.HYBRID, SearchSettings().fusion_spec),
    ]
    beir = load_beir(
        data.resolve(), split=split, limit_docs=limit_docs, limit_queries=limit_queries
    )
    encoder = CachedEncoder(model, cache_dir)
    rows: list[ScifactRow] = []
    with (
        open_beir(beir, encoder, name=f"{data.name}/{split}") as (rt, judged),
        tempfile.TemporaryDirectory(prefix="gigsy-quant-") as tmp,
    ):
        source = rt.index(PROFILES).store
        assert isinstance(source, EdgeStore)
        header = f"{judged.name}: {len(judged.queries)} judged queries, {judged.docs} docs"
        for name in variants:
            path = Path(tmp) / name
            started = time.perf_counter()
            quantized_copy(source.shard, path, VARIANTS[name], PROFILE_SCHEMA, encoder.dim)
            build_s = time.perf_counter() - started
            store = EdgeStore(path, schema=PROFILE_SCHEMA)
            try:
                profiles = replace(rt.index(PROFILES), store=store)
                view = replace(rt, indexes={**rt.indexes, PROFILES: profiles})
                semantic, hybrid = run_configs(view, judged, configs)
            finally:
                store.close()
            rows.append(
                ScifactRow(
                    variant=name,
                    semantic=semantic.ndcg_at_10,
                    hybrid=hybrid.ndcg_at_10,
                    disk_bytes=allocated_bytes(path)[0],
                    build_s=build_s,
                )
            )
    return header, rows

"""The quantization, growth and footprint harnesses on tiny inputs."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import create_engine

from benchmarks.footprint import collection_footprint, table_footprints, write_rate
from benchmarks.quantization import (
    GROWTH_SCHEMA,
    VARIANTS,
    Variant,
    _build,
    _serve,
    run_growth,
)
from benchmarks.quantization_beir import quantized_copy
from indexers import FusionSpec
from indexers.bm25 import SparseVec
from indexers.store import IndexPoint
from indexers.store_edge import EdgeStore


def _point(pid: int, terms: list[int], payload: dict[str, object]) -> IndexPoint:
    vec = np.zeros(8, dtype=np.float32)
    vec[pid % 8] = 1.0
    return IndexPoint(
        id=pid,
        dense=vec,
        sparse=SparseVec(indices=terms, values=[1.0] * len(terms)),
        payload=payload,
    )


def test_exact_search_finds_the_exact_filtered_top_ten(tmp_path: Path) -> None:
    # The plain shard searches exactly, so its recall against NumPy's filtered top 10
    # is 1: the harness's filters and ground truth agree with the store's.
    built = _build(str(tmp_path / "g"), "plain", 400, 12, 3, 20)
    served = _serve(str(tmp_path / "g"), "plain", FusionSpec())
    assert built["optimize_s"] == 0.0
    assert built["disk"] > 0
    assert 15 <= built["mean_nnz"] <= 25
    assert served["recall"] == 1.0
    assert served["rss_after"] >= served["rss_before"] > 0
    queries = json.loads((tmp_path / "g" / "queries.json").read_text())
    assert len(queries) == 12
    assert all(len(q["filter"]) == 2 for q in queries)


def test_growth_yields_one_row_per_variant_and_size(tmp_path: Path) -> None:
    rows = list(
        run_growth(
            sizes=[300],
            variants=["plain"],
            queries=10,
            root=tmp_path,
            fusion=FusionSpec(),
            nnz=10,
        )
    )
    assert [(r.variant, r.points) for r in rows] == [("plain", 300)]
    assert rows[0].recall10 == 1.0 and rows[0].upsert_per_s > 0
    assert not any(tmp_path.iterdir())  # shards removed unless kept


def test_unknown_variant_fails_before_any_work(tmp_path: Path) -> None:
    with pytest.raises(KeyError):
        next(
            run_growth(
                sizes=[10], variants=["nope"], queries=10, root=tmp_path, fusion=FusionSpec()
            )
        )


@pytest.mark.parametrize("name", ["int8", "binary"])
def test_an_optimized_quantized_copy_holds_every_point_and_its_quantized_vectors(
    tmp_path: Path, name: str
) -> None:
    source = EdgeStore(tmp_path / "src", schema=GROWTH_SCHEMA)
    source.ensure_collection(8)
    source.upsert([_point(i, [i, 100 + i], {"updated_at": i}) for i in range(40)])
    quantized_copy(source.shard, tmp_path / "q", VARIANTS[name], GROWTH_SCHEMA, 8)
    source.close()
    copy = EdgeStore(tmp_path / "q", schema=GROWTH_SCHEMA)
    try:
        assert copy.count() == 40
        assert copy.payloads([7]) == {7: {"updated_at": 7}}
    finally:
        copy.close()
    assert list((tmp_path / "q").rglob("quantized.data")), "no quantized vectors built"


@pytest.mark.parametrize(
    "variant", [VARIANTS["plain"], Variant("int8-unoptimized", optimize=False, quantization="int8")]
)
def test_without_the_optimizer_no_quantized_vectors_exist(tmp_path: Path, variant: Variant) -> None:
    # A quantization config alone changes nothing: Qdrant Edge builds the quantized
    # copy only when optimize() runs (docs/scaling.md, "Quantization").
    source = EdgeStore(tmp_path / "src", schema=GROWTH_SCHEMA)
    source.ensure_collection(8)
    source.upsert([_point(i, [i], {"updated_at": i}) for i in range(40)])
    quantized_copy(source.shard, tmp_path / "p", variant, GROWTH_SCHEMA, 8)
    source.close()
    assert not list((tmp_path / "p").rglob("quantized.data"))


def test_collection_footprint_counts_terms_and_payload_bytes(tmp_path: Path) -> None:
    store = EdgeStore(tmp_path / "s", schema=GROWTH_SCHEMA)
    store.ensure_collection(8)
    store.upsert(
        [
            _point(1, [1, 2], {"updated_at": 1, "skills": ["go"]}),
            _point(2, [1, 2, 3, 4], {"updated_at": 22, "skills": ["rust"]}),
        ]
    )
    store.flush()
    try:
        fp = collection_footprint("profiles", store.shard, store.path)
    finally:
        store.close()
    assert fp.points == 2 and fp.dense_bytes == 32
    assert fp.nnz_mean == 3.0
    # {"updated_at":1,"skills":["go"]} is 32 bytes, the other 35 (key order aside).
    assert fp.payload_mean == pytest.approx((32 + 35) / 2)
    assert fp.disk_bytes > 0


def test_table_footprints_on_sqlite(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'f.db'}")
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE t (id INTEGER PRIMARY KEY, body TEXT)")
        conn.exec_driver_sql("CREATE INDEX t_body ON t (body)")
        for i in range(500):
            conn.exec_driver_sql("INSERT INTO t (body) VALUES (?)", (f"row {i} " * 20,))
    tables = {t.name: t for t in table_footprints(engine)}
    engine.dispose()
    assert tables["t"].rows == 500
    # Table and index both hold every body (~150 bytes each): at least 2 x 500 x 150.
    assert tables["t"].bytes >= 150_000


@pytest.mark.parametrize("threads", [1, 3])
def test_write_rate_runs_every_writer_and_drops_its_tables(tmp_path: Path, threads: int) -> None:
    from sqlalchemy import inspect

    engine = create_engine(f"sqlite:///{tmp_path / 'w.db'}")
    assert write_rate(engine, 60, threads=threads) > 0
    assert not inspect(engine).get_table_names()
    engine.dispose()

"""Bytes per profile and per gig, as stored: SQL tables, vector-store points.

Reads a data directory the service built (``gigsy-search demo``, ``ingest-resumes``,
``ingest-jobs``) and prints, per SQL table, its rows and bytes (table plus
indexes: SQLite's ``dbstat`` virtual table, PostgreSQL's
``pg_total_relation_size``), and per collection its points, the allocated bytes of
its Qdrant Edge shard directory, the dense vector's size, the BM25 vectors'
non-zeros and the payloads' compact JSON size. Only the embedded Edge store is
measured: a Qdrant server's disk is not visible from here.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import Engine, text

from benchmarks.quantization import allocated_bytes

__all__ = [
    "CollectionFootprint",
    "TableFootprint",
    "collection_footprint",
    "table_footprints",
    "write_rate",
]


@dataclass(frozen=True, slots=True)
class TableFootprint:
    """One SQL table.

    Attributes:
        name: table name.
        rows: exact row count.
        bytes: table plus its indexes (and, on PostgreSQL, TOAST), bytes.
    """

    name: str
    rows: int
    bytes: int


def table_footprints(engine: Engine) -> list[TableFootprint]:
    """Rows and bytes of every table, largest first.

    SQLite: the sum of ``dbstat.pgsize`` over the table's and its indexes' pages
    (SQLite docs, "The DBSTAT Virtual Table"); run after a checkpoint so the WAL
    is in the file. PostgreSQL: ``pg_total_relation_size`` (PostgreSQL docs,
    "Database Object Management Functions").

    Raises:
        ValueError: another database.
    """
    dialect = engine.dialect.name
    with engine.connect() as conn:
        if dialect == "sqlite":
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
            sizes = {
                str(name): int(size)
                for name, size in conn.exec_driver_sql(
                    "SELECT m.tbl_name, SUM(d.pgsize) FROM dbstat d"
                    " JOIN sqlite_master m ON m.name = d.name"
                    " WHERE m.tbl_name NOT LIKE 'sqlite_%' GROUP BY m.tbl_name"
                )
            }
        elif dialect == "postgresql":
            sizes = {
                str(name): int(size)
                for name, size in conn.execute(
                    text(
                        "SELECT relname, pg_total_relation_size(relid)"
                        " FROM pg_catalog.pg_statio_user_tables"
                    )
                )
            }
        else:
            raise ValueError(f"no footprint query for {dialect}")
        out = []
        for name, size in sizes.items():
            rows = conn.exec_driver_sql(f'SELECT COUNT(*) FROM "{name}"').scalar_one()
            out.append(TableFootprint(name=name, rows=int(rows), bytes=size))
    return sorted(out, key=lambda t: -t.bytes)


@dataclass(frozen=True, slots=True)
class CollectionFootprint:
    """One Qdrant Edge collection.

    Attributes:
        name: collection name.
        points: points in it.
        disk_bytes: allocated bytes (``st_blocks × 512``) of its shard directory.
        apparent_bytes: the files' sizes (Qdrant preallocates sparse files).
        dense_bytes: one dense vector as float32, bytes.
        nnz_mean, nnz_p50, nnz_p95: BM25 non-zeros per point.
        payload_mean, payload_p95: payload as compact JSON (UTF-8), bytes.
    """

    name: str
    points: int
    disk_bytes: int
    apparent_bytes: int
    dense_bytes: int
    nnz_mean: float
    nnz_p50: float
    nnz_p95: float
    payload_mean: float
    payload_p95: float


def collection_footprint(name: str, shard: Any, path: Path) -> CollectionFootprint:
    """Scan every point of ``shard`` (an open ``qdrant_edge.EdgeShard`` at ``path``).

    Raises:
        ValueError: the collection is empty.
    """
    import qdrant_edge as qe

    from indexers.store import DENSE, SPARSE

    nnz: list[int] = []
    payload: list[int] = []
    dim = 0
    offset: Any = None
    while True:
        records, offset = shard.scroll(
            qe.ScrollRequest(offset=offset, limit=1024, with_payload=True, with_vector=True)
        )
        for r in records:
            vec = r.vector if isinstance(r.vector, dict) else {}
            if SPARSE in vec:
                nnz.append(len(vec[SPARSE].indices))
            if DENSE in vec:
                dim = len(vec[DENSE])
            body = json.dumps(r.payload or {}, separators=(",", ":"), ensure_ascii=False)
            payload.append(len(body.encode()))
        if offset is None:
            break
    if not payload:
        raise ValueError(f"collection {name} is empty")
    alloc, apparent = allocated_bytes(path)
    return CollectionFootprint(
        name=name,
        points=len(payload),
        disk_bytes=alloc,
        apparent_bytes=apparent,
        dense_bytes=4 * dim,
        nnz_mean=float(np.mean(nnz)) if nnz else 0.0,
        nnz_p50=float(np.percentile(nnz, 50)) if nnz else 0.0,
        nnz_p95=float(np.percentile(nnz, 95)) if nnz else 0.0,
        payload_mean=float(np.mean(payload)),
        payload_p95=float(np.percentile(payload, 95)),
    )


def write_rate(engine: Engine, n: int, *, threads: int = 1) -> float:
    """Committed single-row transactions per second on ``engine``'s connection
    settings (SQLite: WAL, ``synchronous=NORMAL``, as ``search_service.db`` sets).

    Each transaction updates one row of a scratch table by compare-and-set on its
    version and appends one outbox-like row: the shape of a profile edit's
    smallest unit of work. ``threads`` writers run at once (SQLite serialises
    them). The scratch tables are dropped afterwards.
    """
    import threading

    with engine.begin() as conn:
        conn.exec_driver_sql("DROP TABLE IF EXISTS bench_rows")
        conn.exec_driver_sql("DROP TABLE IF EXISTS bench_events")
        conn.exec_driver_sql("CREATE TABLE bench_rows (id INTEGER PRIMARY KEY, version BIGINT)")
        conn.exec_driver_sql("CREATE TABLE bench_events (row_id INTEGER, body TEXT)")
        for i in range(1000):
            conn.execute(text("INSERT INTO bench_rows VALUES (:i, 0)"), {"i": i})

    def _writer(k: int) -> None:
        for j in range(k, n, threads):
            with engine.begin() as conn:
                conn.execute(
                    text(
                        "UPDATE bench_rows SET version = version + 1 WHERE id = :i AND version >= 0"
                    ),
                    {"i": j % 1000},
                )
                conn.execute(
                    text("INSERT INTO bench_events VALUES (:i, :b)"),
                    {"i": j % 1000, "b": "x" * 200},
                )

    started = time.perf_counter()
    workers = [threading.Thread(target=_writer, args=(k,)) for k in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    elapsed = time.perf_counter() - started
    with engine.begin() as conn:
        conn.exec_driver_sql("DROP TABLE bench_rows")
        conn.exec_driver_sql("DROP TABLE bench_events")
    return n / elapsed

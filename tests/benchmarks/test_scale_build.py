"""The composed-vector build of ``benchmarks.scale_build``: the encoder that composes
document vectors from embedded fragments, and a whole composed build at a few demo
profiles with the hashing encoder (points, payloads, BM25 terms, SQL index state, a
search through the API)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient
from sqlmodel import select
from typer.testing import CliRunner

from benchmarks.__main__ import app
from benchmarks.scale_build import (
    BuildReport,
    ComposedEncoder,
    Vectors,
    build_data,
    data_settings,
    fragments,
)
from indexers import FilterSpec, HashingEncoder
from indexers.encoders import FloatArray
from models.user import User
from search_service.app import create_app
from search_service.db import session_scope
from search_service.entities import ENTITIES
from search_service.index.entity import PROFILE_ROWS
from search_service.profiles.repository import profile_ids
from search_service.runtime import Runtime
from search_service.users.api_keys import create_api_key

PROFILES = 40
REFRESHED = 5  # the build's own refresh runs re-embed this many profiles with the real encoder


class _Counting(HashingEncoder):
    """The hashing encoder, recording every document text it was asked to embed."""

    def __init__(self) -> None:
        super().__init__(64)
        self.seen: list[str] = []

    def encode_documents(self, texts: Sequence[str], *, progress: bool = False) -> FloatArray:
        self.seen += texts
        return super().encode_documents(texts, progress=progress)


class TestComposedEncoder:
    TEXT = "Data analyst\nSkills: python, sql and tableau\nBarista at Blue Bottle (2023-2024)"

    def test_fragments_split_lists_lines_and_drop_years(self) -> None:
        assert fragments(self.TEXT) == [
            "Data analyst",
            "Skills",
            "python",
            "sql",
            "tableau",
            "Barista",
            "Blue Bottle",
        ]
        assert fragments("") == [""]

    def test_vectors_are_normalised_deterministic_and_distinct(self) -> None:
        enc = ComposedEncoder(HashingEncoder(64), seed=7)
        other = "Data analyst\nSkills: python, sql and excel"
        out = enc.encode_documents([self.TEXT, other, self.TEXT])
        assert out.shape == (3, 64) and out.dtype == np.float32
        np.testing.assert_allclose(np.linalg.norm(out, axis=1), 1.0, rtol=1e-5)
        np.testing.assert_array_equal(out[0], out[2])
        assert not np.array_equal(out[0], out[1])
        again = ComposedEncoder(HashingEncoder(64), seed=7).encode_documents([self.TEXT])
        np.testing.assert_array_equal(again[0], out[0])
        reseeded = ComposedEncoder(HashingEncoder(64), seed=8).encode_documents([self.TEXT])
        assert not np.array_equal(reseeded[0], out[0])

    def test_vector_is_the_weighted_fragments_plus_small_noise(self) -> None:
        real = HashingEncoder(64)
        out = ComposedEncoder(real, seed=1).encode_documents([self.TEXT])[0]
        frags = fragments(self.TEXT)
        weights = np.array([len(f.split()) for f in frags], dtype=np.float32)
        clean = weights @ real.encode_documents(frags)
        clean /= np.linalg.norm(clean)
        cosine = float(out @ clean)
        assert 0.98 < cosine < 0.9999  # noise of norm 0.1: cosine ~0.995
        silent = ComposedEncoder(real, seed=1, noise=0.0).encode_documents([self.TEXT])[0]
        np.testing.assert_allclose(silent, clean, atol=1e-6)

    def test_each_distinct_fragment_is_embedded_once(self) -> None:
        real = _Counting()
        enc = ComposedEncoder(real)
        enc.encode_documents([self.TEXT, "Skills: python and sql"])
        enc.encode_documents(["Data analyst\nSkills: sql"])
        assert sorted(real.seen) == sorted(set(fragments(self.TEXT)))
        assert len(enc.cache) == len(set(real.seen))

    def test_queries_name_and_dim_are_the_real_encoders(self) -> None:
        real = HashingEncoder(32)
        enc = ComposedEncoder(real)
        assert (enc.name, enc.dim) == (real.name, real.dim)
        np.testing.assert_array_equal(enc.encode_query("sql"), real.encode_query("sql"))


def _build(where: Path, vectors: Vectors = "composed") -> BuildReport:
    with pytest.MonkeyPatch.context() as mp:
        for name in ("DATABASE_URL", "GIGSY_DATABASE_URL", "QDRANT_URL", "GIGSY_QDRANT__URL"):
            mp.delenv(name, raising=False)
        mp.setenv("GIGSY_EMBEDDING__MODEL", "hashing")
        return build_data(
            where,
            profiles=PROFILES,
            vectors=vectors,
            fp32_sample=0,
            progress=False,
            say=lambda *_: None,
        )


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, BuildReport]:
    """A composed build of ``PROFILES`` demo students, read-only for its tests."""
    where = tmp_path_factory.mktemp("composed")
    return where, _build(where)


@pytest.fixture
def opened(built: tuple[Path, BuildReport]) -> Iterator[Runtime]:
    rt = Runtime.open(data_settings(built[0]), entities=ENTITIES, encoder=HashingEncoder(64))
    yield rt
    rt.close()


def _ids(rt: Runtime) -> list[int]:
    with session_scope(rt.engine) as session:
        return profile_ids(session)


class TestComposedBuild:
    def test_report(self, built: tuple[Path, BuildReport]) -> None:
        rep = built[1]
        assert rep.vectors == "composed" and rep.encoder == "hashing-64"
        assert rep.indexed_profiles == PROFILES and rep.gigs == PROFILES // 10
        assert rep.distinct_texts > 0 and rep.build_s > 0
        assert rep.composed_cosine_mean is not None and rep.composed_cosine_min is not None
        assert -1.0 <= rep.composed_cosine_min <= rep.composed_cosine_mean <= 1.0

    def test_every_profile_has_a_normalised_point(self, opened: Runtime) -> None:
        ids = _ids(opened)
        assert len(ids) == PROFILES
        store = opened.index(PROFILE_ROWS).store
        assert store.count() == PROFILES
        found = store.dense_vectors(ids)
        assert sorted(found) == sorted(ids)
        vectors = np.stack([found[i] for i in ids])
        assert vectors.shape == (PROFILES, 64) and vectors.dtype == np.float32
        np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, rtol=1e-5)

    def test_sql_says_every_profile_is_indexed_at_its_version(self, opened: Runtime) -> None:
        ids = _ids(opened)
        with session_scope(opened.engine) as session:
            rows = session.exec(
                select(User.id, User.visible_updated_at, User.embedding_updated_at).where(
                    User.id.in_(ids)  # type: ignore[union-attr]
                )
            ).all()
        assert len(rows) == PROFILES
        payloads = opened.index(PROFILE_ROWS).store.payloads(ids)
        for uid, visible, embedded in rows:
            assert uid is not None and visible is not None and embedded == visible, uid
            assert payloads[uid]["updated_at"] == visible, uid

    def test_a_search_through_the_api_finds_them(self, opened: Runtime) -> None:
        ids = _ids(opened)
        store = opened.index(PROFILE_ROWS).store
        vectors = store.dense_vectors(ids)
        with session_scope(opened.engine) as session:
            _, key = create_api_key(session, role="employer")
        with TestClient(create_app(opened.settings, runtime=opened)) as client:
            r = client.post(
                "/v1/search",
                json={
                    "query": "python developer",
                    "mode": "semantic",
                    "limit": 10,
                    "boosts": {"recency": False, "strength": False},
                },
                headers={"Authorization": f"Bearer {key}"},
            )
        assert r.status_code == 200, r.text
        found = [hit["userId"] for hit in r.json()["results"]]
        assert len(found) == 10 and set(found) <= set(ids)
        # The dense ranking is the composed vectors' own: the best hit is the
        # profile whose stored vector is nearest the query's.
        query = opened.encoder.encode_query("python developer")
        assert found[0] == max(ids, key=lambda i: float(vectors[i] @ query))

    def test_a_build_of_other_vectors_is_refused_and_its_own_reused(
        self, built: tuple[Path, BuildReport]
    ) -> None:
        where, rep = built
        with pytest.raises(ValueError, match="composed vectors"):
            build_data(where, profiles=PROFILES, vectors="real", say=lambda *_: None)
        assert build_data(where, profiles=PROFILES, say=lambda *_: None) == rep


def _index(where: Path) -> tuple[list[int], dict[int, Any], dict[int, Any], dict[int, Any]]:
    """Profile ids, payloads, BM25 term ids and dense vectors of the build in ``where``."""
    rt = Runtime.open(data_settings(where), entities=ENTITIES, encoder=HashingEncoder(64))
    try:
        ids = _ids(rt)
        store = rt.index(PROFILE_ROWS.name).store
        hits = store.page_details(store.browse(FilterSpec(), limit=PROFILES, offset=0))
        terms = {h.id: h.terms for h in hits}
        return ids, store.payloads(ids), terms, store.dense_vectors(ids)
    finally:
        rt.close()


def test_payloads_and_bm25_terms_equal_what_reindex_writes(tmp_path: Path) -> None:
    _build(tmp_path / "composed")
    _build(tmp_path / "real", vectors="real")
    ids, payloads, terms, vectors = _index(tmp_path / "composed")
    real_ids, real_payloads, real_terms, real_vectors = _index(tmp_path / "real")
    assert ids == real_ids and len(ids) == PROFILES
    # Both builds end with the same refresh runs: the last profiles' bios were edited
    # (with the time in them), so their text differs between the two builds.
    edited = set(ids[-REFRESHED:])
    for uid in ids:
        clocks = {"updated_at"} | ({"text_hash"} if uid in edited else set())
        got = {k: v for k, v in payloads[uid].items() if k not in clocks}
        want = {k: v for k, v in real_payloads[uid].items() if k not in clocks}
        assert got == want, uid
        if uid not in edited:
            assert terms[uid] and terms[uid] == real_terms[uid], uid
            # composed, not embedded from the text
            assert not np.allclose(vectors[uid], real_vectors[uid]), uid


def test_the_commands_refuse_a_build_made_the_other_way(
    built: tuple[Path, BuildReport], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("DATABASE_URL", "GIGSY_DATABASE_URL", "QDRANT_URL", "GIGSY_QDRANT__URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("GIGSY_EMBEDDING__MODEL", "hashing")
    where = str(built[0])
    for args in (
        ["cpu", "--profiles", str(PROFILES), "--data-dir", where, "--vectors", "real"],
        ["latency", "--profiles", str(PROFILES), "--data-dir", where],
    ):
        result = CliRunner().invoke(app, args)
        assert result.exit_code == 2, result.output
        assert "composed vectors" in result.output, result.output

"""The real all-MiniLM-L6-v2 model on a subset of the real resumes (CI runs these).

Skipped with a reason when ``../shared/data`` is absent.
"""

from __future__ import annotations

import csv
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient

from indexers import SentenceTransformerEncoder
from search_service.app import create_app
from search_service.db import session_scope
from search_service.entities import ENTITIES
from search_service.profiles.ingest import ingest_resumes
from search_service.refresh.writer import reindex
from search_service.runtime import Runtime
from search_service.settings import EmbeddingSettings, Settings
from search_service.users.api_keys import create_api_key
from tests.conftest import RESUMES_CSV

pytestmark = [pytest.mark.integration, pytest.mark.long]

CATEGORIES = ("ACCOUNTANT", "CHEF", "INFORMATION-TECHNOLOGY", "TEACHER", "AVIATION", "FITNESS")
PER_CATEGORY = 20


@pytest.fixture(scope="module")
def encoder() -> SentenceTransformerEncoder:
    """The packaged model, loaded once for the module (checks its sha256)."""
    return SentenceTransformerEncoder()


def test_real_encoder_shapes(encoder: SentenceTransformerEncoder) -> None:
    docs = encoder.encode_documents(["react developer", "pastry chef", "frontend engineer"])
    assert docs.shape == (3, 384) and docs.dtype == np.float32
    assert np.allclose(np.linalg.norm(docs, axis=1), 1.0, atol=1e-5)
    # Semantics, not string overlap: frontend engineer is closer to react developer.
    assert docs[0] @ docs[2] > docs[0] @ docs[1]
    q = encoder.encode_query("react developer")
    assert encoder.encode_query("react developer") is q  # LRU cache hit
    assert np.allclose(q, docs[0], atol=1e-5)


@pytest.fixture(scope="module")
def resume_subset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """First 20 resumes of six categories, written as a CSV of the same format."""
    if not RESUMES_CSV.is_file():
        pytest.skip(f"real data not found at {RESUMES_CSV} (needs ../shared/data)")
    csv.field_size_limit(sys.maxsize)
    taken: Counter[str] = Counter()
    out = tmp_path_factory.mktemp("resumes") / "subset.csv"
    with (
        RESUMES_CSV.open(encoding="utf-8", newline="") as src,
        out.open("w", encoding="utf-8", newline="") as dst,
    ):
        reader = csv.DictReader(src)
        writer = csv.DictWriter(dst, fieldnames=["ID", "Category", "Resume_str"])
        writer.writeheader()
        for row in reader:
            cat = row["Category"]
            if cat in CATEGORIES and taken[cat] < PER_CATEGORY and row["Resume_str"].strip():
                taken[cat] += 1
                writer.writerow(row)
    return out


@pytest.fixture(scope="module")
def real_runtime(
    tmp_path_factory: pytest.TempPathFactory,
    encoder: SentenceTransformerEncoder,
    resume_subset: Path,
) -> Iterator[Runtime]:
    """The resume subset ingested and indexed with the real model, once for the
    module (about 10 s): the tests only search it; the API keys they add are read
    by no search."""
    tmp_path = tmp_path_factory.mktemp("real-runtime")
    settings = Settings(
        data_dir=tmp_path / "var",
        database_url=f"sqlite:///{tmp_path / 'real.db'}",
        embedding=EmbeddingSettings(model=None),
    )
    rt = Runtime.open(settings, entities=ENTITIES, encoder=encoder)
    ingest_resumes(rt, resume_subset, progress=False)
    reindex(rt, progress=False)
    yield rt
    rt.close()


def _categories(rt: Runtime, ids: list[int]) -> list[str]:
    from sqlmodel import col, select

    from models import User

    with session_scope(rt.engine) as session:
        users = {u.id: u for u in session.exec(select(User).where(col(User.id).in_(ids)))}
    return [users[i].tags[0].removeprefix("category:") for i in ids]


@pytest.mark.realdata
@pytest.mark.parametrize("mode", ["hybrid", "keyword", "semantic"])
def test_accountant_query_returns_mostly_accountants(real_runtime: Runtime, mode: str) -> None:
    settings = real_runtime.settings
    with session_scope(real_runtime.engine) as session:
        _, key = create_api_key(session, role="employer")
    with TestClient(create_app(settings, runtime=real_runtime)) as client:
        r = client.post(
            "/v1/search",
            json={
                "query": "certified public accountant, account reconciliations, month-end close",
                "mode": mode,
                "limit": 10,
            },
            headers={"Authorization": f"Bearer {key}"},
        )
    assert r.status_code == 200, r.text
    ids = [h["userId"] for h in r.json()["results"]]
    cats = _categories(real_runtime, ids)
    assert len(ids) == 10
    assert cats.count("ACCOUNTANT") >= 7, cats


@pytest.mark.realdata
def test_semantic_search_finds_meaning_without_shared_words(real_runtime: Runtime) -> None:
    from models import SearchMode, SearchRequest
    from search_service.search.service import search_profiles

    with session_scope(real_runtime.engine) as session:
        res = search_profiles(
            real_runtime,
            session,
            SearchRequest(query="cooking in a restaurant kitchen", mode=SearchMode.SEMANTIC),
        )
    cats = _categories(real_runtime, [h.user_id for h in res.results[:10]])
    assert cats.count("CHEF") >= 7, cats

"""Fixtures shared by the indexers tests: each vector-store adapter in turn."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from indexers import VectorStore
from tests.indexers.factories import make_store


@pytest.fixture(params=["edge", "client"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[VectorStore]:
    """Each adapter in turn, collection not created yet; closed afterwards."""
    st = make_store(str(request.param), tmp_path)
    yield st
    st.close()

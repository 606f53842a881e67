"""Fixtures shared by the service's tests in more than one module: a JWT signing
key and a CLI runner in an empty directory. The database, runtime and HTTP
clients are in ``tests/conftest.py``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from typer.testing import CliRunner

from search_service.settings import get_settings
from tests.search_service.jwt_helpers import new_rsa_key


@pytest.fixture(scope="module")
def rsa_key() -> rsa.RSAPrivateKey:
    """A 2048-bit RSA key that signs the module's Clerk JWTs (one per module:
    generating one takes tens of milliseconds)."""
    return new_rsa_key()


@pytest.fixture
def cli_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[CliRunner]:
    """Run ``gigsy-search`` commands in an empty directory (SQLite and the Qdrant
    Edge shard under its ``./var``) with the hashing encoder: the database and
    vector-store variables of the environment are removed, and the cached
    settings are cleared before and after."""
    monkeypatch.chdir(tmp_path)
    for name in ("DATABASE_URL", "QDRANT_URL", "EMBEDDING_MODEL", "GIGSY_DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("GIGSY_EMBEDDING__MODEL", "hashing")
    get_settings.cache_clear()
    yield CliRunner()
    get_settings.cache_clear()

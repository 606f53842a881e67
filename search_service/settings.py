"""Service settings, read once from the environment (prefix ``GIGSY_``, groups with ``__``).

``GIGSY_DATABASE_URL``, ``GIGSY_QDRANT__URL`` and ``GIGSY_EMBEDDING__MODEL`` also
accept the plain names of DESIGN.md: ``DATABASE_URL``, ``QDRANT_URL`` and
``EMBEDDING_MODEL``. Paths are relative to the current directory: every command
works on ``./var/`` unless told otherwise.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from indexers import Fusion

__all__ = [
    "ClerkSettings",
    "EmbeddingSettings",
    "FreshnessSettings",
    "HttpSettings",
    "PrivacySettings",
    "QdrantSettings",
    "SchedulerSettings",
    "SearchSettings",
    "Settings",
    "UserDataSettings",
    "get_settings",
]

_PLAIN_ALIASES = {
    "DATABASE_URL": ("database_url", None),
    "QDRANT_URL": ("qdrant", "url"),
    "EMBEDDING_MODEL": ("embedding", "model"),
}


class QdrantSettings(BaseModel):
    """Vector store: Qdrant Edge under ``data_dir`` unless ``url`` names a server."""

    url: str | None = None
    api_key: SecretStr | None = None
    collection: str = "profiles"


class EmbeddingSettings(BaseModel):
    """Dense encoder: ``model`` empty = all-MiniLM-L6-v2 from its PyPI package."""

    model: str | None = None
    batch_size: int = Field(default=32, ge=1, le=1024)
    query_cache_size: int = Field(default=2048, ge=0)


class SearchSettings(BaseModel):
    """Ranking knobs.

    ``rrf_k = 60`` is the constant of Cormack, Clarke & Büttcher (SIGIR 2009);
    ``candidates`` is how many hits each retriever prefetches before fusion.
    """

    fusion: Fusion = Fusion.RRF
    rrf_k: int = Field(default=60, ge=1)
    candidates: int = Field(default=100, ge=10, le=1000)


_PLACEHOLDER_SECRETS = {"whsec_change_me", "whsec_changeme", "changeme", "secret", "whsec_test"}


class ClerkSettings(BaseModel):
    """Clerk integration: the Svix webhook secret and session-JWT verification.

    ``webhook_enabled`` unset means "enabled when a secret is set"; set to true
    with no secret, the service refuses to start.
    """

    webhook_enabled: bool | None = None
    webhook_secret: SecretStr | None = None
    jwks_url: str | None = None
    jwks_file: Path | None = None
    issuer: str | None = None
    authorized_parties: list[str] = Field(default_factory=list)
    leeway_s: int = Field(default=5, ge=0, le=300)

    @property
    def webhook_on(self) -> bool:
        """Whether ``POST /webhooks/clerk`` is mounted."""
        if self.webhook_enabled is None:
            return self.webhook_secret is not None
        return self.webhook_enabled

    @property
    def jwt_on(self) -> bool:
        """Whether Clerk session JWTs are accepted."""
        return bool(self.jwks_url or self.jwks_file)


class SchedulerSettings(BaseModel):
    """Background jobs run by ``serve`` or ``worker`` (intervals in seconds).

    Set ``enabled`` false on API replicas when a separate ``gigsy-search worker``
    runs the jobs.
    """

    enabled: bool = True
    reconcile_interval_s: int = Field(default=3600, ge=10)
    drift_interval_s: int = Field(default=3600, ge=10)
    purge_interval_s: int = Field(default=3600, ge=10)


class FreshnessSettings(BaseModel):
    """The embedding refresh job (DESIGN.md, "Contracts"; issue 4).

    ``interval_s`` is the full scan for stale users; ``outbox_poll_s`` the cheap
    check for pending outbox events that wakes the job early (edits made in
    this process wake it at once). A leased user is not taken by another
    worker for ``lease_s``; a failing user waits ``backoff_base_s * 2**(n-1)``
    seconds after its n-th failure, at most ``backoff_max_s`` (capped
    exponential backoff, as in the AWS Architecture Blog's "Exponential Backoff
    and Jitter", 2015, without the jitter).
    """

    interval_s: float = Field(default=30.0, ge=1.0, le=86_400.0)
    outbox_poll_s: float = Field(default=1.0, ge=0.1, le=3600.0)
    batch_size: int = Field(default=32, ge=1, le=1024)
    max_per_run: int = Field(default=2000, ge=1)
    lease_s: int = Field(default=120, ge=5)
    backoff_base_s: float = Field(default=5.0, gt=0)
    backoff_max_s: float = Field(default=3600.0, gt=0)


class PrivacySettings(BaseModel):
    """GDPR: how long a soft-deleted user's personal fields are kept (days) before
    the purge job erases them; 0 erases them on the next run."""

    retention_days: int = Field(default=30, ge=0, le=3650)


class HttpSettings(BaseModel):
    """Limits on what a request may send, enforced before routing and authentication.

    ``max_body_bytes`` (default 1 MiB) bounds every request body, webhooks
    included: a larger ``Content-Length`` gets 413 without the body being read,
    and a chunked body is counted as it arrives and refused once over the limit.
    ``max_json_depth`` bounds the nesting of arrays and objects in a JSON body
    (``{"a": [1]}`` is depth 2); a deeper body gets 422 before it is parsed.
    """

    max_body_bytes: int = Field(default=1_048_576, ge=1024)
    max_json_depth: int = Field(default=32, ge=4, le=1000)


class UserDataSettings(BaseModel):
    """``/v1/users/me/data``: how many keys one user may hold (a write that would
    add one more gets 409)."""

    max_keys: int = Field(default=100, ge=1, le=100_000)


class Settings(BaseSettings):
    """All configuration of the service."""

    model_config = SettingsConfigDict(
        env_prefix="GIGSY_", env_nested_delimiter="__", extra="ignore"
    )

    environment: Literal["development", "test", "production"] = "development"
    data_dir: Path = Path("var")
    database_url: str | None = None
    qdrant: QdrantSettings = Field(default_factory=QdrantSettings)
    embedding: EmbeddingSettings = Field(default_factory=EmbeddingSettings)
    search: SearchSettings = Field(default_factory=SearchSettings)
    clerk: ClerkSettings = Field(default_factory=ClerkSettings)
    scheduler: SchedulerSettings = Field(default_factory=SchedulerSettings)
    freshness: FreshnessSettings = Field(default_factory=FreshnessSettings)
    privacy: PrivacySettings = Field(default_factory=PrivacySettings)
    http: HttpSettings = Field(default_factory=HttpSettings)
    user_data: UserDataSettings = Field(default_factory=UserDataSettings)
    index_batch_size: int = Field(default=64, ge=1)

    @model_validator(mode="after")
    def _secrets_are_real(self) -> Settings:
        clerk = self.clerk
        secret = clerk.webhook_secret.get_secret_value() if clerk.webhook_secret else None
        if clerk.webhook_enabled and not secret:
            raise ValueError("clerk webhook is enabled but GIGSY_CLERK__WEBHOOK_SECRET is not set")
        if secret and self.environment != "development":
            if secret in _PLACEHOLDER_SECRETS or not secret.startswith("whsec_"):
                raise ValueError("GIGSY_CLERK__WEBHOOK_SECRET is a placeholder, not a whsec_ key")
        if clerk.jwt_on and self.environment == "production" and not clerk.issuer:
            raise ValueError("GIGSY_CLERK__ISSUER is required to accept Clerk JWTs in production")
        return self

    @model_validator(mode="before")
    @classmethod
    def _plain_env_names(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        for env, (group, key) in _PLAIN_ALIASES.items():
            value = os.environ.get(env)
            if not value:
                continue
            if key is None:
                data.setdefault(group, value)
            else:
                sub = data.setdefault(group, {})
                if isinstance(sub, dict):
                    sub.setdefault(key, value)
        return data

    @property
    def sqlalchemy_url(self) -> str:
        """The database URL; SQLite file ``<data_dir>/gigsy.db`` by default."""
        if self.database_url:
            url = self.database_url
            if url.startswith("postgresql://") or url.startswith("postgres://"):
                url = "postgresql+psycopg://" + url.split("://", 1)[1]
            return url
        return f"sqlite:///{self.data_dir / 'gigsy.db'}"

    @property
    def qdrant_path(self) -> Path:
        """Directory of the embedded Qdrant Edge shards."""
        return self.data_dir / "qdrant"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings (read from the environment on first call)."""
    return Settings()

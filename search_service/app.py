"""The FastAPI application factory and its lifespan."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
from fastapi import FastAPI
from svix.webhooks import Webhook
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from indexers import DenseEncoder, SplitEncoder
from search_service import health
from search_service.auth import ClerkJwtVerifier
from search_service.caching import NoStoreMiddleware
from search_service.console.router import install_console
from search_service.docs_ui import install_docs
from search_service.entities import ENTITIES
from search_service.errors import install_error_handlers
from search_service.gigs import router as gigs
from search_service.key_cache import KeyCache
from search_service.limits import RequestLimitsMiddleware
from search_service.metrics import StageTimingMiddleware
from search_service.openapi import install_error_responses
from search_service.privacy import router as privacy
from search_service.profiles import router as profiles
from search_service.ratelimit import RequestLimiter
from search_service.request_id import RequestIdMiddleware
from search_service.runtime import Runtime
from search_service.saved import router as saved
from search_service.scheduler import build_scheduler
from search_service.search import router as search
from search_service.settings import Settings, get_settings
from search_service.users import admin_router as admin
from search_service.users import router as users
from search_service.users import webhook_router as webhooks

__all__ = ["create_app"]


_WARM_UP_TEXTS = (
    "warm up",
    "python developer with sql and data visualisation experience",
    "part-time barista, weekends, english and spanish, customer service, cash handling",
)


def _warm_up(rt: Runtime) -> None:
    """Load the model and run a few encodes (documents and, for a
    :class:`~indexers.SplitEncoder`, the query encoder too), so the first searches
    and refreshes are not slow; then freeze the garbage collector's view of
    everything allocated so far.

    PyTorch allocates and tunes per input shape on first use; measured here, the
    first queries after start-up took 200-450 ms instead of ~20 ms.

    ``gc.freeze()`` (Python docs, "gc") moves the objects alive now (the app, the
    models, the imported libraries: ~190,000 tracked objects) to a permanent
    generation that collections skip. They live as long as the process anyway,
    and a full collection that walked them cost ~135 ms of a request's time
    (``benchmarks/README.md``, "Latency through HTTP").
    """
    encoders: list[DenseEncoder] = [rt.encoder]
    if isinstance(rt.encoder, SplitEncoder):
        encoders.append(rt.encoder.queries)
    for enc in encoders:
        for text in _WARM_UP_TEXTS:
            enc.encode_documents([text])
    gc.collect()
    gc.freeze()


def create_app(
    settings: Settings | None = None,
    *,
    runtime: Runtime | None = None,
    encoder: DenseEncoder | None = None,
) -> FastAPI:
    """Build the app.

    Args:
        settings: configuration (default: from the environment).
        runtime: an already open runtime (tests); it is not closed on shutdown.
        encoder: dense encoder to use instead of the configured model.
    """
    cfg = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        owned = runtime is None
        # Opening migrates the database and loads the model: blocking work, done
        # in a worker thread so that nothing blocks the event loop, ever
        # (tests/loop_guard.py checks every statement).
        rt = runtime
        if rt is None:
            rt = await anyio.to_thread.run_sync(
                lambda: Runtime.open(cfg, entities=ENTITIES, encoder=encoder)
            )
        if owned:
            await anyio.to_thread.run_sync(_warm_up, rt)
        app.state.runtime = rt
        scheduler = None
        if owned and cfg.scheduler.enabled:  # building it releases index leases (SQL)
            scheduler = await anyio.to_thread.run_sync(build_scheduler, rt)
            scheduler.start()
        try:
            yield
        finally:
            if scheduler is not None:  # waits for a running job
                await anyio.to_thread.run_sync(lambda: scheduler.shutdown(wait=True))
            if owned:
                await anyio.to_thread.run_sync(rt.close)

    app = FastAPI(
        title="Gigsy talent search",
        version="0.1.0",
        description="Hybrid BM25 + dense search of student profiles and gigs, and "
        "recommendations between them, each result explained.",
        lifespan=lifespan,
        # Served by install_docs from packaged assets under a same-origin CSP.
        docs_url=None,
        redoc_url=None,
        # FastAPI's native OpenTelemetry is off: the service exports Prometheus
        # metrics (/metrics), and with OpenTelemetry unconfigured every request still
        # looked up three global providers (about 30 us of CPU each request).
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    install_error_handlers(app)
    limits = cfg.rate_limit
    app.state.rate_limiter = RequestLimiter(limits) if limits.enabled else None
    size = cfg.http.key_cache_size
    app.state.key_cache = KeyCache(size) if size > 0 else None
    install_error_responses(app)
    app.include_router(search.router)
    app.include_router(users.router)
    app.include_router(profiles.router)
    app.include_router(gigs.router)
    app.include_router(saved.router)
    app.include_router(privacy.router)
    app.include_router(admin.router)
    app.include_router(health.router)
    install_console(app)
    install_docs(app)
    clerk = cfg.clerk
    if clerk.jwt_on:
        if not clerk.issuer:  # ClerkSettings refuses this; keep the invariant explicit
            raise RuntimeError("clerk JWTs enabled without an issuer")
        app.state.jwt_verifier = ClerkJwtVerifier(
            jwks_url=clerk.jwks_url,
            jwks_file=clerk.jwks_file,
            issuer=clerk.issuer,
            audience=clerk.audience,
            authorized_parties=clerk.authorized_parties,
            leeway_s=clerk.leeway_s,
        )
    token = cfg.metrics.token.get_secret_value() if cfg.metrics.token else ""
    app.state.metrics_token = token.encode() or None
    if cfg.clerk.webhook_on:
        secret = cfg.clerk.webhook_secret
        if secret is None:  # Settings refuses this; keep the invariant explicit
            raise RuntimeError("clerk webhook enabled without a secret")
        app.state.clerk_webhook = Webhook(secret.get_secret_value())
        app.include_router(webhooks.router)
    # The last added is the outermost: refusals happen before routing,
    # authentication or any parsing (search_service/limits.py), and even they
    # carry a request id. Stage timing is outermost, so its total covers them.
    app.add_middleware(
        RequestLimitsMiddleware,
        max_body_bytes=cfg.http.max_body_bytes,
        max_json_depth=cfg.http.max_json_depth,
        limiter=app.state.rate_limiter,
    )
    # The one place forwarded headers are believed (`serve` turns uvicorn's own
    # off): only from GIGSY_HTTP__TRUSTED_PROXIES, and outside the refusals, so
    # every per-IP budget counts the same client.
    if cfg.http.trusted_proxies:
        app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=cfg.http.trusted_proxies)
    app.add_middleware(NoStoreMiddleware)  # API answers are never cached, refusals too
    app.add_middleware(RequestIdMiddleware)
    app.add_middleware(StageTimingMiddleware)
    return app

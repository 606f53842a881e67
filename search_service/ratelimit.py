"""Request budgets per caller and route group, counted by the ``limits`` package.

Groups (:class:`RouteGroup`) and who shares a budget:

- ``search``: the ranking routes, any method (a search is a POST, but reads):
  ``/v1/search``, ``/v1/gigs/search`` and the recommendations (paths ending in
  ``recommended-gigs``, ``candidates``, ``applicants`` or ``similar``), per caller;
- ``writes``: every other ``PUT``/``PATCH``/``POST``/``DELETE`` under ``/v1``
  (profile, user data, admin), per caller;
- ``reads``: every other authenticated ``GET`` under ``/v1``, per caller;
- ``public``: unauthenticated ``/v1`` routes (``GET /v1/profiles/{id}/public``),
  per client IP;
- ``auth_failures``: requests whose credentials fail (401), per client IP, so
  guessing API keys is throttled; over it the answer is 429 instead of 401;
- ``webhooks``: ``POST /webhooks/clerk``, per client IP, spent before the Svix
  signature is verified, so a flood of junk bodies is throttled too (Svix
  retries a 429, so a generous limit loses no event);
- ``refused``: requests that ``search_service/limits.py`` refuses before routing
  and authentication (413, too-deep JSON, a bad ``Content-Length``), per client
  IP; over it the answer is 429 instead of the refusal. A group of its own, not
  ``auth_failures``: a client with an oversized upload has a bug, not a guess,
  and should not lose its budget of failed logins to it.

A caller is its user for a Clerk session JWT and its key id for an API key, so
two keys of one user have separate budgets. The client IP is the socket peer, or
the ``X-Forwarded-For`` client when the peer is a trusted proxy
(``GIGSY_HTTP__TRUSTED_PROXIES``; none by default): see :func:`client_ip`.
Never limited: the ``/healthz`` and ``/metrics`` probes, which load balancers and
Prometheus call on a schedule of their own (unless a probe sends a body the
limits refuse).

Authenticated routes are limited inside ``get_caller`` (``search_service/deps.py``),
so a new route is covered by authenticating; unauthenticated ``/v1`` routes
declare ``PublicRateLimit``. If the storage fails (Redis down), requests are let
through and a warning is logged: a limiter outage does not become an API outage.
"""

from __future__ import annotations

import logging
import math
import time
from enum import StrEnum

from limits import RateLimitItem, parse
from limits.errors import StorageError
from limits.storage import storage_from_string
from limits.strategies import STRATEGIES, RateLimiter
from starlette.types import Scope

from search_service.errors import RateLimitedError
from search_service.settings import RateLimitSettings

__all__ = ["RequestLimiter", "RouteGroup", "client_ip", "route_group"]

_log = logging.getLogger(__name__)

_SEARCH_SEGMENTS = frozenset({"search", "recommendations"})
_RANKING_ENDS = frozenset({"search", "recommended-gigs", "candidates", "applicants", "similar"})
_READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class RouteGroup(StrEnum):
    """A family of requests sharing one budget per caller (per client IP for
    ``public``, ``auth_failures``, ``webhooks`` and ``refused``)."""

    SEARCH = "search"
    WRITES = "writes"
    READS = "reads"
    PUBLIC = "public"
    AUTH_FAILURES = "auth_failures"
    WEBHOOKS = "webhooks"
    REFUSED = "refused"


def client_ip(scope: Scope) -> str:
    """The client address that per-IP budgets count, from an ASGI scope.

    The socket peer, or the ``X-Forwarded-For`` client when the peer is one of
    ``GIGSY_HTTP__TRUSTED_PROXIES``: uvicorn's ``ProxyHeadersMiddleware``, which
    :func:`search_service.app.create_app` installs only for those proxies,
    rewrites ``scope["client"]`` before anything reads it. ``"unknown"`` when
    the server gives no peer (a Unix socket).
    """
    client = scope.get("client")
    return str(client[0]) if client else "unknown"


def route_group(method: str, path: str) -> RouteGroup:
    """The group of an authenticated route.

    Args:
        method: the HTTP method.
        path: the route's path template (``/v1/profiles/{user_id}``) or URL path.
    """
    segments = path.strip("/").split("/")
    if len(segments) >= 2 and segments[0] == "v1" and segments[1] in _SEARCH_SEGMENTS:
        return RouteGroup.SEARCH
    if len(segments) >= 3 and segments[0] == "v1" and segments[-1] in _RANKING_ENDS:
        return RouteGroup.SEARCH
    if method.upper() in _READ_METHODS:
        return RouteGroup.READS
    return RouteGroup.WRITES


class RequestLimiter:
    """One budget per (group, identity) in the configured ``limits`` storage.

    Thread-safe (the ``limits`` storages are); build one per app.

    Args:
        settings: limits per group, storage URI, strategy and key prefix.

    Raises:
        limits.errors.ConfigurationError: an unknown storage scheme, or a
            storage whose client library is not installed.
    """

    def __init__(self, settings: RateLimitSettings):
        self._prefix = settings.key_prefix
        self.in_memory = settings.storage_uri.startswith("memory://")
        """The storage is this process's memory: :meth:`check` does no I/O, so it
        may run on the event loop."""
        storage = storage_from_string(settings.storage_uri, wrap_exceptions=True)
        self._strategy: RateLimiter = STRATEGIES[settings.strategy](storage)
        self._items: dict[RouteGroup, RateLimitItem] = {
            group: parse(getattr(settings, group.value)) for group in RouteGroup
        }

    def limit(self, group: RouteGroup) -> RateLimitItem:
        """The limit of ``group``."""
        return self._items[group]

    def check(self, group: RouteGroup, identity: str) -> None:
        """Spend one request of ``identity``'s budget in ``group``.

        With the moving window a refused request spends nothing (the fixed window
        counts it, in a window that ends anyway). Storage failures let the
        request through.

        Args:
            group: the route group.
            identity: who pays, e.g. ``key:12``, ``user:7``, ``ip:203.0.113.9``.

        Raises:
            RateLimitedError: the budget is spent (429); ``retry_after_s`` is the
                time until the window frees a request (``get_window_stats``
                ``reset_time``), rounded up to whole seconds.
        """
        item = self._items[group]
        ids = (self._prefix, group.value, identity)
        try:
            if self._strategy.hit(item, *ids):
                return
            reset_at = self._strategy.get_window_stats(item, *ids).reset_time
        except StorageError as exc:
            _log.warning("rate limit storage failed, request let through: %r", exc.storage_error)
            return
        retry_after = math.ceil(reset_at - time.time())
        raise RateLimitedError(
            f"too many {group.value} requests (limit {item}); retry in {max(1, retry_after)} s",
            retry_after_s=retry_after,
        )

"""``POST /webhooks/clerk``: Svix-signed Clerk user events, rate-limited per client IP."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Depends, Request
from starlette.concurrency import run_in_threadpool
from svix.webhooks import Webhook, WebhookVerificationError

from search_service.deps import RuntimeDep
from search_service.errors import ServiceError
from search_service.ratelimit import RequestLimiter, RouteGroup, client_ip
from search_service.users.webhooks import process_clerk_delivery

router = APIRouter(tags=["webhooks"])


def limit_webhook(request: Request) -> None:
    """Charge the client IP's ``webhooks`` budget (``GIGSY_RATE_LIMIT__WEBHOOKS``).

    A route dependency, so it runs before the handler reads the body or checks
    the signature: unsigned junk spends the budget like a real delivery. A plain
    ``def``, run in the thread pool, because the limiter's storage may be Redis.

    Raises:
        RateLimitedError: the IP's budget is spent (429; Svix retries it later).
    """
    limiter: RequestLimiter | None = request.app.state.rate_limiter
    if limiter is not None:
        limiter.check(RouteGroup.WEBHOOKS, f"ip:{client_ip(request.scope)}")


@router.post(
    "/webhooks/clerk",
    summary="Receive a Clerk webhook (user.created, user.updated, user.deleted)",
    dependencies=[Depends(limit_webhook)],
    responses={
        400: {"description": "bad or expired signature, or a body that is not a JSON event"},
        429: {"description": "the client IP's webhook budget is spent: Svix retries"},
        503: {"description": "database unavailable: Svix retries"},
    },
)
async def receive_clerk_webhook(request: Request, rt: RuntimeDep) -> dict[str, Any]:
    """Verify the Svix signature on the raw body, then apply the event exactly once."""
    body = await request.body()
    verifier: Webhook = request.app.state.clerk_webhook
    try:
        verifier.verify(body, dict(request.headers))
    except WebhookVerificationError as exc:
        raise ServiceError(f"signature verification failed: {exc}", 400, "bad_signature") from exc
    try:
        event = json.loads(body)
    except ValueError as exc:
        raise ServiceError("body is not JSON", 400, "bad_request") from exc
    if not isinstance(event, dict) or not isinstance(event.get("data"), dict):
        raise ServiceError("body is not a Clerk event (no data object)", 400, "bad_request")
    svix_id = request.headers["svix-id"]
    result = await run_in_threadpool(process_clerk_delivery, rt, svix_id, event)
    return {"svixId": svix_id, "outcome": result.outcome, "duplicate": result.duplicate}

"""``POST /webhooks/clerk``: Svix-signed Clerk user events."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from svix.webhooks import Webhook, WebhookVerificationError

from search_service.deps import RuntimeDep
from search_service.errors import ServiceError
from search_service.users.webhooks import process_clerk_delivery

router = APIRouter(tags=["webhooks"])


@router.post(
    "/webhooks/clerk",
    summary="Receive a Clerk webhook (user.created, user.updated, user.deleted)",
    responses={
        400: {"description": "bad or expired signature, or a body that is not a JSON event"},
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

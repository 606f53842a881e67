"""Admin operations: API keys and ledger postings."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Response
from starlette.concurrency import run_in_threadpool

from models import ApiKeyCreate, ApiKeyCreated, Posting, TransactionPublic
from search_service.deps import CurrentAdmin, RuntimeDep, SessionDep
from search_service.errors import ConflictError, NotFoundError
from search_service.paths import RowId
from search_service.users.api_keys import create_api_key, revoke_api_key
from search_service.users.ledger import post_transaction
from search_service.users.repository import find_user_by_clerk_id

router = APIRouter(prefix="/v1/admin", tags=["admin"])


@router.post(
    "/api-keys",
    response_model=ApiKeyCreated,
    status_code=201,
    summary="Create a key",
    responses={
        404: {"description": "No such user (or deleted)"},
        409: {"description": "The user lacks the role"},
    },
)
def create_user_api_key(
    body: ApiKeyCreate, caller: CurrentAdmin, session: SessionDep
) -> ApiKeyCreated:
    """A key acting as the user ``clerkId`` with ``role``; the key is shown only here.

    Raises 404 for an unknown or deleted user, 409 when the user lacks the role.
    """
    user = find_user_by_clerk_id(session, body.clerk_id)
    if user is None or user.id is None:
        raise NotFoundError(f"no user with clerkId {body.clerk_id!r}")
    if body.role.value not in user.roles:
        raise ConflictError(f"user {body.clerk_id} does not have the role {body.role.value}")
    row, key = create_api_key(session, role=body.role.value, name=body.name, user_id=user.id)
    assert row.id is not None
    return ApiKeyCreated(id=row.id, key=key, role=row.role, clerk_id=user.clerk_id)


@router.delete("/api-keys/{key_id}", status_code=204, summary="Revoke a key at once")
def revoke_user_api_key(
    caller: CurrentAdmin,
    session: SessionDep,
    key_id: Annotated[RowId, Path(description="The key's id.")],
) -> Response:
    """The key stops working with the next request. 404 if unknown or already revoked."""
    if not revoke_api_key(session, key_id):
        raise NotFoundError(f"no active API key {key_id}")
    return Response(status_code=204)


@router.post(
    "/transactions",
    response_model=TransactionPublic,
    summary="Post a ledger entry",
    responses={
        201: {"description": "Posted", "model": TransactionPublic},
        404: {"description": "No such user"},
        409: {"description": "Idempotency key reused for another posting, or another currency"},
    },
)
async def post_ledger_entry(
    body: Posting, caller: CurrentAdmin, rt: RuntimeDep, response: Response
) -> TransactionPublic:
    """Ledger row and cached balance in one transaction; 201 when created, 200 when
    the idempotency key replays the same posting, 409 when it names another."""
    who = caller.user.clerk_id if caller.user is not None else f"key:{caller.key_id}"
    tx, created = await run_in_threadpool(post_transaction, rt.engine, body, created_by=who)
    response.status_code = 201 if created else 200
    return TransactionPublic.model_validate(tx)

"""GDPR routes of the caller's own account: export everything, delete at once."""

from __future__ import annotations

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse

from search_service.deps import CurrentUser, SessionDep
from search_service.privacy.service import delete_account, export_user

router = APIRouter(tags=["privacy"])


@router.get("/v1/me/export", summary="Everything held about the caller (GDPR)")
def export_me(caller: CurrentUser, session: SessionDep) -> JSONResponse:
    """A JSON document with the account, profile (all sections), snapshot, data,
    ledger entries, API keys (no secrets), webhook deliveries and outbox events."""
    return JSONResponse(
        export_user(session, caller.user),
        headers={
            "Content-Disposition": 'attachment; filename="gigsy-export.json"',
            "Cache-Control": "private, no-store",
        },
    )


@router.delete(
    "/v1/me",
    status_code=204,
    summary="Delete the caller's account (GDPR)",
    responses={404: {"description": "The account is already deleted"}},
)
def delete_me(caller: CurrentUser, session: SessionDep) -> Response:
    """Soft-deletes at once: the account stops authenticating, its API keys are
    revoked and it leaves search before this answer is sent. Personal fields are
    erased after the retention period (``GIGSY_PRIVACY__RETENTION_DAYS``)."""
    delete_account(session, caller.user)
    return Response(status_code=204)

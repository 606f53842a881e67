"""Gigs: employers post and manage them; anyone signed in reads servable ones.

Optimistic locking as for profiles: responses carry ``ETag: "<version>"``; send
it back as ``If-Match`` on ``PATCH`` and a write based on an older version gets
409. Without ``If-Match`` a PATCH merges onto the latest version.

Feedback (``search_service.gigs.feedback``): the owner shortlists or rejects
students (``/v1/gigs/{gigId}/decisions/{userId}``), students apply to or dismiss
gigs (``/v1/gigs/{gigId}/application``, ``/v1/gigs/{gigId}/dismissal``) and list
what they did (``/v1/me/gig-actions``). Each is a soft state: ``PUT`` sets it,
``DELETE`` clears it (idempotent, 204).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, Path, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from models import (
    CamelModel,
    DecisionWrite,
    GigActionList,
    GigActionView,
    GigStatus,
    GigView,
    GigWrite,
    InteractionView,
    StudentAction,
)
from search_service.conditional import MERGE_PATCH, expected_version, read_merge_patch
from search_service.deps import (
    CurrentGigManager,
    CurrentStudent,
    CurrentUser,
    RuntimeDep,
    SessionDep,
    gig_manager,
)
from search_service.errors import ConflictError
from search_service.gigs.feedback import (
    act_on_gig,
    clear_candidate_decision,
    decide_on_candidate,
    list_gig_actions,
    withdraw_from_gig,
)
from search_service.gigs.repository import count_owner_gigs, owner_gigs
from search_service.gigs.service import (
    create_gig,
    delete_gig,
    gig_view,
    gig_views,
    owned_gig,
    patched_gig,
    readable_gig,
    update_gig,
)
from search_service.paths import DECIMAL, RowId

router = APIRouter(tags=["gigs"])

GigId = Annotated[RowId, Path(description="The gig's id.")]
StudentId = Annotated[RowId, Path(description="The student's user id.")]

_IF_MATCH = Header(
    alias="If-Match",
    description='The ETag from a GET of the gig, e.g. `"3"`; a stale one gets 409.',
)
_DECISION_ERRORS: dict[int | str, dict[str, Any]] = {
    403: {"description": "Not the gig's owner (or an admin)"},
    404: {
        "description": "No such gig (or not yours to see), or no searchable student with a profile"
    },
}
_ACTION_ERRORS: dict[int | str, dict[str, Any]] = {
    403: {"description": "The caller is not a student"},
    404: {"description": "No gig students can see (unknown, deleted, not open, expired)"},
}
_WITHDRAW_ERRORS: dict[int | str, dict[str, Any]] = {
    403: {"description": "The caller is not a student"},
    404: {
        "description": "No such gig, or one students cannot see and on which the "
        "caller has nothing to withdraw"
    },
}
_WRITE_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"description": "`If-Match` is not an ETag this API issued"},
    404: {"description": "No such gig (or not yours to see)"},
    409: {"description": "`If-Match` names an older version: GET the gig and reapply"},
}


class GigList(CamelModel):
    """A page of gigs; ``nextOffset`` is null on the last page."""

    results: list[GigView]
    total: int
    next_offset: int | None = None


def _respond(view: GigView, response: Response) -> GigView:
    response.headers["ETag"] = f'"{view.version}"'
    response.headers["Cache-Control"] = "private, no-store"
    return view


@router.post(
    "/v1/gigs",
    response_model=GigView,
    status_code=201,
    summary="Post a gig",
    responses={403: {"description": "The caller is not an employer (or admin) user"}},
)
def post_gig(
    body: GigWrite,
    manager: CurrentGigManager,
    rt: RuntimeDep,
    session: SessionDep,
    response: Response,
) -> GigView:
    """Create a gig owned by the caller (``draft`` unless ``status`` says ``open``).
    Skills go through the skill taxonomy. An open gig is searchable by students once
    the refresh job has indexed it (``searchable``)."""
    gig = create_gig(session, rt, manager.user, body)
    response.headers["Location"] = f"/v1/gigs/{gig.id}"
    return _respond(gig_view(gig, manager.user.name), response)


@router.get(
    "/v1/me/gigs",
    response_model=GigList,
    summary="The caller's gigs",
    responses={403: {"description": "The credential carries no employer (or admin) role"}},
)
def list_my_gigs(
    manager: CurrentGigManager,
    session: SessionDep,
    status: GigStatus | None = None,
    limit: Annotated[int, Query(ge=1, le=100), DECIMAL] = 20,
    offset: Annotated[int, Query(ge=0, le=10_000), DECIMAL] = 0,
) -> GigList:
    """Every gig the caller owns (not deleted), newest first, optionally by status."""
    owner_id = manager.user.id
    assert owner_id is not None
    state = status.value if status else None
    gigs = list(owner_gigs(session, owner_id, status=state, limit=limit, offset=offset))
    total = count_owner_gigs(session, owner_id, status=state)
    nxt = offset + len(gigs) if offset + len(gigs) < total else None
    return GigList(results=gig_views(session, gigs), total=total, next_offset=nxt)


@router.get(
    "/v1/gigs/{gig_id}",
    response_model=GigView,
    summary="A gig",
    responses={404: {"description": "No such gig (or not yours to see)"}},
)
def read_gig(
    gig_id: GigId, caller: CurrentUser, session: SessionDep, response: Response
) -> GigView:
    """An open gig, for anyone signed in; drafts, closed, filled and expired gigs
    for their owner (with an employer credential) and admins only (404 for
    everyone else)."""
    gig = readable_gig(session, gig_manager(caller), gig_id)
    return _respond(gig_views(session, [gig])[0], response)


@router.patch(
    "/v1/gigs/{gig_id}",
    response_model=GigView,
    summary="Change part of a gig (JSON Merge Patch, RFC 7396)",
    responses={
        **_WRITE_ERRORS,
        403: {"description": "Not the gig's owner"},
        415: {"description": f"Content type is not {MERGE_PATCH}"},
    },
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {MERGE_PATCH: {"schema": {"type": "object"}}},
        }
    },
)
async def patch_gig(
    gig_id: GigId,
    request: Request,
    manager: CurrentGigManager,
    rt: RuntimeDep,
    session: SessionDep,
    response: Response,
    if_match: Annotated[str | None, _IF_MATCH] = None,
) -> GigView:
    """Merge the body into the gig: ``null`` resets a field, arrays replace. Closing
    (``"status": "closed"`` or ``"filled"``) takes the gig out of every
    student-facing result before the response."""
    patch = await read_merge_patch(request)
    expected = expected_version(if_match, source=f"GET /v1/gigs/{gig_id}")

    def work() -> GigView:
        for attempt in range(3):
            session.expire_all()
            gig = owned_gig(session, manager, gig_id)
            current = gig_views(session, [gig])[0]
            try:
                body = patched_gig(current, patch)
            except ValidationError as exc:
                raise RequestValidationError(exc.errors()) from exc
            version = expected if expected is not None else current.version
            try:
                gig = update_gig(session, rt, gig_id, body, expected_version=version)
            except ConflictError:
                if expected is not None or attempt == 2:
                    raise
                continue
            return gig_views(session, [gig])[0]
        raise AssertionError("unreachable")  # pragma: no cover

    return _respond(await run_in_threadpool(work), response)


@router.delete(
    "/v1/gigs/{gig_id}",
    status_code=204,
    summary="Delete a gig",
    responses={
        403: {"description": "Not the gig's owner"},
        404: {"description": "No such gig (or not yours to see)"},
    },
)
def remove_gig(gig_id: GigId, manager: CurrentGigManager, session: SessionDep) -> Response:
    """Soft delete: the gig disappears from every result before the response; its
    interactions are kept for the owner's records."""
    delete_gig(session, owned_gig(session, manager, gig_id))
    return Response(status_code=204)


@router.put(
    "/v1/gigs/{gig_id}/decisions/{user_id}",
    response_model=InteractionView,
    summary="Shortlist or reject a student for a gig",
    responses=_DECISION_ERRORS,
)
def put_decision(
    gig_id: GigId,
    user_id: StudentId,
    body: DecisionWrite,
    manager: CurrentGigManager,
    session: SessionDep,
) -> InteractionView:
    """For the gig's owner (and admins): set the decision on a student (one per
    student and gig; a new one replaces the old). Rejected students drop out of
    ``GET /v1/gigs/{gigId}/candidates`` and the ranking there moves towards the
    shortlist. The answer holds ids, the decision, whether the student applied,
    and times: nothing of the student's profile."""
    return decide_on_candidate(session, manager, gig_id, user_id, body.decision)


@router.delete(
    "/v1/gigs/{gig_id}/decisions/{user_id}",
    status_code=204,
    summary="Clear the decision on a student",
    responses=_DECISION_ERRORS,
)
def delete_decision(
    gig_id: GigId, user_id: StudentId, manager: CurrentGigManager, session: SessionDep
) -> Response:
    """For the gig's owner (and admins): clear the decision (the student comes
    back among the candidates, unranked by feedback). A no-op when none is set."""
    clear_candidate_decision(session, manager, gig_id, user_id)
    return Response(status_code=204)


@router.put(
    "/v1/gigs/{gig_id}/application",
    response_model=GigActionView,
    summary="Apply to a gig",
    responses=_ACTION_ERRORS,
)
def apply_to_gig(gig_id: GigId, caller: CurrentStudent, session: SessionDep) -> GigActionView:
    """For students: apply to an open gig (replaces a dismissal of it). The gig's
    owner sees the application in ``GET /v1/gigs/{gigId}/applicants``. Applying
    again changes nothing."""
    return act_on_gig(session, caller.user, gig_id, StudentAction.APPLIED)


@router.delete(
    "/v1/gigs/{gig_id}/application",
    status_code=204,
    summary="Withdraw an application",
    responses=_WITHDRAW_ERRORS,
)
def withdraw_application(gig_id: GigId, caller: CurrentStudent, session: SessionDep) -> Response:
    """For students: withdraw the application (also from a gig closed since). A
    no-op when the caller has not applied."""
    withdraw_from_gig(session, caller.user, gig_id, StudentAction.APPLIED)
    return Response(status_code=204)


@router.put(
    "/v1/gigs/{gig_id}/dismissal",
    response_model=GigActionView,
    summary="Dismiss a gig",
    responses=_ACTION_ERRORS,
)
def dismiss_gig(gig_id: GigId, caller: CurrentStudent, session: SessionDep) -> GigActionView:
    """For students: hide an open gig from the caller's recommendations (replaces
    an application to it). Only the student sees a dismissal."""
    return act_on_gig(session, caller.user, gig_id, StudentAction.DISMISSED)


@router.delete(
    "/v1/gigs/{gig_id}/dismissal",
    status_code=204,
    summary="Undo a dismissal",
    responses=_WITHDRAW_ERRORS,
)
def undo_dismissal(gig_id: GigId, caller: CurrentStudent, session: SessionDep) -> Response:
    """For students: the gig may be recommended again. A no-op when it was not
    dismissed."""
    withdraw_from_gig(session, caller.user, gig_id, StudentAction.DISMISSED)
    return Response(status_code=204)


@router.get(
    "/v1/me/gig-actions",
    response_model=GigActionList,
    summary="The caller's applications and dismissals",
    responses={403: {"description": "The caller is not a student"}},
)
def list_my_gig_actions(
    caller: CurrentStudent,
    session: SessionDep,
    action: StudentAction | None = None,
    limit: Annotated[int, Query(ge=1, le=100), DECIMAL] = 20,
    offset: Annotated[int, Query(ge=0, le=10_000), DECIMAL] = 0,
) -> GigActionList:
    """For students: the gigs the caller applied to or dismissed (``action``: one
    kind only), newest first, with each gig while it is open (``gig`` is null
    once it is closed, filled or expired; deleted gigs are left out)."""
    return list_gig_actions(session, caller.user, action=action, limit=limit, offset=offset)

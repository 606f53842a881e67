"""Profiles: the owner's read/write API and shared views.

Optimistic locking: ``GET /v1/me/profile`` returns ``ETag: "<version>"``; send
it back as ``If-Match`` on ``PUT``/``PATCH`` and a write based on an older
version gets 409. Without ``If-Match`` the write is unconditional.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, Path, Request, Response
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from models import ProfileView, ProfileWrite, Role, SharedProfileView
from search_service.conditional import MERGE_PATCH, expected_version, read_merge_patch
from search_service.deps import (
    CurrentCaller,
    CurrentStudent,
    CurrentUser,
    PublicRateLimit,
    RuntimeDep,
    SessionDep,
)
from search_service.errors import ConflictError, PermissionDeniedError
from search_service.paths import RowId
from search_service.profiles.service import (
    get_own_profile,
    get_shared_profile,
    patched_document,
    save_profile,
)

router = APIRouter(tags=["profiles"])

# Statuses the profile writes raise themselves (the rest are documented for every
# route by search_service.openapi).
_WRITE_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"description": "`If-Match` is not an ETag this API issued"},
    404: {"description": "The account was deleted meanwhile"},
    409: {"description": "`If-Match` names an older version: GET the profile and reapply"},
}
_IF_MATCH = Header(
    alias="If-Match",
    description='The ETag from GET /v1/me/profile, e.g. `"3"`; a stale one gets 409.',
)


def _etag(view: ProfileView) -> str:
    return f'"{view.version}"'


def _expected_version(if_match: str | None) -> int | None:
    return expected_version(if_match, source="GET /v1/me/profile")


def _respond(view: ProfileView, response: Response) -> ProfileView:
    response.headers["ETag"] = _etag(view)
    response.headers["Cache-Control"] = "private, no-store"
    return view


@router.get("/v1/me/profile", response_model=ProfileView, summary="The caller's profile")
def read_my_profile(caller: CurrentUser, session: SessionDep, response: Response) -> ProfileView:
    """Every section, private ones included, with strength and index state.
    A user who never wrote a profile gets an empty one at version 0."""
    return _respond(get_own_profile(session, caller.user), response)


@router.put(
    "/v1/me/profile",
    response_model=ProfileView,
    summary="Replace the caller's profile",
    responses=_WRITE_ERRORS,
)
def replace_my_profile(
    body: ProfileWrite,
    caller: CurrentStudent,
    rt: RuntimeDep,
    session: SessionDep,
    response: Response,
    if_match: Annotated[str | None, _IF_MATCH] = None,
) -> ProfileView:
    """Replace the whole profile. Sections left out become empty with visibility
    ``employers``. One transaction updates the tables, the snapshot, the hash
    and the version, and appends a ``profile.updated`` outbox event; the edit is
    searchable once the refresh job has embedded it (``searchable``)."""
    view, _ = save_profile(
        session, rt, caller.user, body, expected_version=_expected_version(if_match)
    )
    return _respond(view, response)


@router.patch(
    "/v1/me/profile",
    response_model=ProfileView,
    summary="Change part of the caller's profile (JSON Merge Patch, RFC 7396)",
    responses={**_WRITE_ERRORS, 415: {"description": f"Content type is not {MERGE_PATCH}"}},
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {MERGE_PATCH: {"schema": {"type": "object"}}},
        }
    },
)
async def patch_my_profile(
    request: Request,
    caller: CurrentStudent,
    rt: RuntimeDep,
    session: SessionDep,
    response: Response,
    if_match: Annotated[str | None, _IF_MATCH] = None,
) -> ProfileView:
    """Merge the body into the profile: objects merge, ``null`` removes (resets to
    the default), arrays such as ``skills.items`` replace. Content type
    ``application/merge-patch+json`` (``application/json`` is accepted too)."""
    patch = await read_merge_patch(request)
    expected = _expected_version(if_match)

    def work() -> ProfileView:
        for attempt in range(3):
            session.expire_all()  # re-read what concurrent writers committed
            current = get_own_profile(session, caller.user)
            try:
                doc = patched_document(current, patch)
            except ValidationError as exc:
                raise RequestValidationError(exc.errors()) from exc
            # The patch applies to the version it was merged into; without
            # If-Match a concurrent write just means merging again.
            version = expected if expected is not None else current.version
            try:
                view, _ = save_profile(session, rt, caller.user, doc, expected_version=version)
            except ConflictError:
                if expected is not None or attempt == 2:
                    raise
                continue
            return view
        raise AssertionError("unreachable")  # pragma: no cover

    return _respond(await run_in_threadpool(work), response)


@router.get(
    "/v1/profiles/{user_id}/public",
    response_model=SharedProfileView,
    summary="A profile's public sections (no authentication)",
    dependencies=[PublicRateLimit],
)
def read_public_profile(
    session: SessionDep, user_id: Annotated[RowId, Path(description="The user's id.")]
) -> SharedProfileView:
    """Only sections the owner marked ``public``, display name and headline.
    404 when the user is unknown or deleted, or has no public section. Never
    cached (``Cache-Control: no-store``, ``search_service/caching.py``): a section
    made private is gone from every copy at once."""
    return get_shared_profile(session, user_id, employer=False)


@router.get(
    "/v1/profiles/{user_id}",
    response_model=SharedProfileView,
    summary="A profile as an employer sees it",
    responses={403: {"description": "The caller is not an employer or an admin"}},
)
def read_profile_as_employer(
    caller: CurrentCaller,
    session: SessionDep,
    user_id: Annotated[RowId, Path(description="The user's id.")],
) -> SharedProfileView:
    """``public`` and ``employers`` sections; never ``private`` ones. Employers and admins."""
    if not caller.has(Role.EMPLOYER, Role.ADMIN):
        raise PermissionDeniedError("only employers see profiles beyond their public sections")
    return get_shared_profile(session, user_id, employer=True)

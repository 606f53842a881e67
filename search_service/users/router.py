"""The caller's own account: who the credentials act as, balance and key/value
data; user lookup by clerkId.

``GET /v1/users/me/data`` pages by key (keyset): ``limit`` pairs after the key
``after``; when more follow, the ``Link`` header names the next page
(``rel="next"``, RFC 8288).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response

from models import Balance, CallerView, Role, UserDataPublic, UserDataWrite, UserPublic
from search_service.deps import CurrentCaller, CurrentUser, RuntimeDep, SessionDep
from search_service.errors import NotFoundError
from search_service.paths import DECIMAL
from search_service.users.ledger_repository import delete_user_data, get_user_data, list_user_data
from search_service.users.repository import find_user_by_clerk_id
from search_service.users.user_data import set_user_data

router = APIRouter(prefix="/v1/users", tags=["users"])

_KEY_PATTERN = r"^[A-Za-z0-9_.:-]+$"
_KEY = Path(min_length=1, max_length=128, pattern=_KEY_PATTERN)
_PAGE_MAX = 100
"""Largest page of ``GET /v1/users/me/data`` (also the default)."""
# As stored (users.clerk_id is VARCHAR(255)); no NUL, which PostgreSQL cannot compare.
_CLERK_ID = Path(min_length=1, max_length=255, pattern=r"^[^\x00]+$")


def _uid(caller: CurrentUser) -> int:
    return caller.user_id


@router.get("/me", response_model=CallerView, summary="Who the credentials act as")
def read_me(caller: CurrentCaller) -> CallerView:
    """The acting user and the roles this request may use (an API key has one), so a
    client such as the console at ``/`` can tell an employer key from a student's."""
    user = caller.user
    if user is None:
        return CallerView(user_id=None, name=None, roles=sorted(caller.roles))
    full = " ".join(n for n in (user.first_name, user.last_name) if n)
    return CallerView(user_id=user.id, name=user.name or full or None, roles=sorted(caller.roles))


@router.get("/me/balance", response_model=Balance, summary="The caller's cached balance")
def read_my_balance(caller: CurrentUser) -> Balance:
    """Balance in minor units; equals the sum of the caller's ledger (reconciled)."""
    return Balance(amount=caller.user.balance_amount, currency=caller.user.balance_currency)


@router.get(
    "/me/data",
    response_model=list[UserDataPublic],
    summary="The caller's data, a page at a time, by key",
    responses={200: {"headers": {"Link": {"description": 'The next page, `rel="next"`'}}}},
)
def list_my_data(
    caller: CurrentUser,
    session: SessionDep,
    request: Request,
    response: Response,
    limit: Annotated[int, Query(ge=1, le=_PAGE_MAX, description="Page size."), DECIMAL] = _PAGE_MAX,
    after: Annotated[
        str | None,
        Query(
            min_length=1,
            max_length=128,
            pattern=_KEY_PATTERN,
            description="Return keys after this one (the last key of the previous page).",
        ),
    ] = None,
) -> list[UserDataPublic]:
    """Key/value pairs of the caller in key order: at most ``limit`` after ``after``.
    When more follow, ``Link: <...?after=LAST&limit=N>; rel="next"`` names the next page."""
    rows = list_user_data(session, _uid(caller), after=after, limit=limit + 1)
    if len(rows) > limit:
        rows = rows[:limit]
        nxt = request.url.include_query_params(after=rows[-1].key, limit=limit)
        response.headers["Link"] = f'<{nxt}>; rel="next"'
    return [UserDataPublic.model_validate(r) for r in rows]


@router.get("/me/data/{key}", response_model=UserDataPublic, summary="One data value")
def read_my_data(caller: CurrentUser, session: SessionDep, key: str = _KEY) -> UserDataPublic:
    """Raises 404 when the key is not set."""
    row = get_user_data(session, _uid(caller), key)
    if row is None:
        raise NotFoundError(f"no data under {key!r}")
    return UserDataPublic.model_validate(row)


@router.put(
    "/me/data/{key}",
    response_model=UserDataPublic,
    summary="Set a data value",
    responses={201: {"description": "Created", "model": UserDataPublic}},
)
def put_my_data(
    body: UserDataWrite,
    caller: CurrentUser,
    session: SessionDep,
    rt: RuntimeDep,
    response: Response,
    key: str = _KEY,
) -> UserDataPublic:
    """Create (201) or replace (200) the value under ``key``. 409 (``too_many_keys``)
    when the key is new and the caller already holds ``GIGSY_USER_DATA__MAX_KEYS`` keys."""
    max_keys = rt.settings.user_data.max_keys
    row, created = set_user_data(session, _uid(caller), key, body.value, max_keys=max_keys)
    response.status_code = 201 if created else 200
    return UserDataPublic.model_validate(row)


@router.delete("/me/data/{key}", status_code=204, summary="Delete a data value")
def delete_my_data(caller: CurrentUser, session: SessionDep, key: str = _KEY) -> Response:
    """Raises 404 when the key is not set."""
    if not delete_user_data(session, _uid(caller), key):
        raise NotFoundError(f"no data under {key!r}")
    return Response(status_code=204)


@router.get("/by-clerk-id/{clerk_id}", response_model=UserPublic, summary="A user by clerkId")
def read_user_by_clerk_id(
    caller: CurrentCaller, session: SessionDep, clerk_id: str = _CLERK_ID
) -> UserPublic:
    """The user themself or an admin. Admins also see soft-deleted users (with
    ``deletedAt``); everyone else gets 404 for them, as for unknown ids."""
    is_admin = caller.has(Role.ADMIN)
    if not is_admin and (caller.user is None or caller.user.clerk_id != clerk_id):
        raise NotFoundError("no such user")  # do not reveal who exists
    user = find_user_by_clerk_id(session, clerk_id, include_deleted=True)
    if user is None or (user.deleted_at is not None and not is_admin):
        raise NotFoundError("no such user")
    return UserPublic.of(user)

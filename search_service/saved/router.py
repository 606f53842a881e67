"""Saved searches: employers (and admins) save a search and read the alerts it raises.

Owner only: each caller sees, deletes and reads the alerts of their own saved
searches; anyone else's id is 404, for admins too. Alerts are read with
``GET .../alerts`` (unseen first, then newest) and marked seen with
``POST .../alerts/seen``; reading never marks them.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Path, Query, Response

from models import (
    SavedSearchAlertList,
    SavedSearchList,
    SavedSearchView,
    SavedSearchWrite,
    SeenResult,
    SeenWrite,
    User,
)
from search_service.deps import Caller, CurrentEmployer, RuntimeDep, SessionDep
from search_service.errors import PermissionDeniedError
from search_service.paths import DECIMAL, RowId
from search_service.saved.repository import owner_searches
from search_service.saved.service import (
    create_saved_search,
    delete_saved_search,
    list_alerts,
    mark_alerts_seen,
    owned_search,
    saved_search_views,
)

router = APIRouter(prefix="/v1/saved-searches", tags=["saved searches"])

SavedSearchId = Annotated[RowId, Path(description="The saved search's id.")]
_NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"description": "No such saved search (or not the caller's)"}
}
_NO_STORE = "private, no-store"


def _owner(caller: Caller) -> User:
    """The acting user of an employer or admin caller.

    Raises:
        PermissionDeniedError: the API key belongs to no user (403).
    """
    if caller.user is None:
        raise PermissionDeniedError("this API key belongs to no user; saved searches need an owner")
    return caller.user


@router.post(
    "",
    response_model=SavedSearchView,
    status_code=201,
    summary="Save a search to be rerun on a schedule",
    responses={
        403: {"description": "The caller is not an employer (or admin) user"},
        409: {"description": "The caller already holds the most saved searches allowed"},
    },
)
def post_saved_search(
    body: SavedSearchWrite,
    caller: CurrentEmployer,
    rt: RuntimeDep,
    session: SessionDep,
    response: Response,
) -> SavedSearchView:
    """Save a ``POST /v1/search`` body under a name. It first runs within
    ``GIGSY_SAVED_SEARCHES__POLL_S`` seconds: that run's results are the baseline;
    candidates that later runs find for the first time become alerts. It reruns
    every ``intervalS`` seconds (default ``GIGSY_SAVED_SEARCHES__INTERVAL_S``)."""
    cfg = rt.settings.saved_searches
    saved = create_saved_search(session, _owner(caller), body, max_per_owner=cfg.max_per_owner)
    response.headers["Location"] = f"/v1/saved-searches/{saved.id}"
    response.headers["Cache-Control"] = _NO_STORE
    return saved_search_views(session, [saved], default_interval_s=cfg.interval_s)[0]


@router.get("", response_model=SavedSearchList, summary="The caller's saved searches")
def list_saved_searches(
    caller: CurrentEmployer, rt: RuntimeDep, session: SessionDep, response: Response
) -> SavedSearchList:
    """The caller's saved searches, newest first, each with its schedule, last run
    and count of unseen alerts."""
    owner = _owner(caller)
    assert owner.id is not None
    searches = owner_searches(session, owner.id)
    response.headers["Cache-Control"] = _NO_STORE
    views = saved_search_views(
        session, searches, default_interval_s=rt.settings.saved_searches.interval_s
    )
    return SavedSearchList(results=views)


@router.delete(
    "/{saved_search_id}",
    status_code=204,
    summary="Delete a saved search",
    responses=_NOT_FOUND,
)
def remove_saved_search(
    saved_search_id: SavedSearchId, caller: CurrentEmployer, session: SessionDep
) -> Response:
    """Stop rerunning it and delete its alerts."""
    delete_saved_search(session, _owner(caller), saved_search_id)
    return Response(status_code=204)


@router.get(
    "/{saved_search_id}/alerts",
    response_model=SavedSearchAlertList,
    summary="Candidates new to a saved search",
    responses=_NOT_FOUND,
)
def read_saved_search_alerts(
    saved_search_id: SavedSearchId,
    caller: CurrentEmployer,
    session: SessionDep,
    response: Response,
    limit: Annotated[int, Query(ge=1, le=100, description="Alerts per page."), DECIMAL] = 20,
    offset: Annotated[int, Query(ge=0, le=100_000, description="From nextOffset."), DECIMAL] = 0,
) -> SavedSearchAlertList:
    """Unseen alerts first, then newest. Each candidate is shown as a search hit
    (employer-visible data, as it is now); a candidate who has since been deleted,
    suspended or made the matched part of their profile private is left out."""
    saved = owned_search(session, _owner(caller), saved_search_id)
    response.headers["Cache-Control"] = _NO_STORE
    return list_alerts(session, saved, limit=limit, offset=offset)


@router.post(
    "/{saved_search_id}/alerts/seen",
    response_model=SeenResult,
    summary="Mark alerts seen",
    responses=_NOT_FOUND,
)
def mark_saved_search_alerts_seen(
    saved_search_id: SavedSearchId,
    caller: CurrentEmployer,
    session: SessionDep,
    body: Annotated[SeenWrite | None, Body()] = None,
) -> SeenResult:
    """Mark the listed alerts (``alertIds``) seen, or all of this search's alerts
    when the body or ``alertIds`` is omitted. Already seen ones are not counted."""
    saved = owned_search(session, _owner(caller), saved_search_id)
    ids = body.alert_ids if body is not None else None
    return SeenResult(marked=mark_alerts_seen(session, saved, ids))

"""Search and recommendations: employer search over profiles, student search over
gigs, and the recommendations between them (every result explained). Every list
pages by ``offset`` or by ``cursor`` (``nextCursor``) and takes ``diversity``
(MMR); see ``search/paging.py``. Every list runs its work in one
:func:`~search_service.deps.in_worker` call, so each is
:func:`~search_service.deps.key_checked_in_worker`: a recently used API key
authenticates it from memory, with no hand-off before the work."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Response
from pydantic import BaseModel

from models import (
    CURSOR_DESCRIPTION,
    DIVERSITY_DESCRIPTION,
    MAX_CURSOR_LENGTH,
    CandidateResponse,
    GigSearchRequest,
    GigSearchResponse,
    Role,
    SearchMode,
    SearchRequest,
    SearchResponse,
)
from search_service.deps import (
    CurrentCaller,
    CurrentEmployer,
    CurrentGigManager,
    CurrentStudent,
    CurrentUser,
    RuntimeDep,
    SessionDep,
    gig_manager,
    in_worker,
    key_checked_in_worker,
)
from search_service.errors import NotFoundError, PermissionDeniedError
from search_service.gigs.service import owned_gig_subject, readable_gig_subject
from search_service.metrics import stage
from search_service.paths import DECIMAL, RowId
from search_service.search.gigs import search_gigs
from search_service.search.paging import ListParams
from search_service.search.recommend import (
    gig_applicants,
    gig_candidates,
    recommended_gigs,
    similar_gigs,
    similar_profiles,
)
from search_service.search.service import search_profiles

router = APIRouter(prefix="/v1", tags=["search"])

GigId = Annotated[RowId, Path(description="The gig's id.")]
Limit = Annotated[int, Query(ge=1, le=100, description="Results per page."), DECIMAL]
Offset = Annotated[
    int, Query(ge=0, le=10_000, description="Results to skip (nextOffset)."), DECIMAL
]
Mode = Annotated[SearchMode, Query(description="Retrievers: hybrid, keyword (BM25), semantic.")]
Cursor = Annotated[str | None, Query(max_length=MAX_CURSOR_LENGTH, description=CURSOR_DESCRIPTION)]
Diversity = Annotated[float, Query(ge=0.0, le=1.0, description=DIVERSITY_DESCRIPTION)]
JSON_MEDIA_TYPE = "application/json"


async def list_params(
    limit: Limit = 20, offset: Offset = 0, cursor: Cursor = None, diversity: Diversity = 0.0
) -> ListParams:
    """``limit``, ``offset``, ``cursor`` and ``diversity`` of a list route's query,
    validated as the OpenAPI schema documents them (a bad cursor is refused by the
    pager, 422)."""
    return ListParams(limit=limit, offset=offset, cursor=cursor, diversity=diversity)


Paging = Annotated[ListParams, Depends(list_params)]


def _rendered(model: BaseModel) -> Response:
    """``model`` as the JSON response body (camelCase aliases), timed as the
    ``serialise`` stage.

    Rendered once by pydantic-core (``model_dump_json``): returning the model
    would make FastAPI dump it to Python objects, validate those against the
    ``response_model`` and encode them again. The route's ``response_model``
    still documents the body in the OpenAPI schema.
    """
    with stage("serialise"):
        body = model.model_dump_json(by_alias=True)
    return Response(body, media_type=JSON_MEDIA_TYPE)


_GIG_ERRORS: dict[int | str, dict[str, Any]] = {
    403: {"description": "Not the gig's owner (or an admin)"},
    404: {"description": "No such gig (or not yours to see)"},
}


@router.post(
    "/search",
    response_model=SearchResponse,
    response_model_by_alias=True,
    summary="Rank student profiles for an employer's need",
)
@key_checked_in_worker
async def search_candidates(
    body: SearchRequest, rt: RuntimeDep, session: SessionDep, _caller: CurrentEmployer
) -> Response:
    """Hybrid (default), keyword (BM25) or semantic search with filters and explanations."""
    return _rendered(await in_worker(session, lambda: search_profiles(rt, session, body)))


@router.post(
    "/gigs/search",
    response_model=GigSearchResponse,
    summary="Search open gigs",
)
@key_checked_in_worker
async def search_open_gigs(
    body: GigSearchRequest, rt: RuntimeDep, session: SessionDep, _caller: CurrentCaller
) -> Response:
    """Hybrid (default), keyword (BM25) or semantic search over open gigs before
    their deadline, with filters (skills, location, remote, availability, pay,
    deadline) and explanations. Any signed-in caller."""
    return _rendered(await in_worker(session, lambda: search_gigs(rt, session, body)))


@router.get(
    "/me/recommended-gigs",
    response_model=GigSearchResponse,
    summary="Open gigs that fit the caller's profile",
)
@key_checked_in_worker
async def my_recommended_gigs(
    caller: CurrentStudent,
    rt: RuntimeDep,
    session: SessionDep,
    paging: Paging,
    mode: Mode = SearchMode.HYBRID,
) -> Response:
    """Open gigs ranked for the caller's employer-visible profile (private sections
    never influence it), boosted by how many of a gig's required skills the caller
    lists; each hit says which skills matched and which required ones are missing.
    Dismissed gigs never come back. Empty until the caller has a profile."""
    user = caller.user
    found = await in_worker(
        session,
        lambda: recommended_gigs(
            rt,
            session,
            user,
            limit=paging.limit,
            offset=paging.offset,
            mode=mode,
            cursor=paging.cursor,
            diversity=paging.diversity,
        ),
    )
    return _rendered(found)


@router.get(
    "/gigs/{gig_id}/candidates",
    response_model=CandidateResponse,
    summary="Students ranked for a gig",
    responses=_GIG_ERRORS,
)
@key_checked_in_worker
async def candidates_for_gig(
    gig_id: GigId,
    manager: CurrentGigManager,
    rt: RuntimeDep,
    session: SessionDep,
    paging: Paging,
    mode: Mode = SearchMode.HYBRID,
) -> Response:
    """For the gig's owner (and admins): students ranked by the gig's text and
    required skills, availability and location as boosts, same privacy rules as
    search. Rejected students drop out; the ranking moves towards the shortlist
    and away from rejections."""

    def run() -> CandidateResponse:
        subject = owned_gig_subject(session, manager, gig_id, interactions=True)
        return gig_candidates(
            rt,
            session,
            subject.gig,
            limit=paging.limit,
            offset=paging.offset,
            mode=mode,
            cursor=paging.cursor,
            diversity=paging.diversity,
            interactions=subject.interactions,
        )

    found = await in_worker(session, run)
    return _rendered(found)


@router.get(
    "/gigs/{gig_id}/applicants",
    response_model=CandidateResponse,
    summary="A gig's applicants, ranked by fit",
    responses=_GIG_ERRORS,
)
@key_checked_in_worker
async def applicants_of_gig(
    gig_id: GigId,
    manager: CurrentGigManager,
    rt: RuntimeDep,
    session: SessionDep,
    paging: Paging,
) -> Response:
    """For the gig's owner (and admins): students who applied, best fit first."""

    def run() -> CandidateResponse:
        subject = owned_gig_subject(session, manager, gig_id, interactions=True)
        return gig_applicants(
            rt,
            session,
            subject.gig,
            limit=paging.limit,
            offset=paging.offset,
            cursor=paging.cursor,
            diversity=paging.diversity,
            interactions=subject.interactions,
        )

    found = await in_worker(session, run)
    return _rendered(found)


@router.get(
    "/profiles/{user_id}/similar",
    response_model=SearchResponse,
    summary="Students like this one",
    responses={
        403: {"description": "The caller is not an employer or an admin"},
        404: {"description": "No such searchable student"},
    },
)
@key_checked_in_worker
async def similar_students(
    caller: CurrentCaller,
    rt: RuntimeDep,
    session: SessionDep,
    user_id: Annotated[RowId, Path(description="The student's user id.")],
    paging: Paging,
    mode: Mode = SearchMode.SEMANTIC,
) -> Response:
    """Employers and admins: the students nearest to this one's employer-visible
    profile (never the student themselves)."""
    if not caller.has(Role.EMPLOYER, Role.ADMIN):
        raise PermissionDeniedError("only employers see similar students")
    found = await in_worker(
        session,
        lambda: similar_profiles(
            rt,
            session,
            user_id,
            limit=paging.limit,
            offset=paging.offset,
            mode=mode,
            cursor=paging.cursor,
            diversity=paging.diversity,
        ),
    )
    if found is None:
        raise NotFoundError("no such searchable student")
    return _rendered(found)


@router.get(
    "/gigs/{gig_id}/similar",
    response_model=GigSearchResponse,
    summary="Open gigs like this one",
    responses={404: {"description": "No such gig (or not yours to see)"}},
)
@key_checked_in_worker
async def similar_open_gigs(
    gig_id: GigId,
    caller: CurrentUser,
    rt: RuntimeDep,
    session: SessionDep,
    paging: Paging,
    mode: Mode = SearchMode.SEMANTIC,
) -> Response:
    """Anyone signed in: open gigs nearest to this one (never itself, nor gigs the
    caller dismissed)."""
    manager, viewer = gig_manager(caller), caller.user_id

    def run() -> GigSearchResponse:
        subject = readable_gig_subject(session, manager, gig_id, dismissed_by=viewer)
        return similar_gigs(
            rt,
            session,
            subject.gig,
            limit=paging.limit,
            offset=paging.offset,
            mode=mode,
            viewer_id=viewer,
            cursor=paging.cursor,
            diversity=paging.diversity,
            dismissed=subject.dismissed,
        )

    found = await in_worker(session, run)
    return _rendered(found)

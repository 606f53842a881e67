"""The crash test's final checks (not a test module): the index equals SQL, SQL
holds every acknowledged request, and nothing private is findable.

Each check returns human-readable mismatches; the test expects none. They read
the index directly (bypassing the SQL re-check search does on every hit) as well
as through :func:`search_service.search.service.search_profiles`.
"""

from __future__ import annotations

from sqlmodel import Session, select

from indexers import FilterSpec, build_document
from models import (
    ProfileView,
    SearchFilters,
    SearchMode,
    SearchRequest,
    User,
    UserStatus,
    UserTombstone,
    Visibility,
)
from search_service.db import session_scope
from search_service.profiles.repository import load_profile_rows
from search_service.profiles.service import get_own_profile
from search_service.runtime import PROFILES, Runtime
from search_service.search.service import search_profiles
from tests.search_service.index.crasher_load import Student, after_last_ack

__all__ = ["verify"]


def verify(rt: Runtime, students: list[Student]) -> list[str]:
    """Every mismatch between the index, SQL and what the load was told."""
    out = index_equals_sql(rt)
    with session_scope(rt.engine) as session:
        for s in students:
            user = session.get(User, s.user_id)
            if user is None:
                out.append(f"{s.clerk_id}: the user row is gone")
                continue
            view = get_own_profile(session, user)
            out += nothing_lost(s, user, view)
            out += nothing_private_findable(rt, session, s)
            out += search_matches_sql(rt, session, s, user, view)
    return out


def index_equals_sql(rt: Runtime) -> list[str]:
    """Every searchable user with a profile has a point at its current version, built
    from its current rows; nobody else has one; SQL says fresh exactly then."""
    out: list[str] = []
    with session_scope(rt.engine) as session:
        users = list(session.exec(select(User)))
        tombstoned = set(session.exec(select(UserTombstone.clerk_id)))
        ids = [u.id for u in users if u.id is not None]
        rows = load_profile_rows(session, ids)
    points = rt.index(PROFILES).store.payloads(ids)
    if rt.index(PROFILES).store.count() != len(points):
        out.append(f"{rt.index(PROFILES).store.count() - len(points)} points of users not in SQL")
    for u in users:
        assert u.id is not None
        if u.clerk_id in tombstoned and u.deleted_at is None:
            out.append(f"user {u.id}: tombstoned but not deleted")
        r = rows.get(u.id)
        if r is None or r.profile is None or not u.is_searchable:
            if u.id in points:
                why = "deleted" if u.deleted_at is not None else u.status
                out.append(f"user {u.id} ({why}, profile: {r is not None}) still has a point")
            continue
        point = points.get(u.id)
        if point is None:
            out.append(f"user {u.id}: searchable but not indexed")
            continue
        if u.embedding_updated_at != u.visible_updated_at:
            out.append(
                f"user {u.id}: embedding_updated_at {u.embedding_updated_at} "
                f"!= visible_updated_at {u.visible_updated_at}"
            )
        if point.get("updated_at") != u.visible_updated_at:
            out.append(
                f"user {u.id}: point version {point.get('updated_at')} "
                f"!= visible_updated_at {u.visible_updated_at}"
            )
        doc = build_document(r)
        for key in ("text_hash", "skills", "languages"):
            if point.get(key) != doc.payload[key]:
                out.append(
                    f"user {u.id}: point {key} {point.get(key)!r} != SQL's {doc.payload[key]!r}"
                )
    return out


def nothing_lost(s: Student, user: User, view: ProfileView) -> list[str]:
    """SQL holds the last acknowledged edit, delete and ban state (or a later one)."""
    out: list[str] = []
    items = view.projects.items
    seq = int(items[0].title.split()[-1]) if items else 0
    allowed = after_last_ack(s.edits[0], [(e, e.acked) for e in s.edits[1:]])
    match = [e for e in allowed if e.seq == seq]
    if not match:
        out.append(
            f"{s.clerk_id}: SQL holds edit {seq}, expected one of {[e.seq for e in allowed]}"
        )
    else:
        edit = match[0]
        got = (
            view.headline,
            view.languages.visibility.value,
            tuple(i.name for i in view.languages.items),
        )
        want = (edit.headline, edit.languages_visibility, edit.languages)
        if got != want:
            out.append(f"{s.clerk_id}: edit {seq} is {got} in SQL, was sent as {want}")
    deleted = user.deleted_at is not None
    if deleted not in after_last_ack(False, [(True, d.acked) for d in s.deletes]):
        out.append(f"{s.clerk_id}: deleted={deleted} after deletes {s.deletes}")
    suspended = user.status == UserStatus.SUSPENDED.value
    if suspended not in after_last_ack(False, [(f.suspend, f.acked) for f in s.flags]):
        out.append(f"{s.clerk_id}: suspended={suspended} after Clerk deliveries {s.flags}")
    return out


def _keyword_hits(rt: Runtime, word: str) -> list[int]:
    """Point ids whose BM25 vector matches ``word``, straight from the index."""
    result = rt.index(PROFILES).store.search(
        dense=None,
        sparse=rt.index(PROFILES).bm25.encode_query(word),
        filters=FilterSpec(),
        limit=50,
        offset=0,
        candidates=100,
        fusion=rt.settings.search.fusion_spec,
    )
    return [h.id for h in result.page]


def _filtered(rt: Runtime, spec: FilterSpec) -> list[int]:
    return [h.id for h in rt.index(PROFILES).store.browse(spec, limit=50, offset=0)]


def nothing_private_findable(rt: Runtime, session: Session, s: Student) -> list[str]:
    """The secrets (private since the start, never made visible) match nothing: in the
    index itself, and through the search service (keyword, skill filter)."""
    out: list[str] = []
    for secret in (s.secret_skill, s.secret_word):
        if _keyword_hits(rt, secret):
            out.append(f"{s.clerk_id}: secret {secret!r} is in the index")
        req = SearchRequest(query=secret, mode=SearchMode.KEYWORD)
        if search_profiles(rt, session, req).results:
            out.append(f"{s.clerk_id}: secret {secret!r} is found by keyword search")
    if _filtered(rt, FilterSpec(keywords=(("skills", s.secret_skill),))):
        out.append(f"{s.clerk_id}: private skill {s.secret_skill!r} is a filter value in the index")
    req = SearchRequest(query="", filters=SearchFilters(skills=[s.secret_skill]))
    if search_profiles(rt, session, req).results:
        out.append(f"{s.clerk_id}: private skill {s.secret_skill!r} is found by the skill filter")
    return out


def search_matches_sql(
    rt: Runtime, session: Session, s: Student, user: User, view: ProfileView
) -> list[str]:
    """Every word the load ever sent for ``s`` is findable exactly when SQL shows it
    to employers now: current text is found, replaced text and hidden or removed
    languages are not."""
    out: list[str] = []
    current = set(view.headline.split())
    for w in s.headline_words:
        expected = user.is_searchable and w in current
        if (s.user_id in _keyword_hits(rt, w)) != expected:
            out.append(f"{s.clerk_id}: headline word {w!r} findable={not expected} in the index")
    shown = view.languages.visibility != Visibility.PRIVATE
    languages = {i.name for i in view.languages.items} if shown else set()
    for w in s.language_words:
        expected = user.is_searchable and w in languages
        if (s.user_id in _filtered(rt, FilterSpec(keywords=(("languages", w),)))) != expected:
            out.append(f"{s.clerk_id}: language {w!r} filterable={not expected} in the index")
    newest = view.headline.split()[-1] if view.headline else ""
    if user.is_searchable and newest:
        req = SearchRequest(query=newest, mode=SearchMode.KEYWORD)
        found = [h.user_id for h in search_profiles(rt, session, req).results]
        if s.user_id not in found:
            out.append(f"{s.clerk_id}: search does not find its headline word {newest!r}")
    return out

"""What employers may find: the one place that versions documents and enforces reductions.

Two rules live here (ARCHITECTURE.md, "Index versions"):

* **The content clock.** ``users.visible_updated_at`` moves only when the
  employer-visible document (text and filterable payload) changes; a private
  edit or a Clerk sync that changes nothing indexed leaves it, the index and the
  browse order alone. ``embedding_updated_at`` holds the value that is indexed.
* **Reductions before the answer.** A write that takes something findable away
  (:func:`indexers.reduces`: a section made private or emptied, an item removed,
  a filter value gone) or a user who stops being searchable (soft delete,
  suspension) appends an ``index.remove`` outbox event *in the writing
  transaction* and registers a post-commit hook that deletes the point at once.
  If the store is down the event stays pending and the refresh job retries it;
  meanwhile search hides every hit whose indexed version is below the user's
  ``privacy_floor`` (or whose user is not searchable), so nothing removed is
  ever served after the write commits.

Searchability changes are caught for every writer by a ``before_flush`` listener
on ``users.status`` and ``users.deleted_at``; profile content changes are
reported by the dual write (:func:`record_document`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from sqlmodel import Session

from indexers import ProfileDocument, reduces
from models import User, now_ms
from search_service.index.entity import PROFILE_ROWS
from search_service.index.removals import schedule_removal
from search_service.users.repository import (
    ProfileCard,
    get_users,
    searchable_privacy_floors,
    searchable_profile_cards,
)

__all__ = [
    "UNKNOWN",
    "record_document",
    "servable_profile_cards",
    "servable_user_ids",
    "servable_users",
    "visible_to_employers",
]

_ID_CHUNK = 900
"""Ids per ``IN (...)`` list: under SQLite's historical limit of 999 bound
parameters per statement (SQLite docs, "Limits In SQLite")."""


class _Unknown:
    """The previous document is not known (tables edited outside the write path)."""

    def __repr__(self) -> str:
        return "UNKNOWN"


UNKNOWN: Final = _Unknown()
"""Pass as ``before`` to :func:`record_document` when the old document cannot be
rebuilt: the change is then treated as a reduction."""


def record_document(
    session: Session,
    user: User,
    before: ProfileDocument | _Unknown | None,
    after: ProfileDocument,
    *,
    now: int | None = None,
) -> bool:
    """Version ``user``'s new document, inside the writing transaction.

    When the fingerprint (text and filterable payload) equals ``before``'s
    nothing moves. Otherwise ``visible_updated_at`` is bumped (strictly increasing,
    epoch ms) so the refresh job re-indexes it; when ``after`` takes something
    away from ``before`` (or ``before`` is :data:`UNKNOWN`), ``privacy_floor``
    is raised to the new version and the point is removed right after the
    commit.

    Args:
        session: the writing transaction (not committed here).
        user: the owner, flushed (has an id).
        before: the document before the write; ``None`` when there was none.
        after: the document after the write (built from the new rows).
        now: clock override (epoch ms).

    Returns:
        True when the employer-visible document changed.
    """
    if user.id is None:
        raise ValueError("user must be flushed (have an id)")
    fingerprint = after.fingerprint
    if isinstance(before, ProfileDocument) and before.fingerprint == fingerprint:
        user.index_doc_hash = fingerprint
        return False
    ts = now if now is not None else now_ms()
    user.index_doc_hash = fingerprint
    user.visible_updated_at = max(ts, (user.visible_updated_at or 0) + 1)
    if isinstance(before, _Unknown) or reduces(before, after):
        user.privacy_floor = user.visible_updated_at
        schedule_removal(session, user.id, "privacy reduction", entity=PROFILE_ROWS)
    session.add(user)
    return True


def visible_to_employers(user: User, indexed_version: int | None) -> bool:
    """True when a hit of ``user`` whose point holds ``indexed_version`` (epoch ms)
    may be served: the user is searchable and no privacy reduction happened
    after that version was built."""
    return user.is_searchable and _above_floor(user.privacy_floor, indexed_version)


def _above_floor(floor: int | None, indexed_version: int | None) -> bool:
    return floor is None or (indexed_version is not None and indexed_version >= floor)


def servable_users(session: Session, versions: Mapping[int, int | None]) -> dict[int, User]:
    """The users whose indexed points may be served to employers now, by id.

    The check every employer-facing read of the profile index goes through
    (search hydration, recommendations; :func:`servable_user_ids` for counts):
    the user exists, is searchable (not soft-deleted, not suspended), no removal
    of their point is pending (:func:`search_service.outbox.no_pending_removal`)
    and the point's version is not below their privacy floor
    (:func:`visible_to_employers`).

    Args:
        session: the unit of work.
        versions: point id (``users.id``) -> the point's payload ``updated_at``
            (epoch ms), or None when the point carries none.
    """
    ids = list(versions)
    out: dict[int, User] = {}
    for start in range(0, len(ids), _ID_CHUNK):
        users = get_users(session, ids[start : start + _ID_CHUNK], servable=True)
        out.update(
            (uid, user) for uid, user in users.items() if visible_to_employers(user, versions[uid])
        )
    return out


def servable_profile_cards(
    session: Session,
    versions: Mapping[int, int | None],
    *,
    skills: bool = False,
    skills_below: int | None = None,
) -> dict[int, ProfileCard]:
    """What search hits show of the users whose points may be served now, by id: the
    rule of :func:`servable_users` (searchable, version not below the privacy
    floor), reading only the columns a hit shows (:func:`searchable_profile_cards`,
    with the users' skills when ``skills``: positions below ``skills_below``).

    Args:
        session: the unit of work.
        versions: point id (``users.id``) -> the point's payload ``updated_at``
            (epoch ms), or None.
    """
    ids = list(versions)
    out: dict[int, ProfileCard] = {}
    for start in range(0, len(ids), _ID_CHUNK):
        cards = searchable_profile_cards(
            session, ids[start : start + _ID_CHUNK], skills=skills, skills_below=skills_below
        )
        out.update(
            (uid, c) for uid, c in cards.items() if _above_floor(c.privacy_floor, versions[uid])
        )
    return out


def servable_user_ids(session: Session, versions: Mapping[int, int | None]) -> set[int]:
    """The ids among ``versions`` whose points may be served to employers now: the
    rule of :func:`servable_users` (searchable, version not below the privacy
    floor), reading two columns instead of whole users, for facet counts and
    zero-result suggestions over many points.

    Args:
        session: the unit of work.
        versions: point id (``users.id``) -> the point's payload ``updated_at``
            (epoch ms), or None.
    """
    ids = list(versions)
    out: set[int] = set()
    for start in range(0, len(ids), _ID_CHUNK):
        floors = searchable_privacy_floors(session, ids[start : start + _ID_CHUNK])
        out.update(uid for uid, floor in floors.items() if _above_floor(floor, versions[uid]))
    return out

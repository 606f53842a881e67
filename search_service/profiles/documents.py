"""The profile entity's document loader (``IndexedEntity.loader`` of profiles)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlmodel import Session

from indexers import Document, build_document
from search_service.profiles.repository import load_profile_rows

__all__ = ["profile_documents"]


def profile_documents(session: Session, ids: Sequence[int]) -> tuple[list[Document], list[int]]:
    """The profile documents (``indexers.build_document``) of users ``ids``, in
    ``ids`` order, and the users with nothing to index: gone, without a profile,
    or not searchable (their removal event, or nothing, handles the point).

    Raises:
        SQLAlchemyError: the database failed.
    """
    rows = load_profile_rows(session, ids)
    docs: list[Document] = []
    skipped: list[int] = []
    for uid in ids:
        r = rows.get(uid)
        if r is None or r.profile is None or not r.user.is_searchable:
            skipped.append(uid)
        else:
            docs.append(build_document(r))
    return docs, skipped

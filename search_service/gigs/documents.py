"""The gig entity's document loader (``IndexedEntity.loader`` of gigs)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlmodel import Session

from indexers import Document, build_gig_document
from models import now_ms
from search_service.gigs.repository import load_gigs_with_owners

__all__ = ["gig_documents"]


def gig_documents(
    session: Session, ids: Sequence[int], *, now: int | None = None
) -> tuple[list[Document], list[int]]:
    """The gig documents (``indexers.build_gig_document``) of gigs ``ids``, in
    ``ids`` order, and the gigs with nothing to index: gone, not live at ``now``
    (epoch ms, default now: closed, deleted, past the deadline) or of an owner
    who is not searchable.

    Raises:
        SQLAlchemyError: the database failed.
    """
    rows = load_gigs_with_owners(session, ids)
    ts = now if now is not None else now_ms()
    docs: list[Document] = []
    skipped: list[int] = []
    for gid in ids:
        found = rows.get(gid)
        if found is None or not found[0].is_live(ts) or not found[1].is_searchable:
            skipped.append(gid)
        else:
            docs.append(build_gig_document(found[0]))
    return docs, skipped

"""Turning a gig row into the text that is embedded and the payload that is filtered.

A gig's document is its title, description and skills; the payload carries what
students filter on (skills, location, remote, availability, pay, deadline). Only
``open`` gigs are indexed (the service decides which rows; this module only
builds documents).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from indexers.documents import location_terms, normalise_keyword, text_hash
from indexers.store import BROWSE_ORDER_FIELD, CollectionSchema
from models import Gig

__all__ = [
    "GIG_FILTER_FIELDS",
    "GIG_SCHEMA",
    "NO_DEADLINE",
    "GigDocument",
    "build_gig_document",
]

GIG_FILTER_FIELDS: tuple[str, ...] = (
    "skills",
    "required_skills",
    "location_terms",
    "workplace",
    "availability",
    "pay_currency",
    "pay_unit",
)
"""Keyword payload fields of a gig (``workplace`` is ``"remote"`` or ``"onsite"``)."""

NO_DEADLINE = 2**53 - 1
"""Payload ``deadline`` of a gig without one (epoch ms): later than any bound, and
the largest integer a JSON number holds exactly (RFC 8259, section 6)."""

GIG_SCHEMA = CollectionSchema(
    keyword_fields=GIG_FILTER_FIELDS,
    integer_fields=(BROWSE_ORDER_FIELD, "pay_minor", "deadline", "owner_id"),
)
"""Payload indexes of the gig collection: keyword fields, and integer ones for the
version (``updated_at``), pay (minor units), deadline (epoch ms) and owner."""

_CLOCK_FIELDS = frozenset({"updated_at", "text_hash"})


@dataclass(frozen=True, slots=True)
class GigDocument:
    """What gets indexed for one gig.

    Attributes:
        id: point id (``gigs.id``).
        text: the document embedded (dense) and BM25-encoded.
        payload: filterable fields plus ``text_hash`` and ``updated_at`` (the
            version below, epoch ms).
        version: the ``gigs.visible_updated_at`` (epoch ms) it was built from.
        title: the gig's title, weighted apart in the dense vector
            (:func:`indexers.embed_documents`); it is also the text's first line.
    """

    id: int
    text: str
    payload: dict[str, Any]
    version: int
    title: str = ""

    @property
    def fingerprint(self) -> str:
        """sha256 (64 hex digits) of the text and filterable payload, clocks excluded."""
        stable = {k: v for k, v in sorted(self.payload.items()) if k not in _CLOCK_FIELDS}
        blob = repr((self.text, sorted(stable.items())))
        return hashlib.sha256(blob.encode("utf-8")).hexdigest()


def build_gig_document(gig: Gig) -> GigDocument:
    """Build the indexed document of one gig (skills are already canonical, as the
    write path stores them).

    Raises:
        ValueError: the gig has no id yet (not flushed).
    """
    if gig.id is None:
        raise ValueError("gig must be flushed (have an id) before indexing")
    required = list(dict.fromkeys(normalise_keyword(s) for s in gig.required_skills if s))
    nice = [s for s in dict.fromkeys(normalise_keyword(s) for s in gig.nice_skills if s)]
    nice = [s for s in nice if s not in required]
    parts = [gig.title.strip()]
    if required:
        parts.append("Required skills: " + ", ".join(required))
    if nice:
        parts.append("Nice to have: " + ", ".join(nice))
    where = "Remote" if gig.remote else ""
    if gig.location:
        where = f"{where}, {gig.location}" if where else gig.location
    if where:
        parts.append(f"Location: {where}")
    if gig.description.strip():
        parts.append(gig.description.strip())
    text = "\n".join(p for p in parts if p)
    version = gig.visible_updated_at or 0
    payload: dict[str, Any] = {
        "skills": required + nice,
        "required_skills": required,
        "location_terms": location_terms(gig.location),
        "workplace": "remote" if gig.remote else "onsite",
        "availability": gig.availability,
        "pay_minor": gig.pay_amount,
        "pay_currency": gig.pay_currency,
        "pay_unit": gig.pay_unit,
        "deadline": gig.deadline if gig.deadline is not None else NO_DEADLINE,
        "owner_id": gig.owner_id,
        "updated_at": version,
        "text_hash": text_hash(text),
    }
    return GigDocument(
        id=gig.id, text=text, payload=payload, version=version, title=gig.title.strip()
    )

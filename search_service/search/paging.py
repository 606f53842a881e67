"""Paging of every ranked list: ``offset``, or an opaque signed ``cursor``.

One mechanism for employer search, gig search and every recommendation list.
A list supplies a *ranker*, ``rank(depth, pool) -> hits best first``: its
ranking over a candidate pool of ``pool`` hits per retriever, at least ``depth``
hits long when there are that many. :class:`Pager` picks the pool, ranks it
whole (equal scores ordered by id, so every page sees one order), cuts the page
(optionally re-ranked by MMR, ``search/mmr.py``) and issues the next cursor.

Pool depth follows the page: ``search.candidates`` (default 100) doubled until
it covers the deepest result the page needs, capped at ``search.max_depth``
(default 500) for cursor paging. Pages within one pool size are slices of one
ranking; a deeper page may run on a bigger pool, whose order of the tail can
differ slightly (RRF and DBSF scores depend on how deep each retriever looked).

Cursor: base64url of ``version (1 byte) | request digest (16) | tags (4 each) |
HMAC-SHA256 (16)``. The request digest is SHA-256 of the list's normalised
request (list name, subject, query, filters, mode, diversity; not ``limit``),
so a cursor of another query, filter set, mode, diversity or list is refused.
Each tag is a keyed BLAKE2b digest of one point id already served (every hit of
the earlier pages, including hits hydration then hid), so the cursor names no
id in the clear. The next page is the ranking minus the served points: when the
index is unchanged the pages concatenate to one long request's results; when it
changes between pages (a profile edited, added or removed), nothing served is
served again. The HMAC key is ``search.cursor_secret`` (a random per-process key
when unset). The deepest result a cursor reaches is ``search.max_depth``: the
page that gets there has no ``nextCursor``, and a cursor already there gets an
empty page.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from indexers import Hit, VectorStore
from search_service.errors import InvalidRequestError
from search_service.search.mmr import mmr_select
from search_service.settings import SearchSettings

__all__ = [
    "CURSOR_VERSION",
    "ListParams",
    "Pager",
    "Ranker",
    "cursor_key",
    "pool_size",
]

CURSOR_VERSION = 1
"""First byte of every cursor; a cursor of another version is refused."""
_DIGEST = 16
_TAG = 4
_MAC = 16
_PROCESS_KEY = secrets.token_bytes(32)

Ranker = Callable[[int, int], list[Hit]]
"""``rank(depth, pool)``: a list's ranking, best first, over ``pool`` candidates per
retriever; at least ``depth`` hits long unless fewer exist."""


@dataclass(frozen=True, slots=True)
class ListParams:
    """The paging arguments of every ranked list.

    Attributes:
        limit: results per page (1..100).
        offset: results to skip (offset paging); 0 with a cursor.
        cursor: the previous page's ``nextCursor``.
        diversity: MMR diversity, 0..1 (0 = off).
    """

    limit: int = 20
    offset: int = 0
    cursor: str | None = None
    diversity: float = 0.0


def cursor_key(settings: SearchSettings) -> bytes:
    """The HMAC key of cursors: ``search.cursor_secret``, else this process's random key."""
    if settings.cursor_secret is None:
        return _PROCESS_KEY
    return settings.cursor_secret.get_secret_value().encode()


def pool_size(depth: int, candidates: int, cap: int) -> int:
    """Candidates per retriever for a page reaching ``depth`` results:
    ``candidates`` doubled until it is at least ``depth``, but no more than
    ``max(cap, depth)``. Doubling keeps consecutive pages on one pool."""
    size = candidates
    while size < depth:
        size *= 2
    return min(size, max(cap, depth))


def _digest(binding: Mapping[str, object]) -> bytes:
    canonical = json.dumps(binding, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).digest()[:_DIGEST]


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


@dataclass(slots=True)
class Pager:
    """One page of one ranked list.

    Build it with :meth:`open` before any work (a bad cursor fails fast), cut the
    page with :meth:`page`, then read :attr:`next_offset` and :meth:`next_cursor`.
    """

    settings: SearchSettings
    limit: int
    offset: int
    diversity: float
    _key: bytes
    _digest: bytes
    _tag_key: bytes = b""
    _served: list[bytes] = field(default_factory=list)
    _cursor_mode: bool = True
    _page: list[Hit] = field(default_factory=list)
    _more: bool = False
    _reached: int = 0
    _order: list[Hit] = field(default_factory=list)
    _vectors: dict[int, Any] = field(default_factory=dict)
    _picked: list[int] = field(default_factory=list)
    _rest: int = 0
    _pool_more: bool = False

    @classmethod
    def open(
        cls,
        settings: SearchSettings,
        binding: Mapping[str, object],
        *,
        limit: int,
        offset: int = 0,
        cursor: str | None = None,
        diversity: float = 0.0,
    ) -> Pager:
        """Check the paging arguments of a request to the list ``binding`` names.

        Args:
            settings: the ``search`` settings (pool sizes, depth, cursor key).
            binding: the normalised request, JSON-serialisable: the list's name,
                its subject (a gig, a user), query, filters, mode and diversity.
            limit: results per page (1..100).
            offset: results to skip (offset paging); must be 0 with a cursor.
            cursor: the previous page's ``nextCursor``.
            diversity: MMR diversity, 0..1 (0 = off).

        Raises:
            InvalidRequestError: a cursor together with ``offset > 0``; a cursor
                that is garbled, tampered with, signed with another key, or
                issued for another request.
        """
        pager = cls(
            settings=settings,
            limit=limit,
            offset=offset,
            diversity=diversity,
            _key=cursor_key(settings),
            _digest=_digest(binding),
            _cursor_mode=offset == 0,
        )
        pager._tag_key = hashlib.sha256(b"tag" + pager._key).digest()
        if cursor is not None:
            if offset > 0:
                raise InvalidRequestError("give either cursor or offset, not both")
            pager._served = pager._decode(cursor)
        return pager

    def _tag(self, point_id: int) -> bytes:
        return hashlib.blake2b(
            self._digest + point_id.to_bytes(8, "big", signed=True),
            key=self._tag_key,
            digest_size=_TAG,
        ).digest()

    def _decode(self, cursor: str) -> list[bytes]:
        garbled = InvalidRequestError(
            "cursor is not valid: pass nextCursor back unchanged, from a response of this service"
        )
        try:
            raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        except (binascii.Error, ValueError):
            raise garbled from None
        head, body_len = 1 + _DIGEST, len(raw) - 1 - _DIGEST - _MAC
        if body_len < 0 or body_len % _TAG or raw[0] != CURSOR_VERSION:
            raise garbled
        body, mac = raw[:-_MAC], raw[-_MAC:]
        expected = hmac.new(self._key, body, hashlib.sha256).digest()[:_MAC]
        if not hmac.compare_digest(mac, expected):
            raise garbled
        if raw[1:head] != self._digest:
            raise InvalidRequestError(
                "cursor belongs to another request: keep the list, query, filters, mode "
                "and diversity of the first page while paging"
            )
        return [body[i : i + _TAG] for i in range(head, len(body), _TAG)]

    def page(self, rank: Ranker, store: VectorStore) -> list[Hit]:
        """Rank and cut this page; ``store`` gives the dense vectors MMR compares.

        Raises:
            EncoderError, VectorStoreError: as ``rank`` or the store raise them.
        """
        cfg = self.settings
        if self._cursor_mode:
            start = len(self._served)
            room = max(0, min(self.limit, cfg.max_depth - start))
            cap = cfg.max_depth
        else:
            start, room = self.offset, self.limit
            cap = max(cfg.max_depth, start + room)
        if room == 0:
            self._page, self._more, self._reached = [], False, start
            return []
        needed = start + room
        pool = pool_size(needed, cfg.candidates, cap)
        served = set(self._served)
        # The whole pool, ties broken by id: stores order equal scores (RRF gives
        # many) arbitrarily, and differently for different limits.
        order = sorted(rank(pool, pool), key=lambda h: (-h.score, h.id))
        self._order = order
        if self.diversity > 0:
            vectors = store.dense_vectors([h.id for h in order]) if order else {}
            self._vectors = vectors
            if self._cursor_mode:
                done = [h.id for h in order if served and self._tag(h.id) in served]
                hits = mmr_select(
                    order, vectors, diversity=self.diversity, count=room, selected=done
                )
                rest = len(order) - len(done) - len(hits)
                self._picked = done + [h.id for h in hits]
            else:
                picks = mmr_select(order, vectors, diversity=self.diversity, count=needed)
                hits, rest = picks[start:], len(order) - len(picks)
                self._picked = [h.id for h in picks]
        else:
            if self._cursor_mode:
                # A first page has served nothing: no point's tag is needed.
                seen = {h.id for h in order if self._tag(h.id) in served} if served else set()
                remaining = [h for h in order if h.id not in seen]
                self._picked = [h.id for h in order if h.id in seen]
            else:
                remaining = order[start:]
                self._picked = [h.id for h in order[:start]]
            hits, rest = remaining[:room], len(remaining) - room
            self._picked += [h.id for h in hits]
        self._page = hits
        self._rest = max(rest, 0)
        self._pool_more = len(order) >= pool and pool < cap
        self._settle(start)
        return hits

    def _settle(self, start: int) -> None:
        self._reached = start + len(self._page)
        self._more = self._rest > 0 or self._pool_more
        if self._cursor_mode and self._reached >= self.settings.max_depth:
            self._more = False

    def refill(self, count: int) -> list[Hit]:
        """The next ``count`` hits of the ranked pool after this page (fewer when the
        pool runs out), added to the page: for a page whose hits hydration hid (a
        user who left search or reduced their visibility, a pending removal), so
        the page stays full. They count as served like the rest of the page (the
        cursor skips them, ``next_offset`` moves past them). Pages deeper than
        ``search.max_depth`` by cursor are not refilled. Call after :meth:`page`.
        """
        start = self._reached - len(self._page)
        if count <= 0 or self._rest <= 0:
            return []
        if self._cursor_mode:
            count = min(count, self.settings.max_depth - self._reached)
            if count <= 0:
                return []
        if self.diversity > 0:
            more = mmr_select(
                self._order,
                self._vectors,
                diversity=self.diversity,
                count=count,
                selected=self._picked,
            )
        else:
            taken = set(self._picked)
            more = [h for h in self._order if h.id not in taken][:count]
        self._picked += [h.id for h in more]
        self._page = self._page + more
        self._rest -= len(more)
        self._settle(start)
        return more

    @property
    def next_offset(self) -> int | None:
        """Offset of the next page (how many results the pages so far hold), or
        ``None`` on the last page."""
        return self._reached if self._more else None

    def next_cursor(self) -> str | None:
        """The next page's cursor, or ``None`` on the last page (and for a page
        asked for by ``offset > 0``: cursor paging starts at the first page)."""
        if not (self._cursor_mode and self._more):
            return None
        tags = sorted([*self._served, *(self._tag(h.id) for h in self._page)])
        body = bytes([CURSOR_VERSION]) + self._digest + b"".join(tags)
        mac = hmac.new(self._key, body, hashlib.sha256).digest()[:_MAC]
        return _b64(body + mac)

"""The crash test's students, load and bookkeeping (not a test module).

``tests/search_service/index/test_crasher.py`` streams this load at a ``serve`` child
process from a few threads and kills the server with SIGKILL at a random moment,
again and again; ``tests/search_service/index/crasher_checks.py`` then compares the
index with SQL and SQL with every acknowledged request.

What makes the bookkeeping exact:

* each student belongs to one client thread, so their requests are sequential
  and at most one of them is unanswered when the server dies;
* every profile write sends the whole state the load varies (the headline, the
  ``languages`` section, and a *private* ``projects`` item naming the write's
  sequence number), so the state SQL ends with names the write it came from;
* a request is *acknowledged* when the server answered 2xx (a Clerk delivery:
  2xx with outcome ``applied``). The final state must be the one of the last
  acknowledged request, or of a later one that was in flight at a kill.

Secrets (a skill and a work-experience word) sit in sections that are private
from the start and that the load never touches: they must never be findable.
"""

from __future__ import annotations

import json
import random
import secrets
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

import httpx
from svix.webhooks import Webhook

from models import Visibility
from search_service.db import session_scope
from search_service.refresh.freshness import refresh_stale
from search_service.runtime import Runtime
from search_service.users.api_keys import create_api_key
from tests.factories import make_student

__all__ = [
    "Delete",
    "Edit",
    "Flag",
    "LoadClient",
    "Student",
    "Tally",
    "after_last_ack",
    "prepare",
    "word",
]

MERGE = {"Content-Type": "application/merge-patch+json"}
CLERK_VERSION_BASE = 1_700_000_000_000
"""First Clerk ``data.updated_at`` sent (epoch ms); every delivery sends a larger one."""
MAX_LANGUAGES = 4
API_DELETES = 4
WEBHOOK_DELETES = 2
KILLS_PER_DELETE = 4
"""A delete of each kind becomes available every this many kills (spread over the run)."""

T = TypeVar("T")


def word(prefix: str, n: int) -> str:
    """The ``n``-th unique word of ``prefix``: letters only, at least three after the
    prefix, ending in ``x`` so that no stemming rule changes it."""
    n += 26 * 26
    letters = ""
    while n:
        n, r = divmod(n, 26)
        letters = chr(97 + r) + letters
    return f"{prefix}{letters}x"


@dataclass
class Edit:
    """One profile write as sent (``seq`` 0 is the prepared profile)."""

    seq: int
    headline: str
    languages_visibility: str
    languages: tuple[str, ...]
    acked: bool = False

    def body(self) -> dict[str, Any]:
        """The merge patch: every part the load varies, so the result names this write."""
        return {
            "headline": self.headline,
            "languages": {
                "visibility": self.languages_visibility,
                "items": [{"name": name} for name in self.languages],
            },
            "projects": {"visibility": "private", "items": [{"title": f"edit {self.seq}"}]},
        }


@dataclass
class Flag:
    """A signed Clerk ``user.updated`` delivery: ``banned`` true (suspend) or false."""

    suspend: bool
    acked: bool = False


@dataclass
class Delete:
    """``DELETE /v1/me`` (``how`` = ``api``) or a Clerk ``user.deleted`` (``webhook``)."""

    how: str
    acked: bool = False


@dataclass
class Student:
    """A prepared student and everything the load sent as them (one thread's own)."""

    clerk_id: str
    user_id: int
    key: str
    secret_skill: str
    secret_word: str
    edits: list[Edit]
    flags: list[Flag] = field(default_factory=list)
    deletes: list[Delete] = field(default_factory=list)
    headline_words: list[str] = field(default_factory=list)
    language_words: list[str] = field(default_factory=list)
    maybe_suspended: bool = False

    @property
    def auth(self) -> dict[str, str]:
        """The student's ``Authorization`` header."""
        return {"Authorization": f"Bearer {self.key}"}


def after_last_ack(initial: T, attempts: Sequence[tuple[T, bool]]) -> list[T]:
    """The values a final state may hold after sequential ``(value, acknowledged)``
    attempts: the last acknowledged one's (``initial`` when none was) or any later
    attempt's (unanswered, it may have committed before the kill)."""
    last = max((i for i, (_, acked) in enumerate(attempts) if acked), default=-1)
    first = initial if last < 0 else attempts[last][0]
    return [first] + [value for value, _ in attempts[last + 1 :]]


@dataclass
class Tally:
    """Counters shared by the client threads, and problems seen during the load."""

    kills: int = 0
    requests: int = 0
    acked_edits: int = 0
    acked_deletes: int = 0
    webhooks: int = 0
    searches: int = 0
    problems: list[str] = field(default_factory=list)
    _words: int = 0
    _clerk_version: int = CLERK_VERSION_BASE
    _deletes: dict[str, int] = field(default_factory=lambda: {"api": 0, "webhook": 0})
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def next_word(self, prefix: str) -> str:
        """A word never used before in this run."""
        with self._lock:
            self._words += 1
            return word(prefix, self._words)

    def next_clerk_version(self) -> int:
        """A Clerk ``updated_at`` larger than every one sent before (epoch ms)."""
        with self._lock:
            self._clerk_version += 1
            return self._clerk_version

    def take_delete(self, how: str) -> bool:
        """Whether a delete of kind ``how`` may be sent now (capped, spread over kills)."""
        cap = API_DELETES if how == "api" else WEBHOOK_DELETES
        with self._lock:
            allowed = min(cap, 1 + self.kills // KILLS_PER_DELETE)
            if self._deletes[how] >= allowed:
                return False
            self._deletes[how] += 1
            return True

    def count(self, name: str, n: int = 1) -> None:
        """Add ``n`` to the counter ``name``."""
        with self._lock:
            setattr(self, name, getattr(self, name) + n)

    def problem(self, message: str) -> None:
        """Record something the service must never do (checked by the test)."""
        with self._lock:
            self.problems.append(message)


def prepare(rt: Runtime, count: int) -> tuple[list[Student], str]:
    """Create ``count`` students (unique headline word, private secrets, a student
    key each) and an employer key, and index them. Returns (students, employer key)."""
    students: list[Student] = []
    for i in range(count):
        clerk_id = f"user_crash{i:02d}"
        headline, language = word("hq", 100_000 + i), word("lq", 100_000 + i)
        skill, secret = word("sq", i), word("wq", i)
        user = make_student(
            rt,
            clerk_id=clerk_id,
            headline=headline,
            skills=(skill,),
            languages=(language,),
            work=(("Internship", f"worked on {secret}"),),
            visibility={"skills": Visibility.PRIVATE, "work_experience": Visibility.PRIVATE},
        )
        assert user.id is not None
        with session_scope(rt.engine) as session:
            _, key = create_api_key(session, role="student", user_id=user.id)
        first = Edit(0, headline, Visibility.EMPLOYERS.value, (language,), acked=True)
        students.append(
            Student(
                clerk_id=clerk_id,
                user_id=user.id,
                key=key,
                secret_skill=skill,
                secret_word=secret,
                edits=[first],
                headline_words=[headline],
                language_words=[language],
            )
        )
    with session_scope(rt.engine) as session:
        _, employer_key = create_api_key(session, role="employer")
    refresh_stale(rt)
    return students, employer_key


class LoadClient:
    """One client thread's load on its own students until stopped or disconnected."""

    def __init__(
        self, base_url: str, webhook_secret: str, employer_key: str, tally: Tally, seed: int
    ) -> None:
        self.base_url = base_url
        self.signer = Webhook(webhook_secret)
        self.employer = {"Authorization": f"Bearer {employer_key}"}
        self.tally = tally
        self.rng = random.Random(seed)

    def run(self, students: Sequence[Student], stop: threading.Event) -> None:
        """Send requests until ``stop`` is set or the server goes away (a transport
        error: the request in flight stays unacknowledged)."""
        with httpx.Client(base_url=self.base_url, timeout=10.0) as http:
            while not stop.is_set():
                live = [s for s in students if not s.deletes]
                if not live:
                    return
                try:
                    self._step(http, self.rng.choice(live))
                except httpx.TransportError:
                    return

    def _step(self, http: httpx.Client, s: Student) -> None:
        self.tally.count("requests")
        if s.maybe_suspended:
            self._flag(http, s, suspend=False)
            return
        r = self.rng.random()
        if r < 0.10:
            self._search_secret(http, s)
        elif r < 0.15:
            self._flag(http, s, suspend=True)
        elif r < 0.17 and self.tally.take_delete("api"):
            self._delete(http, s, "api")
        elif r < 0.19 and self.tally.take_delete("webhook"):
            self._delete(http, s, "webhook")
        else:
            self._edit(http, s)

    def _edit(self, http: httpx.Client, s: Student) -> None:
        prev = s.edits[-1]
        headline, visibility, languages = prev.headline, prev.languages_visibility, prev.languages
        r = self.rng.random()
        if r < 0.6:  # a new public word: added to the headline, or replacing it
            new = self.tally.next_word("hq")
            s.headline_words.append(new)
            added = f"{headline} {new}"
            headline = added if self.rng.random() < 0.5 and len(added) < 250 else new
        if r >= 0.3:  # the languages section: grown, emptied, made private or visible
            kind = self.rng.choice(["add", "add", "empty", "private", "employers", "public"])
            if kind == "add":
                new = self.tally.next_word("lq")
                s.language_words.append(new)
                languages = (languages + (new,))[-MAX_LANGUAGES:]
            elif kind == "empty":
                languages = ()
            else:
                visibility = kind
        edit = Edit(len(s.edits), headline, visibility, languages)
        s.edits.append(edit)
        r2 = http.patch("/v1/me/profile", json=edit.body(), headers={**s.auth, **MERGE})
        if r2.is_success:
            edit.acked = True
            self.tally.count("acked_edits")
            if r2.json().get("headline") != headline:
                self.tally.problem(f"{s.clerk_id}: edit {edit.seq} answered another headline")
        elif r2.status_code < 500:
            self.tally.problem(f"{s.clerk_id}: edit {edit.seq} refused: {r2.status_code} {r2.text}")

    def _deliver(self, event: dict[str, Any]) -> tuple[str, str, dict[str, str]]:
        body = json.dumps(event)
        msg_id = f"msg_{secrets.token_hex(8)}"
        at = datetime.now(tz=UTC)
        headers = {
            "svix-id": msg_id,
            "svix-timestamp": str(int(at.timestamp())),
            "svix-signature": self.signer.sign(msg_id, at, body),
            "content-type": "application/json",
        }
        return msg_id, body, headers

    def _applied(self, s: Student, what: str, response: httpx.Response) -> bool:
        if not response.is_success:
            if response.status_code < 500:
                self.tally.problem(f"{s.clerk_id}: {what} refused: {response.status_code}")
            return False
        self.tally.count("webhooks")
        outcome = response.json().get("outcome")
        if outcome != "applied":
            self.tally.problem(f"{s.clerk_id}: {what} answered outcome {outcome!r}")
            return False
        return True

    def _flag(self, http: httpx.Client, s: Student, *, suspend: bool) -> None:
        version = self.tally.next_clerk_version()
        event = {
            "type": "user.updated",
            "object": "event",
            "timestamp": version,
            "data": {
                "id": s.clerk_id,
                "object": "user",
                "email_addresses": [{"id": "idn_1", "email_address": f"{s.clerk_id}@example.test"}],
                "primary_email_address_id": "idn_1",
                "first_name": "Test",
                "last_name": "Student",
                "external_id": f"ext-{s.clerk_id}",
                "updated_at": version,
                "banned": suspend,
                "locked": False,
            },
        }
        flag = Flag(suspend)
        s.flags.append(flag)
        if suspend:
            s.maybe_suspended = True
        _, body, headers = self._deliver(event)
        r = http.post("/webhooks/clerk", content=body, headers=headers)
        if self._applied(s, "ban" if suspend else "unban", r):
            flag.acked = True
            if not suspend:
                s.maybe_suspended = False

    def _delete(self, http: httpx.Client, s: Student, how: str) -> None:
        delete = Delete(how)
        s.deletes.append(delete)
        if how == "api":
            r = http.delete("/v1/me", headers=s.auth)
            if r.status_code == 204:
                delete.acked = True
            elif r.status_code < 500:
                self.tally.problem(f"{s.clerk_id}: DELETE /v1/me refused: {r.status_code}")
        else:
            event = {
                "type": "user.deleted",
                "object": "event",
                "timestamp": self.tally.next_clerk_version(),
                "data": {"deleted": True, "id": s.clerk_id, "object": "user"},
            }
            _, body, headers = self._deliver(event)
            r = http.post("/webhooks/clerk", content=body, headers=headers)
            delete.acked = self._applied(s, "user.deleted", r)
        if delete.acked:
            self.tally.count("acked_deletes")

    def _search_secret(self, http: httpx.Client, s: Student) -> None:
        """An employer looks for a secret: no answer may ever contain a hit."""
        query: dict[str, Any]
        if self.rng.random() < 0.5:
            query = {"query": s.secret_word, "mode": "keyword"}
        else:
            query = {"query": "", "filters": {"skills": [s.secret_skill]}}
        r = http.post("/v1/search", json=query, headers=self.employer)
        self.tally.count("searches")
        if r.is_success and r.json()["results"]:
            self.tally.problem(f"{s.clerk_id}: a private secret was found: {query}")
        elif not r.is_success and r.status_code < 500:
            self.tally.problem(f"search refused: {r.status_code} {r.text}")

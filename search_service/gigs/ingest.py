"""Importing gigs in bulk: real job postings (``gigsy-search ingest-jobs``) and demo gigs.

Every imported gig has a source key (``gigs.external_id``: ``linkedin:<job_id>`` for
the LinkedIn CSV) and an owner: one employer account per company, found again by its
``clerk_id`` on every run (``search_service.gigs.jobs_csv.employer_clerk_id`` folds
spellings of one company together). Gigs are written through
:func:`search_service.gigs.service.create_gig` and
:func:`~search_service.gigs.service.update_gig`, so the document clock, the outbox
event and the removal listener work as for gigs posted through the API.

Re-running an import updates, never duplicates:

* a new source key creates an ``open`` gig;
* a known one is updated when the import's fields differ, and counted unchanged
  otherwise (no new version). An update never changes the gig's status, and its
  deadline only when the import gives one: a draft stays a draft, an expired gig
  stays expired;
* a gig its owner closed, marked filled or deleted is left exactly as it is
  (counted in ``kept_closed``): an import never reopens or resurrects it;
* the postings of a company whose employer account is suspended, soft-deleted or
  tombstoned (deleted, maybe purged since) are skipped and counted in
  ``employer_gone``; no account is recreated for it.

One unit of work per batch (100 postings by default): a failing batch rolls back
alone, earlier ones stay committed, and a re-run picks up where it stopped.
Indexing is separate: every write marks its gig stale, so the refresh job (or
``gigsy-search ingest-jobs``, right after the import) embeds only what changed.
Students see, and the index holds, only open gigs before their deadline whose
employer is in good standing; :func:`unserved_reasons` says why an imported gig is not.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import ValidationError
from sqlmodel import Session
from tqdm import tqdm

from indexers.taxonomy import normalise_skills
from models import (
    MAX_DESCRIPTION_LENGTH,
    Gig,
    GigPay,
    GigStatus,
    GigWrite,
    PayUnit,
    Role,
    User,
    UserStatus,
    now_ms,
)
from models.gig import MAX_GIG_SKILLS
from search_service.gigs.jobs_csv import (
    JobPosting,
    JobsReadReport,
    employer_clerk_id,
    read_jobs,
)
from search_service.gigs.repository import (
    gig_by_external_id,
    gigs_by_external_ids,
    load_gigs_with_owners,
    users_by_clerk_ids,
)
from search_service.gigs.service import create_gig, gig_view, update_gig
from search_service.runtime import Runtime
from search_service.users.repository import erased_clerk_ids

__all__ = [
    "LINKEDIN_PREFIX",
    "Employer",
    "GigImport",
    "GigImportReport",
    "import_gigs",
    "ingest_jobs",
    "posting_gig",
    "unserved_reasons",
    "upsert_gig",
]

log = logging.getLogger(__name__)

LINKEDIN_PREFIX = "linkedin:"
"""``external_id`` prefix of gigs imported from the LinkedIn job CSV."""
_MAX_TITLE = 200  # models.Gig.title is VARCHAR(200)
_CLOSED = frozenset({GigStatus.CLOSED.value, GigStatus.FILLED.value})


@dataclass(frozen=True, slots=True)
class Employer:
    """The account owning a company's imported gigs: ``clerk_id`` is its stable key,
    ``name`` the company as first written; ``created_by`` and ``tags`` are set only
    when the account is created."""

    clerk_id: str
    name: str
    created_by: str = "import"
    tags: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class GigImport:
    """One gig to import: its source key, its owner and its fields (``body.status`` is
    used only when the gig is created)."""

    external_id: str
    employer: Employer
    body: GigWrite


@dataclass(slots=True)
class GigImportReport:
    """What one import did, in gigs (postings) unless named otherwise.

    ``rows`` data rows read from the source, of which ``duplicate_rows`` repeated an
    earlier source key and ``empty_rows`` had no id, title or description (those never
    become postings); ``postings`` postings to import. Of the postings: ``created``,
    ``updated``, ``unchanged``; ``kept_closed`` (the gig was closed, filled or deleted
    by its owner: left as is), ``employer_gone`` (the company's account is suspended
    or deleted) and ``invalid`` (no usable company name, or fields a gig cannot hold).
    ``employers_created``: employer accounts created (one per new company);
    ``refused_employers``: clerk ids of the suspended or deleted ones met;
    ``external_ids``: source keys of the postings created, updated or unchanged.
    """

    rows: int = 0
    duplicate_rows: int = 0
    empty_rows: int = 0
    postings: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    kept_closed: int = 0
    employer_gone: int = 0
    invalid: int = 0
    employers_created: int = 0
    refused_employers: list[str] = field(default_factory=list)
    external_ids: list[str] = field(default_factory=list)

    @property
    def skipped(self) -> int:
        """Postings not written: kept closed, of a gone employer, or invalid."""
        return self.kept_closed + self.employer_gone + self.invalid


def _normalised(body: GigWrite) -> GigWrite:
    """``body`` as :func:`~search_service.gigs.service.create_gig` would store it
    (title and location trimmed, skills canonical, nice-to-have minus required), so
    it compares equal to the stored gig's fields when nothing changed."""
    required = normalise_skills(body.required_skills)
    location = body.location.strip() if body.location and body.location.strip() else None
    return body.model_copy(
        update={
            "title": body.title.strip(),
            "required_skills": required,
            "nice_skills": [s for s in normalise_skills(body.nice_skills) if s not in required],
            "location": location,
        }
    )


def _stored(gig: Gig) -> GigWrite:
    view = gig_view(gig, "")
    return GigWrite.model_validate(view.model_dump(include=set(GigWrite.model_fields)))


def upsert_gig(
    session: Session,
    rt: Runtime | None,
    owner: User,
    external_id: str,
    body: GigWrite,
    *,
    now: int | None = None,
    existing: Gig | None = None,
) -> str:
    """Create or update the gig imported under ``external_id`` (rules in the module
    docstring).

    Args:
        existing: the gig stored under ``external_id`` when the caller already
            loaded it (``None``: looked up here).

    Returns:
        The outcome: ``"created"``, ``"updated"``, ``"unchanged"`` or
        ``"kept_closed"`` (closed, filled or deleted by its owner: not touched).

    Raises:
        ServiceError: 422 for an open gig whose new deadline has passed.
    """
    ts = now if now is not None else now_ms()
    gig = existing if existing is not None else gig_by_external_id(session, external_id)
    if gig is None:
        create_gig(session, rt, owner, body, external_id=external_id, now=ts)
        return "created"
    if gig.deleted_at is not None or gig.status in _CLOSED:
        return "kept_closed"
    assert gig.id is not None
    wanted = _normalised(
        body.model_copy(
            update={
                "status": GigStatus(gig.status),
                "deadline": body.deadline if body.deadline is not None else gig.deadline,
            }
        )
    )
    if wanted == _stored(gig):
        return "unchanged"
    update_gig(session, rt, gig.id, wanted, expected_version=gig.version, now=ts)
    return "updated"


def _owners(
    session: Session, employers: Sequence[Employer], report: GigImportReport
) -> dict[str, User | None]:
    """The account of each employer (``None``: suspended, deleted or tombstoned),
    creating the missing ones."""
    wanted: dict[str, Employer] = {}
    for employer in employers:
        wanted.setdefault(employer.clerk_id, employer)  # the first spelling names it
    erased = erased_clerk_ids(session, wanted)
    found = users_by_clerk_ids(session, [c for c in wanted if c not in erased])
    owners: dict[str, User | None] = {}
    for clerk_id, first in wanted.items():
        user = found.get(clerk_id)
        if clerk_id in erased or (
            user is not None
            and (user.status == UserStatus.SUSPENDED.value or user.deleted_at is not None)
        ):
            owners[clerk_id] = None
            continue
        if user is None:
            user = User(
                clerk_id=clerk_id,
                name=first.name[:255],
                roles=[Role.EMPLOYER.value],
                tags=list(first.tags),
                created_by=first.created_by,
            )
            session.add(user)
            report.employers_created += 1
        owners[clerk_id] = user
    session.flush()
    return owners


def import_gigs(
    rt: Runtime,
    items: Sequence[GigImport],
    *,
    report: GigImportReport | None = None,
    batch: int = 100,
    progress: bool = True,
    desc: str = "ingest-jobs",
) -> GigImportReport:
    """Upsert ``items`` and their employers, one unit of work per ``batch``.

    Returns:
        ``report`` (or a new one) with the outcomes added.

    Raises:
        ServiceError: 422 for an open gig whose deadline has passed (its batch rolls
            back; earlier batches stay committed).
        SQLAlchemyError: the database failed (same).
    """
    report = report if report is not None else GigImportReport()
    report.postings = max(report.postings, len(items))
    with tqdm(total=len(items), desc=desc, unit="gig", disable=not progress) as bar:
        for start in range(0, len(items), batch):
            chunk = items[start : start + batch]
            with rt.session() as session:
                owners = _owners(session, [i.employer for i in chunk], report)
                stored = gigs_by_external_ids(session, [i.external_id for i in chunk])
                ts = now_ms()
                for item in chunk:
                    owner = owners[item.employer.clerk_id]
                    if owner is None:
                        report.employer_gone += 1
                        if item.employer.clerk_id not in report.refused_employers:
                            report.refused_employers.append(item.employer.clerk_id)
                        continue
                    outcome = upsert_gig(
                        session,
                        rt,
                        owner,
                        item.external_id,
                        item.body,
                        now=ts,
                        existing=stored.get(item.external_id),
                    )
                    setattr(report, outcome, getattr(report, outcome) + 1)
                    if outcome != "kept_closed":
                        report.external_ids.append(item.external_id)
            bar.update(len(chunk))
    if report.refused_employers:
        shown = report.refused_employers[:20]
        log.info(
            "%s: skipped %d postings of %d suspended or deleted employers (%s%s)",
            desc,
            report.employer_gone,
            len(report.refused_employers),
            ", ".join(shown),
            ", ..." if len(report.refused_employers) > len(shown) else "",
        )
    return report


def posting_gig(posting: JobPosting) -> GigImport:
    """The gig of one job posting: an ``open`` gig, ``external_id``
    ``linkedin:<job_id>``, owned by the company's employer; title (at most 200
    characters), description (at most :data:`models.MAX_DESCRIPTION_LENGTH`),
    required and nice-to-have skills (at most :data:`models.MAX_GIG_SKILLS` each),
    remote flag; pay only when amount (minor units), currency and unit (``hour`` or
    ``fixed``) are all known. No location, availability or deadline: the CSV has none.

    Raises:
        ValueError: the company name has no letters or digits, or the fields do not
            make a valid gig (``pydantic.ValidationError`` is a ``ValueError``).
    """
    pay = None
    if (
        posting.pay_minor is not None
        and posting.pay_currency
        and posting.pay_unit in {u.value for u in PayUnit}
    ):
        pay = GigPay(
            amount_minor=posting.pay_minor,
            currency=posting.pay_currency,
            unit=PayUnit(posting.pay_unit),
        )
    body = GigWrite(
        title=posting.title.strip()[:_MAX_TITLE],
        description=posting.description[:MAX_DESCRIPTION_LENGTH],
        required_skills=posting.required_skills[:MAX_GIG_SKILLS],
        nice_skills=posting.nice_skills[:MAX_GIG_SKILLS],
        remote=posting.remote,
        pay=pay,
        status=GigStatus.OPEN,
    )
    employer = Employer(
        clerk_id=employer_clerk_id(posting.company), name=posting.company, created_by="import"
    )
    return GigImport(external_id=f"{LINKEDIN_PREFIX}{posting.job_id}", employer=employer, body=body)


def ingest_jobs(
    rt: Runtime,
    path: Path,
    *,
    progress: bool = True,
    batch: int = 100,
    limit: int | None = None,
) -> GigImportReport:
    """Import the job postings of a LinkedIn CSV (``read_jobs``) as open gigs, one
    employer per company; indexing is separate (the written gigs are stale: the
    refresh job, :func:`search_service.refresh.freshness.refresh_stale`, embeds them).

    The whole file (or its first ``limit`` data rows) is read and checked before
    anything is written.

    Raises:
        FileNotFoundError: no such file.
        ValueError: not a job-postings CSV (a required column is missing, or the
            file is not UTF-8 text).
    """
    read = JobsReadReport()
    report = GigImportReport()
    items: list[GigImport] = []
    for posting in read_jobs(path, report=read, limit=limit):
        try:
            items.append(posting_gig(posting))
        except (ValueError, ValidationError) as exc:
            report.invalid += 1
            log.info("%s: job %s not imported: %s", path, posting.job_id, exc)
    report.rows, report.duplicate_rows, report.empty_rows = read.rows, read.duplicates, read.skipped
    report.postings = read.postings
    return import_gigs(rt, items, report=report, batch=batch, progress=progress)


_BATCH_READ = 500  # ids per IN (...) list: well under SQLite's bound-parameter limit


def unserved_reasons(
    rt: Runtime, external_ids: Sequence[str], *, now: int | None = None
) -> Counter[str]:
    """Why the gigs imported under ``external_ids`` are not shown to students (and
    so not in the index), counted by reason: ``deleted``, ``draft``, ``closed``,
    ``filled``, ``past its deadline`` or ``employer suspended or deleted`` (the
    first that applies, in this order). Served gigs and unknown ids are not counted.

    The rule is the one the index follows (``search_service.index.entity.GIG_ROWS``):
    open, not deleted, before its deadline, owner neither deleted nor suspended.

    Args:
        rt: the runtime (its SQL engine).
        external_ids: source keys (``GigImportReport.external_ids``).
        now: epoch ms the deadlines are compared with (default: now).
    """
    ts = now if now is not None else now_ms()
    reasons: Counter[str] = Counter()
    for start in range(0, len(external_ids), _BATCH_READ):
        with rt.session() as session:
            gigs = gigs_by_external_ids(session, external_ids[start : start + _BATCH_READ])
            owners = load_gigs_with_owners(session, [g.id for g in gigs.values() if g.id])
        for gig in gigs.values():
            owner = owners[gig.id][1] if gig.id in owners else None
            reason = _unserved_reason(gig, owner, ts)
            if reason is not None:
                reasons[reason] += 1
    return reasons


def _unserved_reason(gig: Gig, owner: User | None, now: int) -> str | None:
    if gig.deleted_at is not None:
        return "deleted"
    if gig.status != GigStatus.OPEN.value:
        return str(gig.status)
    if gig.deadline is not None and gig.deadline <= now:
        return "past its deadline"
    if owner is None or not owner.is_searchable:
        return "employer suspended or deleted"
    return None

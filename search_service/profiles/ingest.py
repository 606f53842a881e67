"""Importing the LiveCareer resume CSV (``ID,Category,Resume_str``) as student profiles.

Each row becomes a student user (``clerk_id`` ``resume_<ID>``, ``external_id`` = ID)
with a profile: the headline is the resume's first line, the bio its text, the
skills the items of its "Skills" section. The category is kept as a tag only,
never used for ranking. Re-running updates rather than duplicates, and never
brings back a deleted user: a row whose ``clerk_id`` is tombstoned (every soft
delete writes one, and it outlives the GDPR purge) is skipped and counted.
"""

from __future__ import annotations

import csv
import itertools
import logging
import re
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

from models import ProfileDraft, SkillItem, UserDraft
from search_service.profiles.repository import insert_user_profiles, upsert_user_profile
from search_service.runtime import Runtime
from search_service.users.repository import erased_clerk_ids, existing_clerk_ids

__all__ = [
    "IngestReport",
    "clean_text",
    "ingest_resumes",
    "parse_resume",
    "read_resumes",
    "upsert_drafts",
]

log = logging.getLogger(__name__)

_REQUIRED = ("ID", "Category", "Resume_str")
_NBSP_ARTEFACT = re.compile("\u00c2(?=[\u00a0\\s]|$)|\u00c2")
_SECTION_HEADERS = {
    "summary",
    "professional summary",
    "highlights",
    "experience",
    "education",
    "accomplishments",
    "qualifications",
    "core qualifications",
    "skills",
    "skill highlights",
    "interests",
    "additional information",
    "certifications",
    "languages",
    "affiliations",
    "professional experience",
    "work history",
    "education and training",
    "training",
    "presentations",
    "publications",
    "awards",
    "activities and honors",
    "references",
}
_MAX_SKILLS = 15


@dataclass(slots=True)
class IngestReport:
    """What one import did: rows read, created/updated/unchanged users, rows skipped
    (empty), and rows of deleted users (tombstoned or soft-deleted: not imported)."""

    rows: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped: int = 0
    deleted: int = 0


def clean_text(text: str) -> str:
    """Normalise PDF-extraction artefacts: the stray ``Â`` before non-breaking spaces,
    NBSPs and zero-width characters, and runs of blank space."""
    text = _NBSP_ARTEFACT.sub("", text)
    text = text.replace("\u00a0", " ").replace("\u200b", "").replace("\ufeff", "")
    text = re.sub(r"[ \t]+", " ", text)
    text = re.sub(r"\n\s*\n+", "\n", text)
    return text.strip()


def _skills_section(lines: list[str]) -> list[str]:
    out: list[str] = []
    for i, line in enumerate(lines):
        if line.strip().lower() not in ("skills", "skill highlights"):
            continue
        for item_line in lines[i + 1 :]:
            if item_line.strip().lower() in _SECTION_HEADERS:
                break
            for item in re.split(r"[,;•|]", item_line):
                item = item.strip(" .:-\t")
                if 2 <= len(item) <= 40 and not item.isdigit():
                    out.append(item)
        break
    return list(dict.fromkeys(s.lower() for s in out))[:_MAX_SKILLS]


def parse_resume(row_id: str, category: str, text: str) -> tuple[UserDraft, ProfileDraft] | None:
    """One CSV row -> drafts; ``None`` for an empty resume."""
    body = clean_text(text)
    if not body:
        return None
    lines = [ln.strip() for ln in body.split("\n") if ln.strip()]
    title = next((ln for ln in lines if ln.lower() not in _SECTION_HEADERS), lines[0])
    headline = title[:300].title()
    user = UserDraft(
        clerk_id=f"resume_{row_id}",
        external_id=row_id,
        username=f"resume-{row_id}",
        roles=["student"],
        tags=[f"category:{category.strip().upper()}"] if category.strip() else [],
        created_by="import:livecareer",
    )
    profile = ProfileDraft(
        headline=headline,
        bio=body[:100_000],
        skills=[SkillItem(name=s) for s in _skills_section(lines)],
    )
    return user, profile


def read_resumes(path: Path) -> Iterator[tuple[str, str, str]]:
    """Rows ``(ID, Category, Resume_str)`` of the CSV.

    Raises:
        FileNotFoundError: no such file.
        ValueError: the header lacks a required column.
    """
    csv.field_size_limit(sys.maxsize)
    with path.open(encoding="utf-8", newline="") as fh:
        reader = csv.DictReader(fh)
        missing = [c for c in _REQUIRED if c not in (reader.fieldnames or [])]
        if missing:
            raise ValueError(f"{path}: missing column(s) {', '.join(missing)}")
        for row in reader:
            yield row["ID"].strip(), row["Category"], row["Resume_str"] or ""


def upsert_drafts(
    rt: Runtime,
    drafts: Sequence[tuple[UserDraft, ProfileDraft]],
    *,
    report: IngestReport | None = None,
    desc: str = "ingest",
    progress: bool = True,
    batch: int = 500,
) -> IngestReport:
    """Upsert users with profiles, one transaction per ``batch``; counts outcomes.

    Users that do not exist yet are created in bulk
    (:func:`~search_service.profiles.repository.insert_user_profiles`), existing
    ones go through the per-user dual write, which leaves unchanged data alone.

    A draft whose ``clerk_id`` belongs to a deleted user (tombstoned, soft-deleted
    or purged) is skipped and counted in ``deleted``: an import never revives
    someone who asked to be erased. A failing batch rolls back alone: earlier
    batches stay committed, and a re-run skips what is already stored unchanged.
    """
    report = report or IngestReport()
    refused: list[str] = []
    with tqdm(total=len(drafts), desc=desc, unit="profile", disable=not progress) as bar:
        for start in range(0, len(drafts), batch):
            chunk = drafts[start : start + batch]
            with rt.session() as session:
                clerk_ids = {u.clerk_id for u, _ in chunk}
                erased = erased_clerk_ids(session, clerk_ids)
                stored = existing_clerk_ids(session, clerk_ids - erased)
                fresh: list[tuple[UserDraft, ProfileDraft]] = []
                known: list[tuple[UserDraft, ProfileDraft]] = []
                for user_in, profile_in in chunk:
                    if user_in.clerk_id in erased:
                        refused.append(user_in.clerk_id)
                    elif user_in.clerk_id in stored:
                        known.append((user_in, profile_in))
                    else:
                        stored.add(user_in.clerk_id)  # a repeat in the chunk updates it
                        fresh.append((user_in, profile_in))
                # New users in multi-row statements, the rest one by one (both write
                # the same rows: see insert_user_profiles).
                report.created += len(insert_user_profiles(session, fresh))
                for user_in, profile_in in known:
                    _, outcome = upsert_user_profile(session, user_in, profile_in)
                    setattr(report, outcome, getattr(report, outcome) + 1)
            bar.update(len(chunk))
    if refused:
        report.deleted += len(refused)
        log.info(
            "%s: skipped %d rows of deleted users (clerk ids %s)",
            desc,
            len(refused),
            ", ".join(refused[:20]) + (", ..." if len(refused) > 20 else ""),
        )
    return report


def ingest_resumes(
    rt: Runtime, path: Path, *, progress: bool = True, limit: int | None = None
) -> IngestReport:
    """Upsert every resume of ``path`` (or its first ``limit`` rows) into SQL.

    Indexing is separate: a profile whose employer-visible document changed is
    marked stale by the dual write, so the refresh job
    (:func:`search_service.refresh.freshness.refresh_stale`) embeds exactly those.

    Raises:
        FileNotFoundError: no such file.
        ValueError: the header lacks a required column.
    """
    report = IngestReport()
    drafts: list[tuple[UserDraft, ProfileDraft]] = []
    for row_id, category, text in itertools.islice(read_resumes(path), limit):
        report.rows += 1
        parsed = parse_resume(row_id, category, text) if row_id else None
        if parsed is None:
            report.skipped += 1
        else:
            drafts.append(parsed)
    return upsert_drafts(rt, drafts, report=report, desc="ingest", progress=progress)

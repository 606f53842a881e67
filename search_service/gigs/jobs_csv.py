"""Reading real job postings from the LinkedIn 2023 sample CSV as gig postings.

Format: a header ``job_id,title,company,date,search_industry,industry,job_function,
description,url`` (``search_industry`` is not read), one posting per row, descriptions
spanning several lines inside quotes, dates as ``M/D/YY``. Each row becomes a
:class:`JobPosting`: text cleaned, skills read with the taxonomy
(:func:`indexers.taxonomy.extract_skills`), a remote flag and an hourly pay read from the
text. Pure: no database, no settings; the caller decides what to store.

Employers: the CSV names companies, not accounts. :func:`company_key` folds spellings of
one company together ("Tiffany & Co." and "Tiffany"), and :func:`employer_clerk_id` turns
that key into a stable synthetic account id, one employer per company.
"""

from __future__ import annotations

import csv
import hashlib
import logging
import re
import sys
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal, NamedTuple

from indexers.taxonomy import canonical_skills, extract_skills

__all__ = [
    "JobPosting",
    "JobsReadReport",
    "Pay",
    "company_key",
    "employer_clerk_id",
    "is_remote",
    "pay_mentions",
    "read_jobs",
    "split_requirements",
]

log = logging.getLogger(__name__)

_REQUIRED = ("job_id", "title", "company", "date", "industry", "job_function", "description")
_MAX_SKILLS = 10
_CLERK_ID_PREFIX = "import:company:"


@dataclass(frozen=True, slots=True)
class JobPosting:
    """One job posting of the CSV, cleaned.

    ``posted_at`` is epoch ms (UTC midnight of the ``M/D/YY`` date; ``None`` when the date
    does not parse). ``description`` keeps paragraph breaks as single newlines. Skills are
    canonical taxonomy names, at most 10 each, most-mentioned first (see
    :func:`split_requirements` for what counts as "nice to have"). ``pay_minor`` is the
    lower bound of an hourly rate in cents (``pay_currency`` ``"USD"``, ``pay_unit``
    ``"hour"``) or ``None``: yearly salaries are not gig pay and are left out, and this
    CSV never gives a fixed price (``"fixed"`` exists for gigs posted in the app).
    """

    job_id: str
    title: str
    company: str
    posted_at: int | None
    industry: str
    job_function: str
    description: str
    url: str | None
    required_skills: list[str]
    nice_skills: list[str]
    remote: bool
    pay_minor: int | None
    pay_currency: str | None
    pay_unit: Literal["hour", "fixed"] | None


@dataclass(slots=True)
class JobsReadReport:
    """What :func:`read_jobs` saw: data rows read, rows replaced by a later row with the
    same ``job_id`` (duplicates), rows skipped (no job_id, title or description), and
    postings yielded."""

    rows: int = 0
    duplicates: int = 0
    skipped: int = 0
    postings: int = 0


# --- Text -----------------------------------------------------------------------------

_NBSP_ARTEFACT = re.compile("\u00c2(?=[\u00a0\\s]|$)|\u00c2")
# U+FFFD and its UTF-8-read-as-Latin-1 form: the original character is not recoverable.
_REPLACEMENT = re.compile("\ufffd|\u00ef\u00bf\u00bd")
_MARKDOWN_ESCAPE = re.compile(r"\\([^\w\s])|\\(?=\s)")
_LINKEDIN_FOOTER = re.compile(r"(?:\n|^)\s*show (?:less|more)\s*$", re.IGNORECASE)


def _clean(text: str) -> str:
    """The resume importer's clean-up (``profiles.ingest.clean_text``) plus what LinkedIn
    adds: Markdown escapes (``\\$18``), U+FFFD mojibake and the "Show less" footer.
    Lines are trimmed; blank-line runs become one newline."""
    text = _NBSP_ARTEFACT.sub("", text)
    text = _REPLACEMENT.sub("", text)
    for space in ("\u00a0", "\u202f", "\u2009", "\r"):
        text = text.replace(space, " " if space != "\r" else "")
    text = text.replace("\u200b", "").replace("\ufeff", "")
    text = _MARKDOWN_ESCAPE.sub(lambda m: m.group(1) or "", text)
    text = re.sub(r"[ \t]+", " ", text)
    text = "\n".join(line.strip() for line in text.split("\n"))
    text = re.sub(r"\n\s*\n+", "\n", text).strip()
    return _LINKEDIN_FOOTER.sub("", text).strip()


# --- Required and nice-to-have skills -----------------------------------------------------

_QUALIFIER_WORDS = (
    r"(?:skills?|qualifications?|requirements?|experience|knowledge|abilities|education"
    r"|competencies|and|&|,|/)"
)
#: A heading that starts the nice-to-have part: "Preferred Qualifications", "Preferred-",
#: "Desired Skills & Qualifications:", "Nice to have", "Bonus points", "Pluses", "Plus:",
#: "Preferences", "Other Preferred Qualifications Sought Include", optionally followed by
#: ":" and content. A bare "Bonus" counts too (one sample posting uses it for extras); a
#: "Bonus" line among benefits then moves only benefit lines, which rarely name skills.
_NICE_HEADING = re.compile(
    r"[\W_]*(?:(?:other|additional)\s+)?"
    r"(?:preferred|desired|desirable|nice[\s-]to[\s-]haves?|bonus(?:\s+points?)?|pluses"
    r"|(?:a\s+)?plus|preferences)"
    rf"(?:\s*{_QUALIFIER_WORDS})*"
    r"(?:\s+(?:for|sought|include)\b[^:\n]{0,50})?"
    r"\s*(?:[:\-\u2013\u2014]\s*|$)",
    re.IGNORECASE,
)
#: A heading that ends the nice-to-have part: required/minimum qualifications, duties.
_REQUIRED_HEADING = re.compile(
    r"[\W_]*(?:(?:minimum|required|basic|essential|key|job)\s+)?"
    r"(?:qualifications?|requirements?|responsibilities|duties)"
    r"(?:\s+(?:and|&)\s+\w+)?\s*:?\s*",
    re.IGNORECASE,
)
#: A sentence that ends by marking itself optional: "SQL experience a plus",
#: "HubSpot preferred.", "CDL is preferred, but not required", "ASE Certification
#: (Preferred)". Not "(Spanish a plus)" at the end of a required sentence.
_NICE_SENTENCE = re.compile(
    r"(?:\ba\s+plus|\b(?:strongly\s+|highly\s+)?preferred|\bdesired|\bdesirable"
    r"|\bnice[\s-]to[\s-]have|\bbeneficial)"
    r"[\W_]*(?:(?:,\s*)?(?:but|however)\s*,?\s+not\s+(?:required|necessary)[\W_]*)?$",
    re.IGNORECASE,
)
_SENTENCE_END = re.compile(r"(?<=[.!?;])\s+")


def _is_nice_sentence(sentence: str) -> bool:
    match = _NICE_SENTENCE.search(sentence)
    if match is None:
        return False
    before = sentence[: match.start()]
    if before.count("(") > before.count(")"):  # inside a parenthesis: only "(Preferred)"
        return before.rstrip().endswith("(")
    return True


def split_requirements(description: str) -> tuple[str, str]:
    """Split a cleaned description into its required part and its nice-to-have part.

    Nice to have: everything under a heading such as "Preferred Qualifications",
    "Desired Skills", "Nice to have", "Bonus points" or "Pluses" (content after a colon on
    the heading line included), up to a later "Requirements"/"Minimum Qualifications"/
    "Responsibilities"/"Duties" heading; and, anywhere, a sentence that ends by calling
    itself optional ("SQL experience a plus.", "HubSpot preferred", "Bilingual (Spanish) a
    PLUS!"). Everything else is required, headings included.

    Example: ``"Excel required.\\nSQL a plus.\\nPreferred Qualifications\\nTableau"`` ->
    ``("Excel required.", "SQL a plus.\\nTableau")``.

    Input: text with one line per paragraph (as :class:`JobPosting` holds). Output: two
    newline-joined strings, possibly empty. Raises nothing.
    """
    required: list[str] = []
    nice: list[str] = []
    in_nice = False
    for line in description.split("\n"):
        heading = _NICE_HEADING.match(line)
        if heading is not None:
            in_nice = True
            nice.append(line[heading.end() :])
            continue
        if in_nice and _REQUIRED_HEADING.fullmatch(line):
            in_nice = False
        if in_nice:
            nice.append(line)
            continue
        for sentence in _SENTENCE_END.split(line):
            (nice if _is_nice_sentence(sentence) else required).append(sentence)
    return "\n".join(s for s in required if s), "\n".join(s for s in nice if s)


def _skills(title: str, description: str) -> tuple[list[str], list[str]]:
    required_text, nice_text = split_requirements(description)
    every = len(canonical_skills())
    required = extract_skills(f"{title}\n{required_text}", limit=every)
    nice = [s for s in extract_skills(nice_text, limit=every) if s not in set(required)]
    return required[:_MAX_SKILLS], nice[:_MAX_SKILLS]


# --- Remote ---------------------------------------------------------------------------

#: Title: "remote", "work from home", "WFH" anywhere; not when it also says "hybrid" or
#: negates it ("Non-remote", "not remote").
_REMOTE_TITLE = re.compile(r"\b(?:remote|work(?:ing)?[\s-]+from[\s-]+home|wfh)\b", re.I)
_HYBRID_OR_NOT = re.compile(r"\bhybrid\b|\bnon[\s-]*remote\b|\bnot\s+remote\b", re.I)
#: Description: only statements that the job itself is remote ("100% remote", "fully
#: remote", "remote position", "remote-first", "Location: Remote", "work from home
#: position", "this role is remote"), not mentions of remote tools, sites or telework
#: eligibility ("remote access", "remote locations", "eligible for telework").
_REMOTE_TEXT = re.compile(
    r"\b(?:(?:fully|100\s*%|completely|entirely|always|full[\s-]time)\s+remote"
    r"|remote[\s-]+(?:first|friendly|position|role|job|opportunity|opportunities)"
    r"|location\s*[:\-\u2013]\s*(?:flexible\s*/\s*)?remote"
    r"|work(?:ing)?\s+from\s+home\s+(?:position|role|job)"
    r"|(?:position|role|job)\s+is\s+(?:fully\s+|100\s*%\s+)?remote)\b",
    re.IGNORECASE,
)
#: A negation shortly before a match on the same line: "THIS IS NOT A REMOTE POSITION",
#: "not a hybrid or work from home position".
_NEGATION_BEFORE = re.compile(r"\b(?:not|no|non|never|isn't|ineligible)\b[^.\n]{0,20}$", re.I)


def is_remote(title: str, description: str) -> bool:
    """Whether the posting says the job is done remotely.

    True when the title says remote / work from home / WFH (and not "hybrid" or a
    negation), or the description states it (:data:`_REMOTE_TEXT`) without a negation just
    before. Examples: ``("Customer Support - Remote", "")`` -> True; ``("Clerk", "This is a
    remote position.")`` -> True; ``("Clerk", "THIS IS NOT A REMOTE POSITION")`` -> False;
    ``("IT Tech", "Provide remote support")`` -> False. Raises nothing.
    """
    if _REMOTE_TITLE.search(title) and not _HYBRID_OR_NOT.search(title):
        return True
    return any(
        not _NEGATION_BEFORE.search(description[max(0, m.start() - 30) : m.start()])
        for m in _REMOTE_TEXT.finditer(description)
    )


# --- Pay ------------------------------------------------------------------------------


class Pay(NamedTuple):
    """A pay amount found in text: the lower bound in minor units (cents), its currency
    (ISO 4217) and its period."""

    minor: int
    currency: str
    unit: Literal["hour", "week", "month", "year"]


_UNITS: dict[str, Literal["hour", "week", "month", "year"]] = {
    **dict.fromkeys(("hour", "hours", "hr", "hrs", "hourly", "hora"), "hour"),
    **dict.fromkeys(("week", "weeks", "wk", "weekly"), "week"),
    **dict.fromkeys(("month", "months", "monthly"), "month"),
    **dict.fromkeys(("year", "years", "yr", "annum", "annually"), "year"),
}
_NUMBER = r"\d{1,3}(?:,\d{3})+|\d+"
_PAY = re.compile(
    # lower bound: "$18", "$18.50", "$55,000", "$60k", "$20+" (Markdown may escape "\$");
    # no trailing space is consumed, so that the upper bound's "\s+to" can still match
    rf"(?<![\w$])\\?\$\s?(?P<whole>{_NUMBER})(?:\.(?P<cents>\d+))?(?:\s*(?P<kilo>[kK]\b))?(?:\s*\+)?"
    # upper bounds, any number: "- $22", "-25", "to 25", "to $22", "and $22"
    rf"(?:(?:\s*[-\u2013\u2014]\s*|\s+to\s+|\s+and\s+(?=\\?\$))(?:\\?\$)?\s?(?:{_NUMBER})"
    r"(?:\.\d+)?(?:\s*[kK]\b)?(?:\s*\+)?)*"
    # period: "/hour", "/ per hour", "per hour", "an hour", "hourly", "por hora", "/yr"
    r"(?:\s*(?:/\s*(?:per\s+)?|per\s+|an?\s+|por\s+)?(?P<unit>"
    + "|".join(sorted(_UNITS, key=len, reverse=True))
    + r")\b)?",
    re.IGNORECASE,
)
#: "Hourly Wage: $12-$16", "Base Hourly Compensation of between $31 and $45", "the hourly
#: range for this position is $17 - $22": an hourly cue shortly before an amount.
_HOURLY_BEFORE = re.compile(
    r"\bhourly\s+(?:wage|rate|pay|range|compensation)\b[^$\n]{0,40}$", re.IGNORECASE
)
_UP_TO_BEFORE = re.compile(r"\bup\s+to\s*$", re.IGNORECASE)
#: Plausible lower bounds of an hourly rate, in USD: below, a shift differential or an
#: add-on ("PLUS $3/hr differential"); above, not a wage.
_HOURLY_RANGE_USD = (5, 500)


def pay_mentions(text: str) -> list[Pay]:
    """Dollar amounts that name their period, in order: the lower bound, in cents.

    Recognised: ``"($18.00/hour)"``, ``"$18 - $22 per hour"``, ``"$20-25/hr"``,
    ``"$20+/hourly"``, ``"$17.00 an hour"``, ``"$18.807 to 25.098/hr"`` (cents truncated),
    ``"\\$18-\\$26/hr"`` (Markdown-escaped), ``"Hourly Wage: $12-$16.00"`` (an hourly
    wage/rate/pay/range/compensation cue up to 40 characters before), ``"$55,000/year"``,
    ``"$1,000 per month"``. Skipped: amounts without a period ("$1000 Sign On Incentive",
    "$60k-$100k", "$2 trillion"), "up to $32/hr" (no lower bound), and hourly amounts
    outside $5-$500 (:data:`_HOURLY_RANGE_USD`).

    Example: ``"Pay: $18.50 - $22 per hour; $55,000/year"`` ->
    ``[Pay(1850, "USD", "hour"), Pay(5500000, "USD", "year")]``. Raises nothing.
    """
    found: list[Pay] = []
    for m in _PAY.finditer(text):
        before = text[max(0, m.start() - 80) : m.start()].split("\n")[-1]
        if _UP_TO_BEFORE.search(before):
            continue
        unit = _UNITS.get((m.group("unit") or "").lower())
        if unit is None and _HOURLY_BEFORE.search(before):
            unit = "hour"
        if unit is None:
            continue
        cents = (m.group("cents") or "")[:2].ljust(2, "0")
        minor = int(m.group("whole").replace(",", "")) * 100 + int(cents)
        if m.group("kilo"):
            minor *= 1000
        low, high = _HOURLY_RANGE_USD
        if unit == "hour" and not low * 100 <= minor <= high * 100:
            continue
        found.append(Pay(minor, "USD", unit))
    return found


def _hourly_pay(title: str, description: str) -> int | None:
    for text in (title, description):
        for pay in pay_mentions(text):
            if pay.unit == "hour":
                return pay.minor
    return None


# --- Companies ------------------------------------------------------------------------

_COMPANY_SUFFIXES = frozenset(
    {"inc", "incorporated", "llc", "ltd", "limited", "corp", "corporation", "co", "company"}
    | {"plc", "lp", "llp", "pc", "pllc", "gmbh"}
)


def company_key(company: str) -> str:
    """Normalised company name for "one employer per company".

    Casefolded, accents and parentheticals dropped, ``.``/``'`` removed inside words
    ("L.L.C." -> "llc"), other punctuation as spaces, whitespace collapsed, then a leading
    "the" and trailing legal suffixes (Inc, LLC, Ltd, Corp, Co, Company, ...) removed while
    a word is left. Examples: ``"Tiffany & Co."`` -> ``"tiffany"``; ``"The Erosion Company
    (TEC)"`` -> ``"erosion"``; ``"MKP Capital Management, L.L.C."`` -> ``"mkp capital
    management"``; ``"  "`` -> ``""``. Raises nothing.
    """
    text = unicodedata.normalize("NFKD", company).casefold()
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    text = re.sub(r"\([^)]*\)", " ", text)
    text = re.sub(r"[.'\u2019]", "", text)
    words = re.sub(r"[\W_]+", " ", text).split()
    if len(words) > 1 and words[0] == "the":
        words = words[1:]
    while len(words) > 1 and words[-1] in _COMPANY_SUFFIXES:
        words.pop()
    return " ".join(words)


def employer_clerk_id(company: str) -> str:
    """Stable synthetic account id of a company's employer: ``"import:company:<slug>-<h>"``.

    ``<slug>`` is :func:`company_key` in ASCII with hyphens (at most 200 characters) and
    ``<h>`` the first 12 hex digits of the key's sha256, so two companies whose slugs
    collide (non-Latin names, truncation) keep distinct ids. At most 228 characters.
    Example: ``"Tiffany & Co."`` and ``"Tiffany"`` -> the same
    ``"import:company:tiffany-…"``.

    Raises:
        ValueError: the company name has no letters or digits.
    """
    key = company_key(company)
    if not key:
        raise ValueError(f"company name {company!r} has no letters or digits")
    ascii_key = key.encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_key).strip("-")[:200].rstrip("-") or "company"
    digest = hashlib.sha256(key.encode()).hexdigest()[:12]
    return f"{_CLERK_ID_PREFIX}{slug}-{digest}"


# --- Reading ---------------------------------------------------------------------------


def _epoch_ms(date: str) -> int | None:
    for fmt in ("%m/%d/%y", "%m/%d/%Y"):
        try:
            day = datetime.strptime(date.strip(), fmt).replace(tzinfo=UTC)
        except ValueError:
            continue
        return int(day.timestamp()) * 1000
    return None


def _posting(row: dict[str, str]) -> JobPosting | None:
    title = " ".join(_clean(row["title"] or "").split())
    description = _clean(row["description"] or "")
    job_id = (row["job_id"] or "").strip()
    if not (job_id and title and description):
        return None
    required, nice = _skills(title, description)
    pay = _hourly_pay(title, description)
    return JobPosting(
        job_id=job_id,
        title=title,
        company=" ".join((row["company"] or "").split()),
        posted_at=_epoch_ms(row["date"] or ""),
        industry=(row["industry"] or "").strip(),
        job_function=(row["job_function"] or "").strip(),
        description=description,
        url=(row.get("url") or "").strip() or None,
        required_skills=required,
        nice_skills=nice,
        remote=is_remote(title, description),
        pay_minor=pay,
        pay_currency=None if pay is None else "USD",
        pay_unit=None if pay is None else "hour",
    )


def read_jobs(
    path: Path, *, report: JobsReadReport | None = None, limit: int | None = None
) -> Iterator[JobPosting]:
    """Postings of a LinkedIn job CSV, one per unique ``job_id``.

    A ``job_id`` repeated on several rows yields one posting: the LAST such row wins
    (counted in ``report.duplicates`` and logged at INFO); postings come in the order of
    each id's first row. A row without job_id, title or description is skipped (counted,
    logged at INFO with its line) and never replaces an earlier row of its id. The whole
    file is read before the first posting is yielded.

    Args:
        path: the CSV (UTF-8, optional BOM).
        report: filled in with the counts when given.
        limit: read only the first ``limit`` data rows (``None``: all of them).

    Raises:
        FileNotFoundError: no such file.
        ValueError: the header lacks a column this format needs (named in the message).
    """
    report = report if report is not None else JobsReadReport()
    csv.field_size_limit(sys.maxsize)
    latest: dict[str, JobPosting] = {}
    with path.open(encoding="utf-8-sig", newline="") as fh:
        reader = csv.DictReader(fh)
        missing = [c for c in _REQUIRED if c not in (reader.fieldnames or [])]
        if missing:
            raise ValueError(
                f"{path}: not a job-postings CSV, missing column(s) {', '.join(missing)}"
            )
        for row in reader:
            if limit is not None and report.rows >= limit:
                break
            report.rows += 1
            posting = _posting(row)
            if posting is None:
                report.skipped += 1
                log.info(
                    "%s line %d: skipped, no job_id, title or description", path, reader.line_num
                )
                continue
            if posting.job_id in latest:
                report.duplicates += 1
            latest[posting.job_id] = posting
    if report.duplicates:
        log.info(
            "%s: %d rows repeat an earlier job_id; the last row of each wins",
            path,
            report.duplicates,
        )
    report.postings = len(latest)
    yield from latest.values()

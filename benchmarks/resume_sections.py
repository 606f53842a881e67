"""Fields of a LiveCareer resume extract, parsed from its section headers, and an
optional clean-up of the extraction's template residue.

The CSV text (``Resume_str``) is a PDF extraction: the first line is the
resume's title ("INVESTMENT ACCOUNTANT"), then sections under header lines
("Summary", "Skills", "Experience", "Education and Training", ...), with the
resume builder's template left in: every job reads ``Company Name / City / ,
/ State``, unfilled placeholders (``[Job Title]``, ``[Number]``), example prompts
("Enter outstanding achievements ..."), and date ranges split over lines
(``10/2012 / to / Current``). The header names below are the ones the 2,484
resumes use most (counted over the file: "Skills" 2,324 resumes, "Education"
1,921, "Experience" 1,718, "Summary" 1,340, "Highlights" 874, ...).

Used by the relevance harness to weight fields apart in BM25
(:meth:`indexers.Bm25Encoder.encode_fields`) and to embed one vector per
section (MaxSim); the service's own profile documents are built from profile
rows (:func:`indexers.build_document`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from search_service.profiles.ingest import clean_text

__all__ = ["FIELDS", "ResumeFields", "clean_lines", "parse_sections"]

FIELDS: tuple[str, ...] = ("title", "summary", "skills", "experience", "education", "other")
"""Field names, in document order."""

_HEADERS: dict[str, str] = {
    **dict.fromkeys(
        (
            "summary",
            "professional summary",
            "executive profile",
            "career overview",
            "professional profile",
            "career focus",
            "profile",
            "objective",
            "career objective",
            "executive summary",
            "summary of qualifications",
            "qualifications summary",
        ),
        "summary",
    ),
    **dict.fromkeys(
        (
            "skills",
            "highlights",
            "skill highlights",
            "core qualifications",
            "qualifications",
            "technical skills",
            "summary of skills",
            "core competencies",
            "areas of expertise",
            "computer skills",
            "key skills",
            "relevant skills",
        ),
        "skills",
    ),
    **dict.fromkeys(
        (
            "experience",
            "professional experience",
            "work history",
            "work experience",
            "employment history",
            "relevant experience",
            "teaching experience",
            "volunteer experience",
        ),
        "experience",
    ),
    **dict.fromkeys(
        (
            "education",
            "education and training",
            "certifications",
            "training",
            "licenses",
            "certifications and licenses",
            "licenses and certifications",
        ),
        "education",
    ),
    **dict.fromkeys(
        (
            "accomplishments",
            "core accomplishments",
            "additional information",
            "languages",
            "interests",
            "professional affiliations",
            "affiliations",
            "personal information",
            "activities and honors",
            "presentations",
            "publications",
            "awards",
            "references",
        ),
        "other",
    ),
}

# Lines that are the builder's template, never the candidate's words.
_BOILERPLATE_LINE = re.compile(
    r"^(company name|city|state|current|to|present|,|-|see examples|"
    r"\[[^\]]*\](\s*,?\s*\[[^\]]*\])*)$",
    re.IGNORECASE,
)
_PLACEHOLDER = re.compile(r"\[(job title|number|company name|city|state|[a-z ]{1,30})\]", re.I)
_PROMPT = re.compile(
    r"^(enter|list|describe|include|summarize) (your|outstanding|any|the)\b.*$", re.IGNORECASE
)
_MONTHS = (
    r"(jan(uary)?|feb(ruary)?|mar(ch)?|apr(il)?|may|june?|july?|aug(ust)?|"
    r"sep(t(ember)?)?|oct(ober)?|nov(ember)?|dec(ember)?)"
)
_DATE_LINE = re.compile(
    rf"^((\d{{1,2}}/)?\d{{4}}|{_MONTHS}\.?\s+\d{{4}}|\d{{1,2}}/\d{{4}})"
    rf"(\s*(to|-|–)\s*((\d{{1,2}}/)?\d{{4}}|{_MONTHS}\.?\s+\d{{4}}|current|present))?$",
    re.IGNORECASE,
)
_HTML = re.compile(r"&[a-z0-9#]{2,8};|</?[a-z]+[^>]*>", re.IGNORECASE)
# UTF-8 punctuation read as cp1252: "â€“" (en dash), "â€¢" (bullet), "âž¢", "Ã†"...
_MOJIBAKE = re.compile("â[\u0080-\u02ff\u2000-\u2122]{1,2}|Ã[\u0080-\u00ff\u2000-\u2122]")


def clean_lines(lines: list[str]) -> list[str]:
    """Drop template lines (``Company Name``, ``City``, ``State``, ``Current``, lone
    punctuation, bracketed placeholders, example prompts, date-only lines) and strip
    placeholders, HTML entities or tags and UTF-8 mojibake from the rest. Raises nothing.
    """
    out: list[str] = []
    for line in lines:
        line = _HTML.sub(" ", line)
        line = _MOJIBAKE.sub(" ", line)
        line = line.strip()
        if not line or _BOILERPLATE_LINE.match(line) or _PROMPT.match(line):
            continue
        if _DATE_LINE.match(line):
            continue
        line = _PLACEHOLDER.sub(" ", line).strip(" ,")
        if line:
            out.append(re.sub(r"\s+", " ", line))
    return out


@dataclass(frozen=True, slots=True)
class ResumeFields:
    """A resume cut into its fields (each the lines under its headers, joined by newlines).

    Attributes:
        title: the first line that is not a header (the headline).
        summary, skills, experience, education, other: the sections' texts
            (``other``: accomplishments, interests, languages, affiliations, ...,
            and any text before the first header).
        sections: every section in file order as ``(field, text)``; a field can
            appear more than once ("Highlights" and "Skills").
    """

    title: str
    summary: str
    skills: str
    experience: str
    education: str
    other: str
    sections: tuple[tuple[str, str], ...]

    def get(self, name: str) -> str:
        """The text of field ``name`` (one of :data:`FIELDS`).

        Raises:
            KeyError: unknown field.
        """
        if name not in FIELDS:
            raise KeyError(name)
        return str(getattr(self, name))


def parse_sections(text: str, *, clean: bool = False) -> ResumeFields:
    """Cut a resume extract into fields by its header lines (:data:`_HEADERS`, matched
    on the whole line, case-insensitive, trailing colon ignored); header lines
    themselves are dropped. ``clean`` also drops the template residue
    (:func:`clean_lines`). The PDF artefacts are normalised first
    (:func:`search_service.profiles.ingest.clean_text`). Raises nothing.
    """
    lines = [ln.strip() for ln in clean_text(text).split("\n") if ln.strip()]
    if clean:
        lines = clean_lines(lines)
    title = ""
    current = "other"
    buckets: dict[str, list[str]] = {f: [] for f in FIELDS[1:]}
    sections: list[tuple[str, list[str]]] = []
    for line in lines:
        field = _HEADERS.get(line.lower().rstrip(":").strip())
        if field is not None:
            current = field
            sections.append((field, []))
            continue
        if not title:
            title = line
            continue
        buckets[current].append(line)
        if not sections:
            sections.append(("other", []))
        sections[-1][1].append(line)
    return ResumeFields(
        title=title,
        **{f: "\n".join(v) for f, v in buckets.items()},
        sections=tuple((f, "\n".join(v)) for f, v in sections if v),
    )

"""Mapping job postings to the 24 LiveCareer resume categories, where one is clear.

Recommendation benchmarks need relevance labels: a resume is relevant to a job posting
when the resume's category (the CSV's ``Category``) is the posting's category. Postings
have no category, so this module assigns one from the title, the job function and the
industry, or ``None``.

Policy: precision over coverage. A posting is mapped only when a recruiter would agree
with the category from the title alone (or from the title plus an industry that settles
it); everything else stays unmapped and is left out of the benchmark. Concretely:

* an ordered list of rules (:data:`RULES`), the first match wins. A rule is a title
  regex, optionally with a job-function or industry regex that must match too
  ("Technician" is AUTOMOBILE only in a motor-vehicle industry, "Laborer" is
  CONSTRUCTION only in construction);
* some rules map to ``None``: they stop the search for titles whose keyword would
  mislead a later rule ("Sales Showroom Receptionist" is a receptionist, not SALES;
  "Maintenance Engineer" is building upkeep, not ENGINEERING; "Warehouse Foreman" is not
  construction);
* the order settles titles that name two things: the role beats the domain
  ("Software Sales Representative" is SALES, "Healthcare Recruiter" is HR, "Marketing
  Education Teacher" is TEACHER, "Bank Teller/Customer Service Representative" is
  BANKING, "Call Center Service Consultant" is BPO);
* after the title rules, two function fallbacks for generic support titles only
  (specialist, assistant, clerk, analyst, associate, coordinator, generalist): an
  "Accounting/Auditing..." function gives ACCOUNTANT ("Payroll Specialist"), a "Human
  Resources..." function gives HR ("Training Specialist"). Other functions are too
  loosely used in the job CSV to trust ("Fiber Splicer" is filed under Information
  Technology);
* generic titles ("Manager", "Associate", "Operations Manager", "Cashier", "General
  Labor" outside construction, "Data Analyst", "Business Analyst") stay unmapped.

The categories mean what the resume set's contents show, not only their names:
ADVOCATE resumes are patient, customer, victim and family advocates (none is a lawyer),
so attorneys and paralegals are not mapped to ADVOCATE; only "advocate"/"advocacy"
titles are. AUTOMOBILE is used for vehicle technicians and mechanics, the closest of the
24 although the category holds few resumes.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

__all__ = ["CATEGORIES", "RULES", "CategoryRule", "job_category", "mapping_report"]

#: The 24 categories of the LiveCareer resume CSV, alphabetical.
CATEGORIES: tuple[str, ...] = (
    "ACCOUNTANT",
    "ADVOCATE",
    "AGRICULTURE",
    "APPAREL",
    "ARTS",
    "AUTOMOBILE",
    "AVIATION",
    "BANKING",
    "BPO",
    "BUSINESS-DEVELOPMENT",
    "CHEF",
    "CONSTRUCTION",
    "CONSULTANT",
    "DESIGNER",
    "DIGITAL-MEDIA",
    "ENGINEERING",
    "FINANCE",
    "FITNESS",
    "HEALTHCARE",
    "HR",
    "INFORMATION-TECHNOLOGY",
    "PUBLIC-RELATIONS",
    "SALES",
    "TEACHER",
)
UNMAPPED = "unmapped"


@dataclass(frozen=True, slots=True)
class CategoryRule:
    """One mapping rule: ``category`` (``None`` stops the search unmapped) when ``title``
    matches and, if given, ``function`` matches the job function and ``industry`` the
    industry. All patterns are searched case-insensitively."""

    category: str | None
    title: re.Pattern[str]
    function: re.Pattern[str] | None = None
    industry: re.Pattern[str] | None = None

    def matches(self, title: str, job_function: str, industry: str) -> bool:
        return (
            self.title.search(title) is not None
            and (self.function is None or self.function.search(job_function) is not None)
            and (self.industry is None or self.industry.search(industry) is not None)
        )


def _rule(
    category: str | None, title: str, *, function: str | None = None, industry: str | None = None
) -> CategoryRule:
    flags = re.IGNORECASE
    return CategoryRule(
        category,
        re.compile(title, flags),
        None if function is None else re.compile(function, flags),
        None if industry is None else re.compile(industry, flags),
    )


# Generic support titles: the function fallbacks apply only to these.
_SUPPORT_ROLE = (
    r"\b(?:specialist|assistant|clerk|analyst|associate|coordinator|generalist"
    r"|administrator)\b"
)

#: The rules in order; the first match wins. See the module docstring for the policy.
RULES: tuple[CategoryRule, ...] = (
    _rule("FITNESS", r"\bfitness\b|\bpersonal trainer\b|\byoga\b|\bpilates\b|\bgroup exercise\b"),
    _rule(
        "TEACHER",
        r"\bteachers?\b|\binstructors?\b|\btutors?\b|\bparaeducators?\b|\bparaprofessional\b"
        r"|(?<!non )(?<!non-)\binstructional (?:aide|assistant)\b|\beducation aide\b"
        r"|\blecturer\b|\bprofessor\b",
    ),
    _rule("CHEF", r"\bchefs?\b|\bcooks?\b|\bculinary\b"),
    _rule("AGRICULTURE", r"\bfarm\b|\bagricultur|\bcrops?\b|\bagronom|\bhorticultur"),
    _rule("AVIATION", r"\bpilots?\b|\baviation\b|\baircraft\b|\bairport\b|\bairline\b|\bflight\b"),
    # Recruiting students is admissions work, not HR.
    _rule(None, r"\b(?:admissions|migrant|student) recruit"),
    _rule(
        "HR",
        # "HR", but not the "/ HR" of a pay rate ("$21 - $25 / HR")
        r"\bhuman resources?\b|(?<!/)(?<!/ )\b(?-i:HR)\b|\brecruiters?\b|\brecruitment\b"
        r"|\btalent acquisition\b|\bonboarding (?:specialist|manager|coordinator)\b"
        r"|\bonboarding (?:&|and) training\b"
        r"|\bdirector of onboarding\b|\bpeople (?:operations|and culture|strategy)\b"
        r"|\bpersonnel\b",
    ),
    _rule("ADVOCATE", r"\badvocates?\b|\badvocacy\b"),
    _rule(
        "ACCOUNTANT",
        r"\baccountants?\b|\baccounting\b|\bbookkeep(?:er|ing)\b|\bauditors?\b"
        r"|\baccounts (?:payable|receivable)\b|\bcontroller\b|\b(?-i:CPA)\b",
    ),
    # Front-office titles: a receptionist at a bank, a car showroom or a clinic is still
    # a receptionist, whatever the keyword beside it.
    _rule(
        None,
        r"\breceptionist\b|\bfront desk\b|\bsecretary\b|\badmin(?:istrative)? assistant\b"
        r"|\boffice (?:assistant|administrator|manager)\b|\bfront (?:office|admin)\b",
    ),
    _rule(
        "HEALTHCARE",
        r"\bnurs(?:e|es|ing)\b|\b(?-i:RN|LPN|CNA|EMT)\b|\bmedical\b|\bmedicine\b|\bclinical\b"
        r"|\bpharmac(?:y|ist|ists)\b|\bpatients?\b|\bphysicians?\b|\bparamedics?\b"
        r"|\bcaregivers?\b|\btherap(?:y|ist|ists)\b|\bhealth ?care\b|\bdental\b"
        r"|\bphlebotom|\bmental health\b|\bmed aide\b",
    ),
    _rule(
        "BANKING",
        r"\bbank(?:er|ers|ing)?\b|\btellers?\b|\bloans?\b|\bmortgage\b|\blending\b",
    ),
    _rule("BANKING", r"\bbranch manager\b|\b(?-i:BSA)\b", industry=r"\bbank"),
    _rule(
        "FINANCE",
        r"\bfinanc(?:e|ial)\b|\bbudget analyst\b|\bFP&A\b|\binvestments?\b"
        r"|\bchief financial officer\b|\b(?-i:CFO)\b|\btreasury\b",
    ),
    _rule("BUSINESS-DEVELOPMENT", r"\bbusiness development\b|\bbiz ?dev\b"),
    _rule(
        "SALES",
        r"\bsales\b|\baccount executive\b|\bsales ?(?:rep|representative|associate)\b",
    ),
    _rule(
        "BPO",
        r"\bcall cent(?:er|re)\b|\bcontact cent(?:er|re)\b|\b(?-i:BPO)\b|\bcustomer support\b"
        r"|\bcustomer (?:service|care) (?:rep|representative|agent)s?\b",
    ),
    _rule(
        "DIGITAL-MEDIA",
        r"\bsocial media\b|\bdigital (?:marketing|media|content)\b|\bcontent creator\b"
        r"|\bvideo (?:content )?(?:producer|editor)\b|\bvideographer\b|\bmultimedia\b"
        r"|\b(?-i:SEO)\b",
    ),
    _rule(
        "PUBLIC-RELATIONS",
        r"\bpublic relations\b|\b(?-i:PR)\b|\bcommunications?\b|\bmedia relations\b"
        r"|\bpublicist\b",
    ),
    _rule(
        "INFORMATION-TECHNOLOGY",
        r"\bsoftware\b|\bdevelopers?\b|\bprogrammers?\b|\b(?-i:IT)\b|\binformation technology\b"
        r"|\bhelp ?desk\b|\bservice desk\b|\bdesk ?side support\b|\bdesktop support\b"
        r"|\bcomputer support\b|\bend user support\b"
        r"|\bnetwork (?:administrator|engineer|technician|specialist)\b"
        r"|\bsystems? (?:administrator|admin|engineer)\b|\bcyber ?security\b|\bdevops\b"
        r"|\bdata scientists?\b|\bdatabase (?:administrator|developer)\b|\bscrum master\b",
    ),
    _rule("CONSULTANT", r"\bconsultants?\b|\bconsulting\b"),
    _rule("DESIGNER", r"\bdesigners?\b"),
    # Upkeep and warehouse titles borrow trade words ("Maintenance Engineer", "Warehouse
    # Foreman", "Shop Floor Foreman") without being engineering or construction work.
    _rule(None, r"\bmaintenance\b|\bwarehouse\b|\bshop floor\b"),
    _rule("ENGINEERING", r"\bengineers?\b|\bengineering\b"),
    _rule(
        "CONSTRUCTION",
        r"\bconstruction\b|\bcarpenters?\b|\belectricians?\b|\bforem[ae]n\b|\bplumbers?\b"
        r"|\bbuilding inspector\b|\bhandyman\b|\bironworkers?\b|\bmasons?\b|\broofers?\b",
    ),
    _rule(
        "CONSTRUCTION",
        r"\bsuperintend[ae]nt\b|\bestimators?\b|\blabou?r(?:er|ers)?\b|\bproject manager\b",
        industry=r"\bconstruction\b",
    ),
    _rule(
        "AUTOMOBILE",
        r"\bauto(?:motive|mobile)?\b.*\b(?:technician|mechanic)s?\b|\bmechanics?\b"
        r"|\bservice advisor\b|\bdetailer\b|\boil change\b|\bauto ?body\b|\bcollision\b",
    ),
    _rule("AUTOMOBILE", r"\btechnicians?\b", industry=r"\bmotor vehicle\b"),
    _rule("APPAREL", r"\bapparel\b|\bfashion\b|\bgarment\b|\bseamstress\b|\btailor\b"),
    _rule("ARTS", r"\bartists?\b|\bart director\b|\bmuseum\b|\bcurator\b|\btheat(?:er|re)\b"),
    _rule("ACCOUNTANT", _SUPPORT_ROLE, function=r"^\s*accounting/auditing\b"),
    _rule("HR", _SUPPORT_ROLE, function=r"^\s*human resources\b"),
)


def job_category(title: str, job_function: str, industry: str) -> str | None:
    """The resume category of a job posting, or ``None`` when none is clear.

    First matching rule of :data:`RULES` wins. Examples: ``("High School Math Teacher",
    "Education and Training", "...")`` -> ``"TEACHER"``; ``("Software Sales
    Representative", "", "")`` -> ``"SALES"``; ``("Technician", "", "Motor Vehicle
    Manufacturing")`` -> ``"AUTOMOBILE"``; ``("Operations Manager", "Management and
    Manufacturing", "Retail")`` -> ``None``.

    Args:
        title: the posting's title.
        job_function: LinkedIn's job function ("Accounting/Auditing and Finance"); may be "".
        industry: LinkedIn's industry ("Construction"); may be "".

    Returns:
        One of :data:`CATEGORIES`, or ``None``. Raises nothing.
    """
    for rule in RULES:
        if rule.matches(title, job_function, industry):
            return rule.category
    return None


class _Posting(Protocol):
    @property
    def title(self) -> str: ...

    @property
    def job_function(self) -> str: ...

    @property
    def industry(self) -> str: ...


def mapping_report(postings: Iterable[_Posting]) -> dict[str, int]:
    """How many postings map to each category: every one of :data:`CATEGORIES` (zeros
    included, in that order) plus ``"unmapped"``; the counts sum to the number of postings.

    Input: anything with ``title``, ``job_function`` and ``industry`` strings (e.g.
    :class:`search_service.gigs.jobs_csv.JobPosting`). Raises nothing.
    """
    counts = dict.fromkeys((*CATEGORIES, UNMAPPED), 0)
    for posting in postings:
        category = job_category(posting.title, posting.job_function, posting.industry)
        counts[category or UNMAPPED] += 1
    return counts

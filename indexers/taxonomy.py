"""Skill taxonomy: canonical skill names and their aliases.

Students and employers spell the same skill many ways ("JS", "ReactJS", "MS Excel").
This module maps those spellings onto one canonical, lowercase name so that a skill
stored at write time (profile skills, project skills) and a skill asked for at query
time (skill filters, free query text) meet on the same keyword.

Source of the list: curated by hand for Gigsy from common job-posting skill names;
aliases are common spellings. Nothing here is copied from a public list.

Rules the table keeps (enforced at import and by the tests):

* every canonical name is already normalised (lowercase, trimmed, single spaces);
* no canonical name is an alias of another canonical name, and no alias (nor its
  punctuation-free form) belongs to two canonical names, so normalising is idempotent;
* aliases that are ordinary English words or single letters in running text are kept
  out of :func:`canonicalise_query` (see :data:`TEXT_UNSAFE_ALIASES`);
  :func:`extract_skills`, which reads skills out of job descriptions with the same
  matching, also skips canonical names that read as something else there (a bare "C",
  "go", lowercase "excel").

This module imports nothing from ``search_service`` and reads no settings.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from functools import lru_cache
from types import MappingProxyType

from indexers.documents import normalise_keyword

__all__ = [
    "SKILL_ALIASES",
    "TEXT_UNSAFE_ALIASES",
    "canonical_skills",
    "canonicalise_query",
    "extract_skills",
    "normalise_skill",
    "normalise_skills",
]

# Canonical name -> aliases. Canonical names are lowercase; aliases may be written in any
# case/spacing (they are normalised when the index is built).
_TABLE: dict[str, tuple[str, ...]] = {
    # --- Programming languages -------------------------------------------------------
    "python": ("py", "python3", "python 3", "cpython"),
    "javascript": ("js", "ecmascript", "es6", "vanilla js", "vanilla javascript"),
    "typescript": ("ts",),
    "java": ("core java", "java se"),
    "kotlin": (),
    "swift": (),
    "objective-c": ("objc", "obj-c"),
    "c": ("c language", "ansi c", "c programming language"),
    "c++": ("cpp", "c plus plus", "cplusplus"),
    "c#": ("c sharp", "csharp"),
    "go": ("golang", "go lang", "go language"),
    "rust": ("rust lang", "rustlang"),
    "ruby": (),
    "php": ("php 7", "php 8"),
    "r": ("r language", "rlang"),
    "matlab": (),
    "scala": (),
    "dart": (),
    "sql": ("structured query language",),
    "bash": ("bash scripting", "shell scripting", "shell script"),
    "powershell": ("power shell",),
    "vba": ("excel vba", "visual basic for applications"),
    "html": ("html5", "html 5"),
    "css": ("css3", "css 3"),
    "sass": ("scss",),
    # --- Web, mobile and game frameworks ---------------------------------------------
    "react": ("react.js", "reactjs"),
    "react native": ("react-native",),
    "angular": ("angularjs", "angular.js"),
    "vue": ("vue.js", "vuejs"),
    "svelte": ("svelte.js", "sveltejs"),
    "next.js": ("nextjs",),
    "node.js": ("nodejs", "node"),
    "express": ("express.js", "expressjs"),
    "jquery": (),
    "bootstrap": ("twitter bootstrap",),
    "tailwind css": ("tailwind", "tailwindcss"),
    "redux": ("redux.js", "reduxjs"),
    "graphql": ("graph ql",),
    "rest api": ("restful api", "restful apis", "rest apis", "restful services"),
    "django": (),
    "flask": (),
    "fastapi": ("fast api",),
    "spring boot": ("springboot",),
    "ruby on rails": ("rails", "ruby-on-rails"),
    "laravel": (),
    "asp.net": ("aspnet", "asp.net core", "asp.net mvc"),
    ".net": ("dotnet", "dot net", ".net core", ".net framework"),
    "wordpress": (),
    "shopify": (),
    "flutter": (),
    "android": ("android development", "android sdk"),
    "ios": ("ios development",),
    "unity": ("unity3d", "unity 3d", "unity engine"),
    "unreal engine": ("unreal", "ue4", "ue5"),
    # --- Data, analytics and machine learning ----------------------------------------
    "machine learning": ("ml",),
    "deep learning": ("deep neural networks",),
    "artificial intelligence": (),
    "natural language processing": ("nlp",),
    "computer vision": (),
    "data analysis": ("data analytics", "analysing data", "analyzing data"),
    "data science": (),
    "data visualisation": ("data visualization", "data viz", "dataviz"),
    "statistics": ("stats", "statistical analysis"),
    "pandas": (),
    "numpy": (),
    "scikit-learn": ("sklearn", "scikit"),
    "tensorflow": ("tensorflow 2",),
    "pytorch": ("torch",),
    "keras": (),
    "jupyter": ("jupyter notebook", "jupyter notebooks", "jupyterlab", "ipython"),
    "matplotlib": (),
    "seaborn": (),
    "spark": ("apache spark", "pyspark"),
    "kafka": ("apache kafka",),
    "tableau": (),
    "power bi": ("microsoft power bi", "ms power bi"),
    "looker studio": ("google data studio", "data studio"),
    "llm": ("llms", "large language model", "large language models"),
    "prompt engineering": (),
    "hugging face": ("hugging face transformers",),
    "opencv": (),
    "spss": ("ibm spss",),
    # --- Databases -------------------------------------------------------------------
    "postgresql": ("postgres", "psql", "pgsql"),
    "mysql": (),
    "sqlite": ("sqlite3",),
    "mongodb": ("mongo",),
    "redis": (),
    "elasticsearch": (),
    "firebase": (),
    "sql server": ("mssql", "ms sql", "ms sql server", "microsoft sql server"),
    "nosql": (),
    "snowflake": (),
    "bigquery": ("google bigquery",),
    # --- Cloud, devops and security --------------------------------------------------
    "aws": ("amazon web services",),
    "google cloud": ("gcp", "google cloud platform"),
    "azure": ("microsoft azure", "ms azure"),
    "docker": (),
    "kubernetes": ("k8s",),
    "terraform": (),
    "ci/cd": ("continuous integration", "continuous delivery", "continuous deployment"),
    "git": (),
    "github": (),
    "jenkins": (),
    "linux": ("gnu/linux",),
    "devops": (),
    "cybersecurity": ("cyber security", "information security", "infosec"),
    "penetration testing": ("pentesting", "pentest"),
    "computer networking": ("network engineering", "network administration"),
    # --- Engineering practice --------------------------------------------------------
    "unit testing": ("unit tests",),
    "test automation": ("automated testing", "automation testing"),
    "quality assurance": ("qa", "software testing"),
    "selenium": (),
    "jest": (),
    "pytest": ("py.test",),
    "agile": ("agile methodology", "agile methodologies"),
    "scrum": (),
    "jira": ("atlassian jira",),
    "object-oriented programming": ("oop",),
    "data structures": ("data structures and algorithms", "dsa"),
    "web development": ("web dev",),
    "frontend development": ("frontend", "front-end development"),
    "backend development": ("backend", "back-end development"),
    "full-stack development": ("full stack", "fullstack"),
    "mobile development": ("mobile app development", "app development"),
    "game development": ("gamedev", "game dev"),
    "arduino": (),
    "raspberry pi": ("rpi", "raspi"),
    # --- Office and productivity tools -----------------------------------------------
    "excel": ("ms excel", "microsoft excel"),
    "word": ("ms word", "microsoft word"),
    "powerpoint": ("ms powerpoint", "microsoft powerpoint", "power point", "ppt"),
    "outlook": ("ms outlook", "microsoft outlook"),
    "microsoft office": ("ms office", "office 365", "microsoft 365", "m365", "o365"),
    "microsoft teams": ("ms teams",),
    "google sheets": ("gsheets", "google spreadsheets"),
    "google docs": ("gdocs",),
    "google workspace": ("g suite", "google apps"),
    "notion": (),
    "slack": (),
    "trello": (),
    "asana": (),
    "salesforce": ("sfdc",),
    "hubspot": (),
    "quickbooks": ("intuit quickbooks",),
    "data entry": (),
    "typing": ("touch typing",),
    "bookkeeping": ("book keeping",),
    "accounting": (),
    "financial modelling": ("financial modeling",),
    "project management": ("project mgmt",),
    "product management": (),
    "administrative support": (
        "admin support",
        "office administration",
        "administrative assistance",
    ),
    "virtual assistance": ("virtual assistant",),
    "note taking": (),
    # --- Design, media and creative tools --------------------------------------------
    "photoshop": ("adobe photoshop",),
    "illustrator": ("adobe illustrator",),
    "indesign": ("adobe indesign",),
    "premiere pro": ("adobe premiere", "adobe premiere pro"),
    "after effects": ("adobe after effects",),
    "lightroom": ("adobe lightroom",),
    "adobe creative cloud": ("adobe creative suite", "creative cloud", "adobe cc"),
    "figma": (),
    "sketch": (),
    "canva": (),
    "blender": (),
    "autocad": (),
    "final cut pro": ("final cut", "fcpx"),
    "graphic design": ("graphics design",),
    "ui design": ("user interface design",),
    "ux design": ("user experience design", "ux"),
    "ui/ux design": ("ui/ux", "ux/ui", "ux/ui design"),
    "user research": ("ux research",),
    "user testing": ("usability testing",),
    "web design": (),
    "logo design": (),
    "illustration": (),
    "animation": (),
    "motion graphics": (),
    "3d modelling": ("3d modeling",),
    "video editing": (),
    "photography": (),
    "videography": (),
    "branding": (),
    "wireframing": ("wireframes",),
    "prototyping": (),
    "music production": ("audio production",),
    # --- Marketing, writing and languages work ---------------------------------------
    "seo": ("search engine optimisation", "search engine optimization"),
    "sem": ("search engine marketing",),
    "google ads": ("adwords", "google adwords"),
    "google analytics": ("ga4", "google analytics 4"),
    "social media marketing": ("smm", "social media management"),
    "content marketing": (),
    "content writing": ("web content writing",),
    "copywriting": (),
    "email marketing": ("e-mail marketing",),
    "digital marketing": ("online marketing",),
    "marketing": (),
    "market research": (),
    "mailchimp": (),
    "facebook ads": ("meta ads", "fb ads"),
    "blogging": (),
    "journalism": (),
    "proofreading": (),
    "editing": (),
    "translation": ("translating",),
    "transcription": (),
    "technical writing": (),
    "creative writing": (),
    # --- Business, service and people skills -----------------------------------------
    "customer service": ("customer care", "client service"),
    "it support": ("helpdesk", "help desk", "technical support", "tech support"),
    "sales": (),
    "cold calling": (),
    "lead generation": ("lead gen",),
    "business development": ("bizdev", "biz dev"),
    "crm": ("customer relationship management",),
    "communication": ("communication skills", "communications"),
    "public speaking": (),
    "teamwork": ("team player",),
    "leadership": (),
    "time management": (),
    "problem solving": ("problem-solving",),
    "event planning": ("event management", "events management"),
    "event staffing": ("event staff",),
    "brand ambassador": ("promo staff",),
    "hospitality": (),
    "bartending": ("mixology",),
    "barista": (),
    "waiting tables": ("waitressing", "waitering", "table service"),
    "food preparation": ("food prep",),
    "cooking": (),
    "cleaning": (),
    "retail": ("retail sales",),
    "cashier": ("cash handling",),
    "merchandising": ("visual merchandising",),
    "stock management": ("inventory management",),
    "delivery driving": ("delivery driver", "courier"),
    "warehouse operations": ("warehouse work",),
    "babysitting": ("nannying",),
    "childcare": (),
    "pet sitting": (),
    "dog walking": (),
    "tutoring": ("tutor", "private tutoring"),
    "math tutoring": ("maths tutoring", "mathematics tutoring"),
    "teaching": (),
    "mathematics": ("maths", "math"),
    "fitness instruction": ("personal training", "personal trainer"),
    "lifeguarding": ("lifeguard",),
}

#: Aliases that :func:`canonicalise_query` must not rewrite inside free text because they
#: are ordinary English words (or read as something else) in a sentence. They still map to
#: their canonical name in :func:`normalise_skill`, where the input is a skill field.
#: Any alias of one character (after removing punctuation) is treated as unsafe too.
TEXT_UNSAFE_ALIASES: frozenset[str] = frozenset(
    {
        "node",  # graph/tree "node"
        "rails",  # train rails, guard rails
        "torch",  # a torch
        "ts",  # too many other meanings as bare letters
        "tutor",  # "looking for a tutor" should stay a person, not an activity
        "unreal",
        "scikit",
        # Prefixes of job titles: "UX designer" must not become "ux design designer".
        "ux",
        "ui/ux",
        "ux/ui",
        "frontend",
        "backend",
        "full stack",
        "fullstack",
    }
)

#: Read-only view of the table: canonical name -> aliases (as written in the table).
SKILL_ALIASES: Mapping[str, tuple[str, ...]] = MappingProxyType(_TABLE)

# Separators that may appear between the word parts of a skill name ("react.js",
# "react js", "react-js", "ci/cd"). Only removed when internal (between two other characters),
# so ".net" keeps its leading dot and "c++"/"c#" are untouched.
_SEP_CHARS = r"\s._/\-"
_INTERNAL_SEP = re.compile(rf"(?<=[^{_SEP_CHARS}])[{_SEP_CHARS}]+(?=[^{_SEP_CHARS}])")
_SPLIT_SEP = re.compile(rf"([{_SEP_CHARS}]+)")


def _squash(key: str) -> str:
    """Drop internal separators: ``"react js"`` / ``"react.js"`` -> ``"reactjs"``."""
    return _INTERNAL_SEP.sub("", key)


def _build_indexes() -> tuple[dict[str, str], dict[str, str]]:
    """Exact and separator-free lookups, key -> canonical; raises ValueError on a clash."""
    exact: dict[str, str] = {}
    squashed: dict[str, str] = {}

    def add(raw: str, canonical: str) -> None:
        key = normalise_keyword(raw)
        if not key:
            raise ValueError(f"empty alias for skill {canonical!r}")
        for index, k in ((exact, key), (squashed, _squash(key))):
            owner = index.setdefault(k, canonical)
            if owner != canonical:
                raise ValueError(f"skill key {k!r} claimed by {owner!r} and {canonical!r}")

    for canonical in _TABLE:
        if canonical != normalise_keyword(canonical):
            raise ValueError(f"canonical skill {canonical!r} is not normalised")
        add(canonical, canonical)
    for canonical, aliases in _TABLE.items():
        for alias in aliases:
            add(alias, canonical)
    return exact, squashed


_EXACT, _SQUASHED = _build_indexes()
_CANONICAL: frozenset[str] = frozenset(_TABLE)


def _phrase_pattern(phrase: str) -> str:
    """Regex for a normalised phrase; internal separators match any separator run or none."""
    pieces = _SPLIT_SEP.split(phrase)
    out: list[str] = []
    for i, piece in enumerate(pieces):
        if i % 2 == 0:
            out.append(re.escape(piece))
        elif 0 < i < len(pieces) - 1 and pieces[i - 1] and pieces[i + 1]:
            out.append(f"[{_SEP_CHARS}]*")
        else:
            out.append(re.escape(piece))
    return "".join(out)


def _text_phrases() -> list[str]:
    """Canonical names and text-safe aliases, normalised, longest first (ties alphabetical).

    Canonical names are included so that a longer canonical ("math tutoring") wins over a
    shorter alias inside it ("math"); a canonical match is left as written.
    """
    phrases: set[str] = set(_TABLE)
    for aliases in _TABLE.values():
        for alias in aliases:
            key = normalise_keyword(alias)
            if key in TEXT_UNSAFE_ALIASES or len(_squash(key)) <= 1:
                continue
            phrases.add(key)
    return sorted(phrases, key=lambda p: (-len(p), p))


# Word boundaries: not glued to a word character, "+" or "#", and not part of a dotted or
# hyphenated token ("node.js" must not expose "js"; "jsx" and "adjs" must not match "js").
_QUERY_RE = re.compile(
    r"(?<![\w+#])(?<!\w[.\-])(?:"
    + "|".join(_phrase_pattern(p) for p in _text_phrases())
    + r")(?![\w+#])(?![.\-]\w)",
    re.IGNORECASE,
)


@lru_cache(maxsize=65536)
def normalise_skill(name: str) -> str:
    """Normalise one skill name and map a known alias to its canonical name.

    The name is lowercased, trimmed and inner whitespace collapsed (as
    :func:`indexers.documents.normalise_keyword`), then looked up among the aliases, first
    as written and then with internal separators (space, ``.``, ``-``, ``_``, ``/``) removed,
    so ``"React.js"``, ``"ReactJS"`` and ``"react js"`` all become ``"react"``. Unknown
    skills come back normalised but otherwise unchanged. Idempotent.

    Examples: ``"JS"`` -> ``"javascript"``; ``" MS  Excel "`` -> ``"excel"``;
    ``"k8s"`` -> ``"kubernetes"``; ``"Underwater Basket Weaving"`` ->
    ``"underwater basket weaving"``; ``"   "`` -> ``""``.

    Input: any string. Output: the canonical or normalised name (``""`` for blank input).
    Raises nothing. Memoised (an LRU of 65,536 names): hydration normalises every
    skill of every hit it shows.

    Source of the table: curated by hand for Gigsy from common job-posting skill names;
    aliases are common spellings.
    """
    key = normalise_keyword(name)
    if not key:
        return key
    found = _EXACT.get(key)
    if found is None:
        found = _SQUASHED.get(_squash(key))
    return key if found is None else found


def normalise_skills(names: Iterable[str]) -> list[str]:
    """Normalise many skill names: canonical, de-duplicated, first-seen order, no blanks.

    Example: ``["React.js", "reactjs", " ", "JS", "Cooking"]`` ->
    ``["react", "javascript", "cooking"]``.

    Input: any iterable of strings. Output: a new list. Raises nothing.
    Source of the table: curated by hand for Gigsy from common job-posting skill names.
    """
    seen: dict[str, None] = {}
    for name in names:
        skill = normalise_skill(name)
        if skill:
            seen.setdefault(skill, None)
    return list(seen)


def _replace(match: re.Match[str]) -> str:
    written = match.group(0)
    key = normalise_keyword(written)
    if key in _TABLE:
        return written  # already a canonical name: leave the user's casing alone
    return _EXACT.get(key) or _SQUASHED.get(_squash(key), written)


def canonicalise_query(text: str) -> str:
    """Rewrite whole-word skill aliases inside free query text to canonical names.

    Matching is case-insensitive, prefers the longest phrase, and respects word
    boundaries: ``"JS developer"`` -> ``"javascript developer"``; ``"React.js and MS
    Excel"`` -> ``"react and excel"``; ``"jsx"``, ``"adjs"`` and ``"node.js"`` are left
    alone. Only aliases that are safe in running text are used: single letters and the
    words in :data:`TEXT_UNSAFE_ALIASES` (``"node"``, ``"ts"``, ...) are not rewritten, and
    canonical names (``"go"``, ``"word"``, ``"excel"``) already written are kept as written.
    Everything outside a rewritten alias (spacing, case, punctuation) is kept.

    Input: any string. Output: the rewritten string, or ``text`` itself (the same object)
    when nothing changed. Raises nothing. Memoised (an LRU of 4,096 texts): a search
    and its next pages, facets and saved runs rewrite the same text.

    Source of the table: curated by hand for Gigsy from common job-posting skill names;
    aliases are common spellings.
    """
    if not text:
        return text
    rewritten = _rewritten(text)
    return text if rewritten == text else rewritten


@lru_cache(maxsize=4096)
def _rewritten(text: str) -> str:
    return _QUERY_RE.sub(_replace, text)


# Canonical names that are ordinary English words in a job description. A query leaves them
# as written, so canonicalise_query needs no rule for them; extraction does. Checked on the
# LinkedIn job sample (../shared/data/jobs): "go above and beyond", "react to unusual
# situations", "excel in sales", "a positive outlook", "word of mouth", "we are agile",
# "slack spans", "Toyota Express Maintenance", "Target Sketch".
#: Extracted only when written with a capital first letter ("Excel", "Word", "React").
_PROSE_CANONICALS: frozenset[str] = frozenset(
    {
        "agile",
        "bootstrap",
        "dart",
        "excel",
        "flask",
        "flutter",
        "jest",
        "notion",
        "outlook",
        "react",
        "ruby",
        "rust",
        "slack",
        "spark",
        "unity",
        "word",
    }
)
#: Never extracted as written bare, whatever the case (titles and company names are
#: capitalised: "Toyota Express", "Swift Transportation"); their aliases still count
#: ("golang", "express.js").
_BARE_UNSAFE_CANONICALS: frozenset[str] = frozenset({"express", "go", "sketch", "swift"})


def _match_canonical(written: str) -> str | None:
    """The canonical skill a :data:`_QUERY_RE` match names, or ``None`` when it is not safe
    to read it as a skill in running text."""
    key = normalise_keyword(written)
    canonical = key if key in _TABLE else _EXACT.get(key) or _SQUASHED.get(_squash(key))
    if canonical is None:
        return None
    if _squash(key) == _squash(canonical):  # written as the canonical name itself
        if len(_squash(key)) <= 1 or canonical in _BARE_UNSAFE_CANONICALS:
            return None  # a bare "C" or "R" reads as a letter in running text
        if canonical in _PROSE_CANONICALS and not written[0].isupper():
            return None
    return canonical


def extract_skills(text: str, *, limit: int = 15) -> list[str]:
    """Canonical skill names mentioned in free text (a job description, a title).

    Uses the same matching as :func:`canonicalise_query`: case-insensitive, longest phrase
    first, word-boundary safe, text-safe aliases only (nothing from
    :data:`TEXT_UNSAFE_ALIASES`). Canonical names written in the text count too, except
    where they read as something else in a sentence: single letters (``"C"``, ``"R"``)
    and a few ordinary words (``"go"``, ``"express"``, ``"swift"``, ``"sketch"``) never
    count written bare (their longer aliases do: ``"R language"``, ``"golang"``,
    ``"express.js"``), and product names that are English words (``"excel"``,
    ``"word"``, ``"outlook"``, ``"react"``, ``"agile"``, ...) count only when capitalised
    (``"Excel"``, not "excel in a team").

    Order: most mentions first, ties by first occurrence; each skill once.

    Examples: ``"React.js dev; we love reactjs and MS Excel"`` -> ``["react", "excel"]``;
    ``"JS, Excel, js"`` -> ``["javascript", "excel"]``; ``"node.js, not a node"`` ->
    ``["node.js"]``; ``"Grade C or R; go above and beyond; excel in a team"`` -> ``[]``.

    Args:
        text: any string.
        limit: at most this many skills are returned (0 gives ``[]``).

    Returns:
        A new list of canonical names, at most ``limit`` long.

    Raises:
        ValueError: ``limit`` is negative.

    Source of the table: curated by hand for Gigsy from common job-posting skill names;
    aliases are common spellings.
    """
    if limit < 0:
        raise ValueError(f"limit must be >= 0, got {limit}")
    counts: dict[str, int] = {}  # insertion order = first occurrence
    for match in _QUERY_RE.finditer(text):
        canonical = _match_canonical(match.group(0))
        if canonical is not None:
            counts[canonical] = counts.get(canonical, 0) + 1
    # sorted() is stable, so ties keep their first-occurrence order.
    return sorted(counts, key=lambda skill: -counts[skill])[:limit]


def canonical_skills() -> frozenset[str]:
    """All canonical skill names, e.g. contains ``"javascript"``, ``"excel"``, ``"c++"``.

    Output: a frozenset of lowercase names. Raises nothing. Source: curated by hand for
    Gigsy from common job-posting skill names.
    """
    return _CANONICAL

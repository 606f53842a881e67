"""SQLModel tables and API schemas. No I/O happens in this package."""

from models.api_key import ApiKey
from models.common import CamelModel, now_ms
from models.index_state import IndexState
from models.profile import (
    SECTIONS,
    Availability,
    Education,
    EducationItem,
    Language,
    LanguageItem,
    Profile,
    ProfileDraft,
    Project,
    ProjectItem,
    Skill,
    SkillItem,
    UserDraft,
    Visibility,
    WorkExperience,
    WorkItem,
)
from models.search import (
    MAX_QUERY_LENGTH,
    Explanation,
    SearchFilters,
    SearchHit,
    SearchMode,
    SearchRequest,
    SearchResponse,
)
from models.user import Role, User, UserStatus

__all__ = [
    "MAX_QUERY_LENGTH",
    "SECTIONS",
    "ApiKey",
    "Availability",
    "CamelModel",
    "Education",
    "EducationItem",
    "Explanation",
    "IndexState",
    "Language",
    "LanguageItem",
    "Profile",
    "ProfileDraft",
    "Project",
    "ProjectItem",
    "Role",
    "SearchFilters",
    "SearchHit",
    "SearchMode",
    "SearchRequest",
    "SearchResponse",
    "Skill",
    "SkillItem",
    "User",
    "UserDraft",
    "UserStatus",
    "Visibility",
    "WorkExperience",
    "WorkItem",
    "now_ms",
]

"""Typed callers: who a request acts as, once its credential's roles are checked.

Routes take these instead of checking roles themselves, so a rule about who may
do what lives in one constructor. Built by the dependencies of
``search_service/deps.py``; no FastAPI or SQL here, so every domain may use them.
"""

from __future__ import annotations

from dataclasses import dataclass

from models import Gig, Role, User

__all__ = ["GigManager"]


@dataclass(frozen=True, slots=True)
class GigManager:
    """A caller acting on gigs as their manager: an employer (their own gigs) or
    an admin (any gig).

    The only way to get one is :meth:`of`, from the roles the request's credential
    carries, so every owner-only path (edits, deletion, decisions, candidates,
    applicants, drafts) checks the role and the ownership together: a student key
    of a user who also owns gigs, or an employer demoted by Clerk, is not a manager.

    Attributes:
        user: the acting user.
        admin: the credential carries the admin role (manages every gig).
    """

    user: User
    admin: bool

    @classmethod
    def of(cls, user: User | None, roles: frozenset[str]) -> GigManager | None:
        """The manager acting with ``roles``, or ``None`` when the credential carries
        neither the employer nor the admin role, or belongs to no user."""
        if user is None or user.id is None:
            return None
        admin = Role.ADMIN.value in roles
        if not admin and Role.EMPLOYER.value not in roles:
            return None
        return cls(user=user, admin=admin)

    def manages(self, gig: Gig) -> bool:
        """True when this manager may act as ``gig``'s owner."""
        return self.admin or gig.owner_id == self.user.id

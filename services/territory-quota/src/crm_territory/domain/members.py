"""Teams and members of the sales force, and the access scope a member's places give them.

A member holds one role in one territory (and, for RMs and team leads, one team). What a person
may see is the union of their places: each territory with all its descendants (prefix
semantics, see `hierarchy.includes`), the teams that sit in those territories plus their own,
and the branches of those territories. The scope is returned minimal (no territory listed under
another), because that is what goes into a token's claims.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum

from crm_common.products import ProductType
from crm_territory.domain.hierarchy import Hierarchy, includes, minimal_cover


class Role(StrEnum):
    RM = "RM"
    TEAM_LEAD = "TEAM_LEAD"
    BRANCH_MANAGER = "BRANCH_MANAGER"
    REGIONAL_HEAD = "REGIONAL_HEAD"


# Roles that take accounts and leads by rule; managers see, they do not carry a book.
OWNER_ROLES = frozenset({Role.RM, Role.TEAM_LEAD})


@dataclass(frozen=True)
class Team:
    team_id: str
    territory_id: str
    name: str


@dataclass(frozen=True)
class Member:
    subject_id: str
    territory_id: str
    role: Role
    team_id: str = ""
    languages: frozenset[str] = frozenset()
    skills: frozenset[ProductType] = frozenset()
    # Largest open book taken by rule; 0 means no cap.
    capacity: int = 0
    active: bool = True
    display_name: str = ""

    @property
    def takes_assignments(self) -> bool:
        return self.active and self.role in OWNER_ROLES


@dataclass(frozen=True)
class AccessScope:
    subject_id: str
    # (territory_id, role), minimal: no territory lies under another one of the list.
    territories: list[tuple[str, Role]] = field(default_factory=list)
    team_ids: list[str] = field(default_factory=list)
    branch_ids: list[str] = field(default_factory=list)

    def can_see(self, territory_id: str) -> bool:
        return any(includes(granted, territory_id) for granted, _ in self.territories)


def access_scope(subject_id: str, members: Iterable[Member], teams: Iterable[Team], hierarchy: Hierarchy) -> AccessScope:
    """The scope of one person from their places; inactive places grant nothing."""
    places = [m for m in members if m.subject_id == subject_id and m.active and m.territory_id in hierarchy]
    roles: dict[str, Role] = {}
    for place in places:
        # The most senior role wins when a person holds two places in the same territory.
        current = roles.get(place.territory_id)
        if current is None or _SENIORITY[place.role] > _SENIORITY[current]:
            roles[place.territory_id] = place.role
    roots = minimal_cover(roles)
    team_ids = {m.team_id for m in places if m.team_id}
    team_ids.update(t.team_id for t in teams if any(includes(root, t.territory_id) for root in roots))
    branch_ids: set[str] = set()
    for root in roots:
        branch_ids.update(t.branch_id for t in (hierarchy.get(i) for i in hierarchy.descendant_ids(root)) if t.branch_id)
    return AccessScope(subject_id, [(root, roles[root]) for root in roots], sorted(team_ids), sorted(branch_ids))


_SENIORITY = {Role.RM: 0, Role.TEAM_LEAD: 1, Role.BRANCH_MANAGER: 2, Role.REGIONAL_HEAD: 3}

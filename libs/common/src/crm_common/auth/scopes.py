"""Data scopes: which customer records a caller reaches, declared once per RPC, enforced in SQL.

Each servicer's `PERMISSIONS` maps every RPC to an `Access`: the permission it needs and how
the object it touches is scoped (`Scope.NONE`: no customer data; `Scope.RECORD`: filtered by
the caller's reach; `Scope.BANK`: bank-wide by design, for the roles holding its permission).
The auth interceptor resolves the caller's `DataScope` (its roles' reach and the teams,
branches and territories its token carries) and sets it for the call; use cases read it with
`current_data_scope()` and repositories turn it into a WHERE with `DataScope.condition`, so
gets, lists and aggregates never see a row outside it (docs/security.md#data-scopes).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from crm_common.auth.principal import Principal, current_principal

if TYPE_CHECKING:
    # Not at run time: the role table imports this module, and registry readers stay light.
    from sqlalchemy import ColumnElement


class Reach(StrEnum):
    """How far a role sees. Every caller reaches its own book (OWN) whatever its roles."""

    OWN = "OWN"  # objects whose owner is the caller
    TEAM = "TEAM"  # ... or whose team is one of the caller's teams
    BRANCH = "BRANCH"  # ... or whose branch is one of the caller's branches
    TERRITORY = "TERRITORY"  # ... or whose territory is one of the caller's, or below one
    ALL = "ALL"  # every object


class Scope(StrEnum):
    """How an RPC's object is scoped, declared beside its permission."""

    NONE = "NONE"  # no customer data (pipelines, teams, metadata)
    RECORD = "RECORD"  # customer records, filtered by the caller's reach
    BANK = "BANK"  # bank-wide by design (compliance, privacy, stewardship, capture dedupe)


@dataclass(frozen=True)
class Access:
    """What one RPC needs: a permission (None: any authenticated caller) and its data scope."""

    permission: str | None
    scope: Scope

    def __post_init__(self) -> None:
        if not isinstance(self.scope, Scope):
            raise TypeError(f"Access.scope must be a Scope, not {self.scope!r}")


def _like_prefix(value: str) -> str:
    """`value.` followed by anything, as a LIKE pattern with its metacharacters escaped."""
    escaped = value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"{escaped}.%"


def territory_includes(territory: str, candidate: str) -> bool:
    """Territory ids are dotted paths: `VN.NORTH` includes itself and `VN.NORTH.HN.B01`."""
    return bool(territory) and (candidate == territory or candidate.startswith(f"{territory}."))


@dataclass(frozen=True)
class DataScope:
    """The records one caller reaches: its own book plus what its roles' reaches add."""

    subject: str
    reaches: frozenset[Reach] = frozenset({Reach.OWN})
    teams: tuple[str, ...] = ()
    branches: tuple[str, ...] = ()
    territories: tuple[str, ...] = ()
    # Also reach records placed nowhere yet (no owner, team, branch or territory): the queue a
    # service lets its distributors see (lead: holders of leads.assign).
    unassigned: bool = False

    @classmethod
    def bank_wide(cls, subject: str = "") -> DataScope:
        return cls(subject, frozenset({Reach.OWN, Reach.ALL}))

    @classmethod
    def of(cls, principal: Principal) -> DataScope:
        """The widest union of the principal's roles' reaches, with the ids its token carries.
        A reach whose claim is missing adds nothing (fail closed)."""
        from crm_common.auth.roles import ROLE_REACH

        reaches = {Reach.OWN} | {ROLE_REACH[r] for r in principal.roles if r in ROLE_REACH}
        return cls(
            principal.subject,
            frozenset(reaches),
            tuple(t for t in principal.teams if t),
            tuple(b for b in principal.branches if b),
            tuple(t for t in principal.territories if t),
        )

    @property
    def everything(self) -> bool:
        return Reach.ALL in self.reaches

    def _ids(self, reach: Reach) -> tuple[str, ...]:
        if reach not in self.reaches:
            return ()
        return {Reach.TEAM: self.teams, Reach.BRANCH: self.branches, Reach.TERRITORY: self.territories}[reach]

    def covers(self, owner_id: str = "", team_id: str = "", branch_id: str = "", territory_id: str = "") -> bool:
        """Whether a record placed so is in scope (the in-memory twin of `condition`)."""
        if self.everything or (self.unassigned and not (owner_id or team_id or branch_id or territory_id)):
            return True
        return (
            (bool(owner_id) and owner_id == self.subject)
            or (bool(team_id) and team_id in self._ids(Reach.TEAM))
            or (bool(branch_id) and branch_id in self._ids(Reach.BRANCH))
            or any(territory_includes(t, territory_id) for t in self._ids(Reach.TERRITORY))
        )

    def condition(
        self,
        owner: ColumnElement[Any] | None = None,
        team: ColumnElement[Any] | None = None,
        branch: ColumnElement[Any] | None = None,
        territory: ColumnElement[Any] | None = None,
    ) -> ColumnElement[bool]:
        """The WHERE that keeps a table's rows to this scope, from the table's scoping columns
        (a column the table lacks: None, and that reach adds nothing there)."""
        from sqlalchemy import and_, false, func, or_, true

        if self.everything:
            return true()
        ors: list[ColumnElement[bool]] = []
        if owner is not None and self.subject:
            ors.append(owner == self.subject)
        if team is not None and self._ids(Reach.TEAM):
            ors.append(team.in_(self._ids(Reach.TEAM)))
        if branch is not None and self._ids(Reach.BRANCH):
            ors.append(branch.in_(self._ids(Reach.BRANCH)))
        if territory is not None:
            for t in self._ids(Reach.TERRITORY):
                # LIKE finds the subtree with an index (varchar_pattern_ops on PostgreSQL); the
                # prefix comparison keeps it exact where LIKE ignores case (SQLite).
                below = and_(territory.like(_like_prefix(t), escape="\\"), func.substr(territory, 1, len(t) + 1) == f"{t}.")
                ors.append(or_(territory == t, below))
        if self.unassigned:
            columns = [c for c in (owner, team, branch, territory) if c is not None]
            if columns:
                ors.append(and_(*(c == "" for c in columns)))
        return or_(*ors) if ors else false()


_current: ContextVar[DataScope | None] = ContextVar("crm_data_scope", default=None)


def current_data_scope() -> DataScope:
    """The scope the current RPC was given; outside an RPC, the current principal's (a worker's
    or a job's service principal reaches everything; no principal reaches nothing)."""
    scope = _current.get()
    return scope if scope is not None else DataScope.of(current_principal())


@contextlib.contextmanager
def use_data_scope(scope: DataScope) -> Iterator[DataScope]:
    token = _current.set(scope)
    try:
        yield scope
    finally:
        _current.reset(token)


def scope_for(principal: Principal, access: Access) -> DataScope:
    """The scope a call declared with `access` runs under."""
    if access.scope is Scope.BANK:
        return DataScope.bank_wide(principal.subject)
    return DataScope.of(principal)

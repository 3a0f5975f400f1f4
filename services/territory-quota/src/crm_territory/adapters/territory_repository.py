"""Storage of the territory half (SQLAlchemy Core): model versions, their territories and rules,
teams and members, subjects' attributes and the append-only account assignment history.

Bulk paths stream and write in batches: accounts are read with one server-side cursor (no
per-row round trips) and a realignment's moves are copied into `realignment_moves` and applied
with three set-based statements whose plans do not depend on the batch.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection, Row, and_, delete, func, insert, literal, or_, select, update

from crm_common.db import bulk_insert, upsert_insert
from crm_common.errors import NotFound
from crm_common.pagination import Page
from crm_common.products import ProductType
from crm_territory.adapters.territory_tables import (
    account_assignments,
    account_subjects,
    assignment_rules,
    lead_subjects,
    members,
    model_versions,
    open_opportunities,
    realignment_moves,
    round_robin_cursors,
    teams,
    territories,
)
from crm_territory.domain.hierarchy import Dimensions, Hierarchy, Level, ProductLine, Segment, Territory, WealthTier
from crm_territory.domain.members import OWNER_ROLES, Member, Role, Team
from crm_territory.domain.realignment import AccountState, Assignment
from crm_territory.domain.rules import Conditions, OwnerStrategy, Rule, Subject, SubjectKind

# Rows per COPY / INSERT batch of a bulk apply.
BATCH = 20_000


@dataclass(frozen=True)
class ModelVersionRow:
    version: int
    effective_date: date
    status: str
    note: str
    territory_count: int
    rule_count: int
    shadowed_rule_ids: list[str]
    created_at: datetime
    created_by: str
    updated_at: datetime
    updated_by: str
    applied_at: datetime | None
    applied_by: str
    realignment: dict[str, Any] | None


@dataclass(frozen=True)
class AssignmentEntry:
    """One entry of an account's history."""

    assignment_id: int
    account_id: str
    territory_id: str
    owner_id: str
    team_id: str
    rule_id: str
    model_version: int
    source: str
    override: bool
    effective_at: datetime
    ended_at: datetime | None
    reason: str
    assigned_by: str

    @property
    def assignment(self) -> Assignment:
        return Assignment(self.territory_id, self.owner_id, self.team_id, self.rule_id, self.override)


@dataclass(frozen=True)
class Move:
    """An account's new place in a bulk apply."""

    account_id: str
    territory_id: str
    owner_id: str
    team_id: str
    rule_id: str


@dataclass(frozen=True)
class LeadSubjectRow:
    subject: Subject
    territory_id: str
    owner_id: str
    rule_id: str


def conditions_to_json(c: Conditions) -> dict[str, Any]:
    return {
        "province_codes": sorted(c.province_codes),
        "branch_ids": sorted(c.branch_ids),
        "products": sorted(c.products),
        "tiers": sorted(c.tiers),
        "segments": sorted(c.segments),
        "languages": sorted(c.languages),
        "aum_min": c.aum_min,
        "aum_max": c.aum_max,
        "lead_score_min": c.lead_score_min,
        "lead_score_max": c.lead_score_max,
    }


def conditions_from_json(data: dict[str, Any]) -> Conditions:
    return Conditions(
        province_codes=frozenset(data["province_codes"]),
        branch_ids=frozenset(data["branch_ids"]),
        products=frozenset(ProductType(p) for p in data["products"]),
        tiers=frozenset(WealthTier(t) for t in data["tiers"]),
        segments=frozenset(Segment(s) for s in data["segments"]),
        languages=frozenset(data["languages"]),
        aum_min=data["aum_min"],
        aum_max=data["aum_max"],
        lead_score_min=data["lead_score_min"],
        lead_score_max=data["lead_score_max"],
    )


def _territory(row: Row[Any]) -> Territory:
    return Territory(
        territory_id=row.territory_id,
        code=row.code,
        parent_id=row.parent_id,
        name=row.name,
        level=Level(row.level),
        province_code=row.province_code,
        branch_id=row.branch_id,
        dimensions=Dimensions(
            ProductLine(row.product_line) if row.product_line else None,
            WealthTier(row.wealth_tier) if row.wealth_tier else None,
            Segment(row.segment) if row.segment else None,
        ),
    )


def _rule(row: Row[Any]) -> Rule:
    return Rule(
        rule_id=row.rule_id,
        priority=row.priority,
        territory_id=row.territory_id,
        strategy=OwnerStrategy(row.strategy),
        conditions=conditions_from_json(row.conditions),
        owner_id=row.owner_id,
        team_id=row.team_id,
        name=row.name,
    )


def _member(row: Row[Any]) -> Member:
    role = Role(row.role)
    return Member(
        subject_id=row.subject_id,
        territory_id=row.territory_id,
        role=role,
        team_id=row.team_id if role in OWNER_ROLES else "",
        languages=frozenset(row.languages),
        skills=frozenset(ProductType(s) for s in row.skills),
        capacity=row.capacity,
        active=row.active,
        display_name=row.display_name,
    )


def _account_subject(row: Any) -> Subject:
    return Subject(
        SubjectKind.ACCOUNT,
        row.account_id,
        province_code=row.province_code,
        branch_id=row.branch_id,
        products=frozenset(ProductType(p) for p in row.products),
        tier=WealthTier(row.tier) if row.tier else None,
        segment=Segment(row.segment) if row.segment else None,
        aum=row.aum,
        language=row.language,
    )


def _entry(row: Row[Any]) -> AssignmentEntry:
    return AssignmentEntry(**row._mapping)


class TerritoryRepository:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    # Model versions ---------------------------------------------------------------------------

    def next_version(self) -> int:
        return int(self.conn.execute(select(func.coalesce(func.max(model_versions.c.version), 0))).scalar_one()) + 1

    def add_version(self, row: ModelVersionRow, hierarchy: Hierarchy, rules: list[Rule]) -> None:
        self.conn.execute(insert(model_versions).values(**row.__dict__))
        rows = [
            {
                "model_version": row.version,
                "territory_id": t.territory_id,
                "code": t.code,
                "parent_id": t.parent_id,
                "name": t.name,
                "level": str(t.level),
                "province_code": t.province_code,
                "branch_id": t.branch_id,
                "product_line": t.dimensions.product_line or "",
                "wealth_tier": t.dimensions.wealth_tier or "",
                "segment": t.dimensions.segment or "",
            }
            for t in hierarchy
        ]
        for start in range(0, len(rows), BATCH):
            bulk_insert(self.conn, territories, rows[start : start + BATCH])
        rule_rows = [
            {
                "model_version": row.version,
                "rule_id": r.rule_id,
                "name": r.name,
                "priority": r.priority,
                "territory_id": r.territory_id,
                "strategy": str(r.strategy),
                "owner_id": r.owner_id,
                "team_id": r.team_id,
                "conditions": conditions_to_json(r.conditions),
            }
            for r in rules
        ]
        for start in range(0, len(rule_rows), BATCH):
            bulk_insert(self.conn, assignment_rules, rule_rows[start : start + BATCH])

    def version(self, version: int, for_update: bool = False) -> ModelVersionRow:
        query = select(model_versions).where(model_versions.c.version == version)
        if for_update:
            query = query.with_for_update()
        row = self.conn.execute(query).first()
        if row is None:
            raise NotFound("model version", str(version))
        return ModelVersionRow(**row._mapping)

    def version_in_force(self) -> ModelVersionRow | None:
        row = self.conn.execute(select(model_versions).where(model_versions.c.status == "APPLIED")).first()
        return ModelVersionRow(**row._mapping) if row is not None else None

    def planned_versions(self) -> list[int]:
        """PLANNED versions, newest first."""
        query = select(model_versions.c.version).where(model_versions.c.status == "PLANNED").order_by(model_versions.c.version.desc())
        return [int(v) for v in self.conn.execute(query).scalars()]

    def list_versions(self, page: Page) -> tuple[list[ModelVersionRow], int | None]:
        query = select(model_versions).order_by(model_versions.c.version.desc()).limit(page.size + 1)
        if page.after is not None:
            query = query.where(model_versions.c.version < int(page.after["v"]))
        rows = [ModelVersionRow(**r._mapping) for r in self.conn.execute(query)]
        more = len(rows) > page.size
        rows = rows[: page.size]
        return rows, rows[-1].version if more and rows else None

    def set_status(self, version: int, status: str, actor: str, now: datetime, **extra: Any) -> None:
        self.conn.execute(
            update(model_versions).where(model_versions.c.version == version).values(status=status, updated_at=now, updated_by=actor, **extra)
        )

    def hierarchy(self, version: int) -> Hierarchy:
        rows = self.conn.execute(select(territories).where(territories.c.model_version == version))
        return Hierarchy(_territory(r) for r in rows)

    def territory(self, version: int, territory_id: str) -> Territory:
        row = self.conn.execute(select(territories).where(territories.c.model_version == version, territories.c.territory_id == territory_id)).first()
        if row is None:
            raise NotFound("territory", territory_id)
        return _territory(row)

    def child_territories(self, version: int, territory_id: str) -> list[Territory]:
        rows = self.conn.execute(
            select(territories)
            .where(territories.c.model_version == version, territories.c.parent_id == territory_id)
            .order_by(territories.c.territory_id)
        )
        return [_territory(r) for r in rows]

    def list_territories(
        self, version: int, page: Page, within: str = "", level: str = "", province_code: str = ""
    ) -> tuple[list[Territory], str | None]:
        """In path order (a parent before its descendants), from the page token's id on."""
        t = territories.c
        query = select(territories).where(t.model_version == version)
        if within:
            query = query.where(or_(t.territory_id == within, t.territory_id.like(_prefix_pattern(within), escape="\\")))
        if level:
            query = query.where(t.level == level)
        if province_code:
            query = query.where(t.province_code == province_code)
        if page.after is not None:
            query = query.where(t.territory_id > str(page.after["id"]))
        rows = [_territory(r) for r in self.conn.execute(query.order_by(t.territory_id).limit(page.size + 1))]
        more = len(rows) > page.size
        rows = rows[: page.size]
        return rows, rows[-1].territory_id if more and rows else None

    def rules(self, version: int, territory_id: str = "") -> list[Rule]:
        query = select(assignment_rules).where(assignment_rules.c.model_version == version)
        if territory_id:
            query = query.where(assignment_rules.c.territory_id == territory_id)
        rows = self.conn.execute(query.order_by(assignment_rules.c.priority, assignment_rules.c.rule_id))
        return [_rule(r) for r in rows]

    # Teams and members ------------------------------------------------------------------------

    def put_team(self, team: Team, team_members: list[Member], now: datetime) -> None:
        stmt = upsert_insert(self.conn)(teams).values(
            team_id=team.team_id, territory_id=team.territory_id, name=team.name, created_at=now, updated_at=now
        )
        self.conn.execute(
            stmt.on_conflict_do_update(
                index_elements=[teams.c.team_id], set_={"territory_id": team.territory_id, "name": team.name, "updated_at": now}
            )
        )
        self.conn.execute(delete(members).where(members.c.team_id == team.team_id))
        if team_members:
            self.conn.execute(
                insert(members),
                [
                    {
                        "team_id": team.team_id,
                        "subject_id": m.subject_id,
                        "display_name": m.display_name,
                        "territory_id": m.territory_id,
                        "role": str(m.role),
                        "languages": sorted(m.languages),
                        "skills": sorted(m.skills),
                        "capacity": m.capacity,
                        "active": m.active,
                        "left_on": None,
                        "updated_at": now,
                    }
                    for m in team_members
                ],
            )

    def team(self, team_id: str) -> Team | None:
        row = self.conn.execute(select(teams).where(teams.c.team_id == team_id)).first()
        return Team(row.team_id, row.territory_id, row.name) if row is not None else None

    def all_teams(self) -> list[Team]:
        return [Team(r.team_id, r.territory_id, r.name) for r in self.conn.execute(select(teams).order_by(teams.c.team_id))]

    def list_teams(self, page: Page, within: str = "") -> tuple[list[Team], str | None]:
        query = select(teams)
        if within:
            query = query.where(or_(teams.c.territory_id == within, teams.c.territory_id.like(_prefix_pattern(within), escape="\\")))
        if page.after is not None:
            query = query.where(teams.c.team_id > str(page.after["id"]))
        rows = [Team(r.team_id, r.territory_id, r.name) for r in self.conn.execute(query.order_by(teams.c.team_id).limit(page.size + 1))]
        more = len(rows) > page.size
        rows = rows[: page.size]
        return rows, rows[-1].team_id if more and rows else None

    def all_members(self) -> list[Member]:
        return [_member(r) for r in self.conn.execute(select(members).order_by(members.c.subject_id, members.c.team_id))]

    def members_of(self, subject_id: str) -> list[Member]:
        rows = self.conn.execute(select(members).where(members.c.subject_id == subject_id).order_by(members.c.team_id))
        return [_member(r) for r in rows]

    def list_members(
        self, page: Page, team_id: str = "", within: str = "", subject_id: str = ""
    ) -> tuple[list[tuple[str, Member]], dict[str, str] | None]:
        """(the team that lists them, member), by (subject id, team id)."""
        m = members.c
        query = select(members)
        if team_id:
            query = query.where(m.team_id == team_id)
        if within:
            query = query.where(or_(m.territory_id == within, m.territory_id.like(_prefix_pattern(within), escape="\\")))
        if subject_id:
            query = query.where(m.subject_id == subject_id)
        if page.after is not None:
            s, t = str(page.after["s"]), str(page.after["t"])
            query = query.where(or_(m.subject_id > s, and_(m.subject_id == s, m.team_id > t)))
        rows = list(self.conn.execute(query.order_by(m.subject_id, m.team_id).limit(page.size + 1)))
        more = len(rows) > page.size
        rows = rows[: page.size]
        key = {"s": rows[-1].subject_id, "t": rows[-1].team_id} if more and rows else None
        return [(r.team_id, _member(r)) for r in rows], key

    def deactivate(self, subject_id: str, left_on: date, now: datetime) -> int:
        result = self.conn.execute(update(members).where(members.c.subject_id == subject_id).values(active=False, left_on=left_on, updated_at=now))
        return int(result.rowcount)

    def cursors(self) -> dict[str, str]:
        return {r.team_id: r.last_subject_id for r in self.conn.execute(select(round_robin_cursors))}

    def save_cursors(self, changed: dict[str, str]) -> None:
        for team_id, last in changed.items():
            stmt = upsert_insert(self.conn)(round_robin_cursors).values(team_id=team_id, last_subject_id=last)
            self.conn.execute(stmt.on_conflict_do_update(index_elements=[round_robin_cursors.c.team_id], set_={"last_subject_id": last}))

    def loads(self, owner_ids: Iterable[str] | None = None) -> dict[str, int]:
        """Open book per owner: the accounts assigned to them now."""
        a = account_assignments.c
        query = select(a.owner_id, func.count()).where(a.ended_at.is_(None), a.owner_id != "").group_by(a.owner_id)
        if owner_ids is not None:
            ids = sorted(set(owner_ids))
            if not ids:
                return {}
            query = query.where(a.owner_id.in_(ids))
        return {owner: int(n) for owner, n in self.conn.execute(query)}

    # Accounts ---------------------------------------------------------------------------------

    def save_account_subject(self, subject: Subject, now: datetime) -> None:
        values = {
            "province_code": subject.province_code,
            "branch_id": subject.branch_id,
            "products": sorted(subject.products),
            "tier": subject.tier or "",
            "segment": subject.segment or "",
            "aum": subject.aum,
            "language": subject.language,
            "updated_at": now,
        }
        stmt = upsert_insert(self.conn)(account_subjects).values(account_id=subject.subject_id, **values)
        self.conn.execute(stmt.on_conflict_do_update(index_elements=[account_subjects.c.account_id], set_=values))

    def account_subject(self, account_id: str) -> Subject | None:
        row = self.conn.execute(select(account_subjects).where(account_subjects.c.account_id == account_id)).first()
        return _account_subject(row) if row is not None else None

    def current_assignment(self, account_id: str) -> AssignmentEntry | None:
        a = account_assignments.c
        row = self.conn.execute(select(account_assignments).where(a.account_id == account_id, a.ended_at.is_(None))).first()
        return _entry(row) if row is not None else None

    def lock_account(self, account_id: str) -> None:
        """Serialises concurrent decisions on one account (its attributes row, created if new)."""
        if self.conn.dialect.name == "postgresql":
            self.conn.execute(select(func.pg_advisory_xact_lock(func.hashtextextended(literal(account_id), 7))))

    def open_opportunity_count(self, account_id: str) -> int:
        query = select(func.count()).select_from(open_opportunities).where(open_opportunities.c.account_id == account_id)
        return int(self.conn.execute(query).scalar_one())

    def assign(self, entry: AssignmentEntry) -> AssignmentEntry:
        """Ends the entry in force (if any) and appends this one."""
        a = account_assignments.c
        self.conn.execute(
            update(account_assignments).where(a.account_id == entry.account_id, a.ended_at.is_(None)).values(ended_at=entry.effective_at)
        )
        values = {k: v for k, v in entry.__dict__.items() if k != "assignment_id"}
        new_id = self.conn.execute(insert(account_assignments).values(**values).returning(a.assignment_id)).scalar_one()
        return AssignmentEntry(**{**entry.__dict__, "assignment_id": int(new_id)})

    def history(self, account_id: str, page: Page) -> tuple[list[AssignmentEntry], int | None]:
        a = account_assignments.c
        query = select(account_assignments).where(a.account_id == account_id)
        if page.after is not None:
            query = query.where(a.assignment_id < int(page.after["id"]))
        rows = [_entry(r) for r in self.conn.execute(query.order_by(a.assignment_id.desc()).limit(page.size + 1))]
        more = len(rows) > page.size
        rows = rows[: page.size]
        return rows, rows[-1].assignment_id if more and rows else None

    def accounts(self, owner_id: str = "") -> Iterator[AccountState]:
        """Every account with its attributes, the assignment in force and its open opportunities,
        in one streamed query (owner_id: only that owner's book)."""
        s, a = account_subjects.c, account_assignments.c
        counts = select(open_opportunities.c.account_id, func.count().label("n")).group_by(open_opportunities.c.account_id).subquery()
        query = (
            select(
                s.account_id, s.province_code, s.branch_id, s.products, s.tier, s.segment, s.aum, s.language,
                a.territory_id, a.owner_id, a.team_id, a.rule_id, a.override, counts.c.n,
            )
            .select_from(account_subjects)
            .outerjoin(account_assignments, and_(a.account_id == s.account_id, a.ended_at.is_(None)))
            .outerjoin(counts, counts.c.account_id == s.account_id)
        )  # fmt: skip
        if owner_id:
            query = query.where(a.owner_id == owner_id)
        result = self.conn.execute(query.execution_options(stream_results=True, yield_per=BATCH))
        # The per-row cost is the whole pass at a million accounts: rows are unpacked as tuples,
        # and the values many accounts share (their product set, tier, segment, the assignment
        # in force, all immutable) are decoded once and reused.
        products_of: dict[tuple[str, ...], frozenset[ProductType]] = {}
        tiers: dict[str, WealthTier | None] = {"": None, None: None}  # type: ignore[dict-item]
        segments: dict[str, Segment | None] = {"": None, None: None}  # type: ignore[dict-item]
        places: dict[tuple[str, str, str, str, bool], Assignment] = {}
        account = SubjectKind.ACCOUNT
        for row in result:
            account_id, province_code, branch_id, products, tier, segment, aum, language, territory_id, owner_id, team_id, rule_id, override, n = row
            key = tuple(products)
            product_set = products_of.get(key)
            if product_set is None:
                product_set = products_of[key] = frozenset(ProductType(p) for p in key)
            if tier not in tiers:
                tiers[tier] = WealthTier(tier)
            if segment not in segments:
                segments[segment] = Segment(segment)
            current = None
            if territory_id is not None:
                place = (territory_id, owner_id, team_id, rule_id, override)
                current = places.get(place)
                if current is None:
                    current = places[place] = Assignment(*place)
            subject = Subject(account, account_id, province_code, branch_id, product_set, tiers[tier], segments[segment], aum, None, language)
            yield AccountState(subject, current, int(n or 0))

    def apply_moves(self, run_id: str, moves: list[Move], version: int, source: str, reasons: dict[str, str], now: datetime, actor: str) -> None:
        """Ends the moved accounts' entries and appends their new ones, set-based, in batches.
        `reasons`: rule id → the history's reason."""
        r, a = realignment_moves.c, account_assignments.c
        for start in range(0, len(moves), BATCH):
            batch = moves[start : start + BATCH]
            bulk_insert(
                self.conn,
                realignment_moves,
                [
                    {"run_id": run_id, "account_id": m.account_id, "territory_id": m.territory_id, "owner_id": m.owner_id,
                     "team_id": m.team_id, "rule_id": m.rule_id}
                    for m in batch
                ],
            )  # fmt: skip
            in_run = select(r.account_id).where(r.run_id == run_id).scalar_subquery()
            self.conn.execute(update(account_assignments).where(a.ended_at.is_(None), a.account_id.in_(in_run)).values(ended_at=now))
            # The reason names the rule; one CASE over the rules, not per row.
            reason = func.coalesce(*_reason_case(r.rule_id, reasons), literal(f"realignment to model version {version}"))
            self.conn.execute(
                insert(account_assignments).from_select(
                    ["account_id", "territory_id", "owner_id", "team_id", "rule_id", "model_version", "source", "override",
                     "effective_at", "ended_at", "reason", "assigned_by"],
                    select(
                        r.account_id, r.territory_id, r.owner_id, r.team_id, r.rule_id, literal(version), literal(source),
                        literal(False), literal(now, account_assignments.c.effective_at.type), literal(None, account_assignments.c.ended_at.type),
                        reason, literal(actor),
                    ).where(r.run_id == run_id),
                )
            )  # fmt: skip
            self.conn.execute(delete(realignment_moves).where(r.run_id == run_id))

    # Opportunities ----------------------------------------------------------------------------

    def open_opportunity(self, opportunity_id: str, account_id: str) -> None:
        stmt = upsert_insert(self.conn)(open_opportunities).values(opportunity_id=opportunity_id, account_id=account_id)
        self.conn.execute(stmt.on_conflict_do_nothing())

    def close_opportunity(self, opportunity_id: str) -> None:
        self.conn.execute(delete(open_opportunities).where(open_opportunities.c.opportunity_id == opportunity_id))

    def relink_opportunities(self, merged_id: str, survivor_id: str) -> None:
        self.conn.execute(update(open_opportunities).where(open_opportunities.c.account_id == merged_id).values(account_id=survivor_id))

    # Leads ------------------------------------------------------------------------------------

    def save_lead_subject(self, subject: Subject, now: datetime, score_only: bool = False) -> None:
        values: dict[str, Any] = {"lead_score": subject.lead_score, "updated_at": now}
        if not score_only:
            values.update(province_code=subject.province_code, products=sorted(subject.products), language=subject.language)
        stmt = upsert_insert(self.conn)(lead_subjects).values(
            lead_id=subject.subject_id,
            province_code=subject.province_code,
            products=sorted(subject.products),
            lead_score=subject.lead_score,
            language=subject.language,
            territory_id="",
            owner_id="",
            rule_id="",
            routed_at=None,
            updated_at=now,
        )
        self.conn.execute(stmt.on_conflict_do_update(index_elements=[lead_subjects.c.lead_id], set_=values))

    def lead_subject(self, lead_id: str) -> LeadSubjectRow | None:
        row = self.conn.execute(select(lead_subjects).where(lead_subjects.c.lead_id == lead_id)).first()
        if row is None:
            return None
        subject = Subject(
            SubjectKind.LEAD,
            row.lead_id,
            province_code=row.province_code,
            products=frozenset(ProductType(p) for p in row.products),
            lead_score=row.lead_score,
            language=row.language,
        )
        return LeadSubjectRow(subject, row.territory_id, row.owner_id, row.rule_id)

    def record_lead_route(self, lead_id: str, territory_id: str, owner_id: str, rule_id: str, now: datetime) -> None:
        self.conn.execute(
            update(lead_subjects)
            .where(lead_subjects.c.lead_id == lead_id)
            .values(territory_id=territory_id, owner_id=owner_id, rule_id=rule_id, routed_at=now, updated_at=now)
        )


def _prefix_pattern(territory_id: str) -> str:
    """LIKE pattern of the territory's descendants ("VN.NORTH.%"), its wildcards escaped."""
    return territory_id.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + ".%"


def _reason_case(column: Any, reasons: dict[str, str]) -> list[Any]:
    from sqlalchemy import case

    if not reasons:
        return []
    return [case(*((column == rule_id, literal(text)) for rule_id, text in reasons.items()), else_=None)]

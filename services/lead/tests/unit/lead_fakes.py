"""In-memory fakes of the lead service's unit of work, repository and peer services, for use-case
unit tests: a rule of the service layer checked without a database or gRPC.

(Named lead_fakes, not fakes: test directories are not packages, so module names must be
unique across the services' test sessions.)
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from crm_common.auth import DataScope, Principal, Reach
from crm_common.errors import Aborted, NotFound, Unavailable
from crm_common.testing_fakes import FakeClock, FakeStore, FakeUnitOfWork
from crm_lead.adapters.events import ProtoLeadEvents
from crm_lead.domain.assignment import FirstContactSla
from crm_lead.domain.model import ContactAttempt, ContactOutcome, Conversion, Lead, Source, Status
from crm_lead.domain.scoring import ScoringRules
from crm_lead.service_layer.ports import NewOpportunity, ResolvedAccount
from crm_lead.service_layer.use_cases import LeadUseCases

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


@dataclass
class LeadTables:
    leads: dict[str, Lead] = field(default_factory=dict)
    behaviours: list[tuple[str, str]] = field(default_factory=list)
    attempts: list[ContactAttempt] = field(default_factory=list)
    # team_id → (members, turn)
    teams: dict[str, tuple[list[str], int]] = field(default_factory=dict)
    conversions: dict[str, Conversion] = field(default_factory=dict)
    # opportunity_id → what the lead knows of it
    opportunities: dict[str, dict[str, Any]] = field(default_factory=dict)


class FakeLeadRepository:
    """LeadRepository's contract (the parts use cases call) over LeadTables."""

    def __init__(self, tables: LeadTables) -> None:
        self.t = tables

    def add(self, lead: Lead) -> None:
        self.t.leads[lead.lead_id] = copy.deepcopy(lead)

    def get(self, lead_id: str, scope: DataScope, for_update: bool = False) -> Lead:
        lead = self.t.leads.get(lead_id)
        if lead is None or not scope.covers(lead.owner_id, lead.team_id, lead.branch_id, lead.territory_id):
            raise NotFound("lead", lead_id)
        return copy.deepcopy(lead)

    def save(self, lead: Lead) -> None:
        if self.t.leads[lead.lead_id].version != lead.version:
            raise Aborted(f"lead {lead.lead_id} was changed concurrently; retry")
        lead.version += 1
        self.t.leads[lead.lead_id] = copy.deepcopy(lead)

    def add_behaviour(self, lead_id: str, behaviour: str, occurred_at: datetime, detail: str) -> None:
        self.t.behaviours.append((lead_id, behaviour))

    def behaviours(self, lead_id: str) -> list[str]:
        return [b for owner, b in self.t.behaviours if owner == lead_id]

    def add_contact_attempt(self, attempt: ContactAttempt) -> None:
        self.t.attempts.append(attempt)

    def contact_attempts(self, lead_id: str) -> list[ContactAttempt]:
        return sorted((a for a in self.t.attempts if a.lead_id == lead_id), key=lambda a: a.contacted_at)

    def was_reached(self, lead_id: str) -> bool:
        return any(a.outcome == ContactOutcome.REACHED for a in self.contact_attempts(lead_id))

    def set_team(self, team_id: str, members: list[str], now: datetime) -> None:
        self.t.teams[team_id] = (members, self.t.teams.get(team_id, ([], 0))[1])

    def take_team_turn(self, team_id: str) -> tuple[list[str], int]:
        if team_id not in self.t.teams:
            raise NotFound("team", team_id)
        members, turn = self.t.teams[team_id]
        self.t.teams[team_id] = (members, turn + 1)
        return list(members), turn

    def get_conversion(self, lead_id: str, for_update: bool = False) -> Conversion | None:
        return self.t.conversions.get(lead_id)

    def start_conversion(self, conversion: Conversion) -> None:
        self.t.conversions[conversion.lead_id] = conversion

    def update_conversion(self, lead_id: str, **values: Any) -> None:
        self.t.conversions[lead_id] = replace(self.t.conversions[lead_id], **values)

    def claim_stalled_conversions(self, older_than: datetime, now: datetime, limit: int = 50) -> list[str]:
        stalled = sorted((c for c in self.t.conversions.values() if c.state != "COMPLETED" and c.updated_at < older_than), key=lambda c: c.updated_at)
        for saga in stalled[:limit]:
            self.update_conversion(saga.lead_id, updated_at=now)
        return [c.lead_id for c in stalled[:limit]]

    def record_opportunity(self, lead_id: str, opportunity_id: str, status: str, amount_minor: int | None, currency: str, now: datetime) -> None:
        self.t.opportunities[opportunity_id] = {"lead_id": lead_id, "status": status, "amount_minor": amount_minor, "currency": currency}


class FakeLeadUnitOfWork(FakeUnitOfWork[LeadTables]):
    def open_repositories(self) -> None:
        self.leads = FakeLeadRepository(self.state)


class FakeAccounts:
    """The account service: one account per request id; `down` makes it unreachable."""

    def __init__(self) -> None:
        self.down = False
        self.calls: list[str] = []

    def resolve_person(self, request_id: str, **person: str) -> ResolvedAccount:
        self.calls.append(request_id)
        if self.down:
            raise Unavailable("account service: UNAVAILABLE")
        return ResolvedAccount(f"acc-for-{request_id}", matched=False)


class FakeOpportunities:
    def __init__(self) -> None:
        self.created: dict[str, NewOpportunity] = {}

    def create(self, opportunity: NewOpportunity) -> str:
        self.created[opportunity.request_id] = opportunity
        return f"opp-for-{opportunity.request_id}"


@dataclass
class LeadService:
    """The lead use cases over fakes, with what a test inspects."""

    use_cases: LeadUseCases
    store: FakeStore[LeadTables]
    clock: FakeClock
    accounts: FakeAccounts
    opportunities: FakeOpportunities

    def add(self, lead: Lead) -> Lead:
        self.store.state.leads[lead.lead_id] = copy.deepcopy(lead)
        return lead

    def stored(self, lead_id: str) -> Lead:
        return self.store.state.leads[lead_id]


def lead_service(sla: FirstContactSla | None = None) -> LeadService:
    store = FakeStore(LeadTables())
    clock, accounts, opportunities = FakeClock(NOW), FakeAccounts(), FakeOpportunities()
    use_cases = LeadUseCases.wire(
        uow=lambda **options: FakeLeadUnitOfWork(store, **options),
        events=ProtoLeadEvents(),
        accounts=accounts,
        opportunities=opportunities,
        rules=ScoringRules.load(),
        sla=sla or FirstContactSla(standard_minutes=240, hot_minutes=30, hot_score=60),
        clock=clock,
    )
    return LeadService(use_cases, store, clock, accounts, opportunities)


# The branch the fixtures' leads are worked in, and the data scope of a caller working there.
BRANCH = "HCM-01"


def branch_scope(principal: Principal) -> DataScope:
    """The caller's own book and the fixtures' branch (crm_common.auth.scopes)."""
    return DataScope(principal.subject, frozenset({Reach.OWN, Reach.BRANCH}), branches=(BRANCH,))


def make_lead(lead_id: str = "lead-1", status: Status = Status.MQL, **overrides: Any) -> Lead:
    values: dict[str, Any] = dict(
        lead_id=lead_id,
        status=status,
        branch_id=BRANCH,
        full_name="Nguyễn Văn An",
        phone_e164="+84912345678",
        email="an@example.vn",
        national_id="",
        province_code="",
        product_interest="CREDIT_CARD",
        source=Source(channel="WEB_FORM", campaign_id="cmp-tet"),
        requested_amount_minor=None,
        currency="",
        marketing_consent=False,
        note="",
        created_at=NOW - timedelta(days=1),
        created_by="mkt-1",
        updated_at=NOW - timedelta(days=1),
        updated_by="mkt-1",
    )
    values.update(overrides)
    return Lead(**values)

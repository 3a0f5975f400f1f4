"""The lead and its status machine."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from crm_common.errors import FailedPrecondition


class Status(StrEnum):
    NEW = "NEW"
    MQL = "MQL"
    CONTACTED = "CONTACTED"
    SQL = "SQL"
    DISQUALIFIED = "DISQUALIFIED"
    NURTURE = "NURTURE"
    CONVERTED = "CONVERTED"


# Every legal move; anything else is FAILED_PRECONDITION.
TRANSITIONS: dict[Status, frozenset[Status]] = {
    Status.NEW: frozenset({Status.MQL, Status.DISQUALIFIED, Status.NURTURE}),
    Status.MQL: frozenset({Status.CONTACTED, Status.SQL, Status.DISQUALIFIED, Status.NURTURE}),
    Status.CONTACTED: frozenset({Status.SQL, Status.DISQUALIFIED, Status.NURTURE}),
    Status.SQL: frozenset({Status.CONVERTED, Status.DISQUALIFIED, Status.NURTURE}),
    Status.DISQUALIFIED: frozenset({Status.NURTURE}),
    Status.NURTURE: frozenset({Status.MQL, Status.DISQUALIFIED}),
    Status.CONVERTED: frozenset(),
}

# Leads sales works on; the rest stay with marketing and are hidden from sales.
SALES_STATUSES = frozenset({Status.MQL, Status.CONTACTED, Status.SQL})
# What a sales caller (without leads.read_all) may see: its working leads and converted ones.
SALES_VISIBLE_STATUSES = SALES_STATUSES | {Status.CONVERTED}


def visible_statuses(requested: tuple[str, ...], sales_view: bool) -> tuple[str, ...] | None:
    """The statuses a listing may return; None when the filter leaves nothing to see."""
    if not sales_view:
        return requested
    allowed = tuple(sorted(str(s) for s in SALES_VISIBLE_STATUSES))
    narrowed = tuple(s for s in requested if s in allowed) if requested else allowed
    return narrowed or None


# Leads that a new capture with the same phone or email duplicates.
OPEN_STATUSES = frozenset({Status.NEW, Status.MQL, Status.CONTACTED, Status.SQL, Status.NURTURE})


class ContactOutcome(StrEnum):
    REACHED = "REACHED"
    NO_ANSWER = "NO_ANSWER"
    BUSY = "BUSY"
    WRONG_NUMBER = "WRONG_NUMBER"
    CALLBACK_REQUESTED = "CALLBACK_REQUESTED"


@dataclass
class Source:
    channel: str = ""
    campaign_id: str = ""
    utm_source: str = ""
    utm_medium: str = ""
    utm_campaign: str = ""
    utm_term: str = ""
    utm_content: str = ""
    cookie_id: str = ""
    data_origin: str = ""
    partner_id: str = ""
    landing_page_url: str = ""
    referrer_url: str = ""


@dataclass
class ScoreReason:
    rule: str
    points: int
    detail: str


@dataclass
class ContactAttempt:
    attempt_id: str
    lead_id: str
    channel: str
    outcome: ContactOutcome
    note: str
    agent_id: str
    contacted_at: datetime


@dataclass
class Lead:
    lead_id: str
    status: Status
    full_name: str
    phone_e164: str
    email: str
    national_id: str
    province_code: str
    product_interest: str
    source: Source
    requested_amount_minor: int | None
    currency: str
    marketing_consent: bool
    note: str
    created_at: datetime
    created_by: str
    updated_at: datetime
    updated_by: str
    phone_is_mobile: bool = False
    score: int = 0
    score_reasons: list[ScoreReason] = field(default_factory=list)
    owner_id: str = ""
    team_id: str = ""
    # Where the lead is worked; with owner and team, who reaches it (data scopes).
    branch_id: str = ""
    territory_id: str = ""
    assigned_at: datetime | None = None
    first_contact_due_at: datetime | None = None
    first_contact_at: datetime | None = None
    # MANUAL (AssignLead: an override of the rules) or ROUTED (the territory service's
    # LeadRouted, with the rule that matched; territory_id is the territory it gave).
    assignment_source: str = ""
    routing_rule_id: str = ""
    disqualification_reason: str = ""
    status_note: str = ""
    account_id: str = ""
    opportunity_id: str = ""
    matched_existing_account: bool = False
    converted_at: datetime | None = None
    # Optimistic locking: each save bumps it; a stale save is refused.
    version: int = 1

    @property
    def has_contact_point(self) -> bool:
        return bool(self.full_name and (self.phone_e164 or self.email))

    @property
    def meets_mql_rule(self) -> bool:
        """Marketing-qualified: shows interest in a product and has a name plus phone or email."""
        return bool(self.product_interest) and self.has_contact_point

    def _move(self, target: Status, actor: str, now: datetime) -> None:
        if target not in TRANSITIONS[self.status]:
            raise FailedPrecondition(f"lead {self.lead_id} is {self.status}; it cannot become {target}")
        self.status = target
        self._touch(actor, now)

    def _touch(self, actor: str, now: datetime) -> None:
        self.updated_at = now
        self.updated_by = actor

    def promote_if_marketing_qualified(self, actor: str, now: datetime) -> bool:
        """NEW or NURTURE → MQL once the MQL rule holds; True when the status changed."""
        if self.status in (Status.NEW, Status.NURTURE) and self.meets_mql_rule:
            self._move(Status.MQL, actor, now)
            return True
        return False

    def assign(
        self,
        owner_id: str,
        team_id: str,
        due_at: datetime,
        actor: str,
        now: datetime,
        branch_id: str = "",
        territory_id: str = "",
        routing_rule_id: str = "",
    ) -> None:
        """To an owner (in a team or none); a branch or territory given moves the lead there too.
        `routing_rule_id`: the territory service's rules chose the owner (ROUTED); otherwise the
        assignment is MANUAL, an override the rules leave alone."""
        if self.status not in SALES_STATUSES:
            raise FailedPrecondition(f"lead {self.lead_id} is {self.status}; only MQL, CONTACTED or SQL leads go to sales")
        self.owner_id = owner_id
        self.team_id = team_id
        self.branch_id = branch_id or self.branch_id
        self.territory_id = territory_id or self.territory_id
        self.assigned_at = now
        self.assignment_source = "ROUTED" if routing_rule_id else "MANUAL"
        self.routing_rule_id = routing_rule_id
        # A reassignment before first contact restarts the clock for the new owner.
        if self.first_contact_at is None:
            self.first_contact_due_at = due_at
        self._touch(actor, now)

    def record_contact(self, attempt: ContactAttempt, actor: str, now: datetime) -> bool:
        """Returns True for the first contact attempt (the one the SLA measures)."""
        if self.status not in SALES_STATUSES:
            raise FailedPrecondition(f"lead {self.lead_id} is {self.status}; contact attempts need an MQL, CONTACTED or SQL lead")
        if not self.owner_id:
            raise FailedPrecondition(f"lead {self.lead_id} is not assigned; assign it before recording contact")
        first = self.first_contact_at is None
        if first:
            self.first_contact_at = attempt.contacted_at
        if self.status == Status.MQL:
            self._move(Status.CONTACTED, actor, now)
        else:
            self._touch(actor, now)
        return first

    def qualify(self, reached_customer: bool, note: str, actor: str, now: datetime) -> None:
        if self.status == Status.NEW:
            raise FailedPrecondition(f"lead {self.lead_id} is NEW: it needs a product interest and a name plus phone or email (MQL) first")
        if self.status in (Status.MQL, Status.CONTACTED) and not reached_customer:
            raise FailedPrecondition(f"lead {self.lead_id} has no contact attempt that reached the customer; qualify after talking to them")
        self._move(Status.SQL, actor, now)
        self.status_note = note

    def disqualify(self, reason: str, note: str, actor: str, now: datetime) -> None:
        if not reason:
            raise FailedPrecondition("a disqualification needs a reason")
        self._move(Status.DISQUALIFIED, actor, now)
        self.disqualification_reason = reason
        self.status_note = note

    def return_to_nurture(self, note: str, actor: str, now: datetime) -> None:
        self._move(Status.NURTURE, actor, now)
        self.status_note = note
        self.owner_id = ""
        self.team_id = ""
        self.assignment_source = self.routing_rule_id = ""

    def ensure_convertible(self) -> None:
        if self.status != Status.SQL:
            raise FailedPrecondition(f"lead {self.lead_id} is {self.status}; only an SQL lead can be converted")

    def mark_converted(self, account_id: str, opportunity_id: str, matched: bool, actor: str, now: datetime) -> None:
        self._move(Status.CONVERTED, actor, now)
        self.account_id = account_id
        self.opportunity_id = opportunity_id
        self.matched_existing_account = matched
        self.converted_at = now

    def first_contact_sla_breached(self, now: datetime) -> bool:
        if self.first_contact_due_at is None:
            return False
        return (self.first_contact_at or now) > self.first_contact_due_at

    def minutes_to_first_contact(self) -> int | None:
        if self.first_contact_at is None or self.assigned_at is None:
            return None
        return max(0, int((self.first_contact_at - self.assigned_at) / timedelta(minutes=1)))


@dataclass(frozen=True)
class Conversion:
    """The state of one lead's conversion saga (docs/conversion.md): what is done so far."""

    lead_id: str
    state: str
    # The ConvertLead call that started the saga; answered as done when recovery completes it.
    request_id: str
    request_fingerprint: str
    product: str
    amount_minor: int | None
    currency: str
    expected_close_at: datetime | None
    owner_id: str
    account_id: str
    matched_existing_account: bool
    opportunity_id: str
    attempts: int
    last_error: str
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class LeadFilter:
    """What a lead listing asks for; empty fields do not filter."""

    statuses: tuple[str, ...] = ()
    owner_id: str = ""
    team_id: str = ""
    channel: str = ""
    campaign_id: str = ""
    created_after: datetime | None = None
    created_before: datetime | None = None
    phone_e164: str = ""
    email: str = ""
    name_prefix: str = ""

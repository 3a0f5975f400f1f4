"""What the lead service's use cases share: the events they publish, the idempotent run, the
lead built from a capture and its scoring. Each capability module (capture, qualification,
assignment, lookup, conversion, privacy, closed_loop) takes only the dependencies it uses.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from typing import Any, Protocol

from crm_common.auth import DataScope, current_data_scope, current_principal
from crm_common.db import new_id
from crm_common.errors import FieldViolation, InvalidArgument, PermissionDenied
from crm_common.unit_of_work import Idempotent, run_idempotent
from crm_lead.domain.capture import CleanLead
from crm_lead.domain.model import ContactAttempt, Lead, Status
from crm_lead.domain.scoring import ScoringRules
from crm_lead.service import LEAD_ASSIGN, LEAD_READ_ALL
from crm_lead.service_layer.unit_of_work import LeadUnitOfWork

# Opens a unit of work; keyword options reach SqlUnitOfWork (single_statement).
UowFactory = Callable[..., LeadUnitOfWork]
Clock = Callable[[], datetime]


class LeadEvents(Protocol):
    """Builds the service's domain events (protobuf messages) from domain objects."""

    def captured(self, lead: Lead, correlation_id: str) -> Any: ...
    def scored(self, lead: Lead, previous: int, correlation_id: str) -> Any: ...
    def qualified(self, lead: Lead, correlation_id: str) -> Any: ...
    def disqualified(self, lead: Lead, correlation_id: str) -> Any: ...
    def assigned(self, lead: Lead, correlation_id: str) -> Any: ...
    def returned_to_nurture(self, lead: Lead, previous_status: str, previous_owner: str, correlation_id: str) -> Any: ...
    def contacted(self, lead: Lead, attempt: ContactAttempt, first: bool, breached: bool, correlation_id: str) -> Any: ...
    def converted(self, lead: Lead, correlation_id: str) -> Any: ...


def sales_view() -> bool:
    """Callers without leads.read_all see only what sales works on (PRODUCT.md: the rest stays with marketing)."""
    return not current_principal().can(LEAD_READ_ALL)


def lead_scope() -> DataScope:
    """The leads the caller reaches (docs/security.md#data-scopes); leads assigned to no one
    are the queue that whoever distributes leads (leads.assign) works from."""
    return replace(current_data_scope(), unassigned=current_principal().can(LEAD_ASSIGN))


def ensure_placed_in_scope(lead: Lead) -> None:
    """After an assignment the lead must stay within the caller's scope: nobody hands a lead to
    a book, team, branch or territory they do not reach."""
    if not lead_scope().covers(lead.owner_id, lead.team_id, lead.branch_id, lead.territory_id):
        raise PermissionDenied(f"lead {lead.lead_id} would leave your data scope: assign within your own team, branch or territory")


def prefixed(violations: list[FieldViolation], prefix: str) -> list[FieldViolation]:
    return [FieldViolation(f"{prefix}.{v.field}" if prefix else v.field, v.description) for v in violations]


def idempotent(
    uow: UowFactory,
    method: str,
    key: Idempotent,
    first: Callable[[LeadUnitOfWork], tuple[Any, str]],
    repeat: Callable[[LeadUnitOfWork, str], Any] | None = None,
) -> Any:
    """run_idempotent; a repeat answers with the lead its first call stored, unless told otherwise."""
    return run_idempotent(uow, method, key, first, repeat or (lambda u, ref: u.leads.get(ref, lead_scope())))


def lead_for_update(uow: LeadUnitOfWork, lead_id: str) -> Lead:
    if not lead_id:
        raise InvalidArgument(FieldViolation("lead_id", "required"))
    return uow.leads.get(lead_id, lead_scope(), for_update=True)


def new_lead(data: CleanLead, rules: ScoringRules, now: datetime) -> Lead:
    """A captured lead, scored, and marketing-qualified at once when the MQL rule holds."""
    actor = current_principal().subject
    lead = Lead(
        lead_id=new_id(),
        status=Status.NEW,
        full_name=data.full_name,
        phone_e164=data.phone_e164,
        phone_is_mobile=data.phone_is_mobile,
        email=data.email,
        national_id=data.national_id,
        province_code=data.province_code,
        product_interest=data.product_interest,
        source=data.source,
        requested_amount_minor=data.requested_amount_minor,
        currency=data.currency,
        marketing_consent=data.marketing_consent,
        note=data.note,
        created_at=now,
        created_by=actor,
        updated_at=now,
        updated_by=actor,
    )
    lead.score, lead.score_reasons = rules.score(lead)
    lead.promote_if_marketing_qualified(actor, now)
    return lead


def rescore(uow: LeadUnitOfWork, lead: Lead, rules: ScoringRules, events: LeadEvents, correlation_id: str) -> None:
    """Scores the lead again with its behaviours; LeadScored when the score moved."""
    previous = lead.score
    lead.score, lead.score_reasons = rules.score(lead, uow.leads.behaviours(lead.lead_id))
    if lead.score != previous:
        uow.publish(events.scored(lead, previous, correlation_id))

"""The lead service's use cases, one object per capability, wired once by the composition root.

Entrypoints call `use_cases.<capability>.<use case>(...)`; each use case runs in one unit of
work in which state, events (outbox) and the idempotency record commit together.
"""

from __future__ import annotations

from dataclasses import dataclass

from crm_common.db import utcnow
from crm_lead.domain.assignment import FirstContactSla
from crm_lead.domain.scoring import ScoringRules
from crm_lead.service_layer.account_events import AccountEventUseCases
from crm_lead.service_layer.assignment import AssignmentUseCases
from crm_lead.service_layer.capture import CaptureUseCases
from crm_lead.service_layer.closed_loop import ClosedLoopUseCases
from crm_lead.service_layer.common import Clock, LeadEvents, UowFactory
from crm_lead.service_layer.conversion import ConversionUseCases
from crm_lead.service_layer.lookup import LookupUseCases
from crm_lead.service_layer.ports import AccountDirectory, OpportunityBook
from crm_lead.service_layer.privacy import PrivacyUseCases
from crm_lead.service_layer.qualification import QualificationUseCases


@dataclass(frozen=True)
class LeadUseCases:
    capture: CaptureUseCases
    qualification: QualificationUseCases
    assignment: AssignmentUseCases
    lookup: LookupUseCases
    conversion: ConversionUseCases
    privacy: PrivacyUseCases
    closed_loop: ClosedLoopUseCases
    account_events: AccountEventUseCases

    @classmethod
    def wire(
        cls,
        uow: UowFactory,
        events: LeadEvents,
        accounts: AccountDirectory,
        opportunities: OpportunityBook,
        rules: ScoringRules | None = None,
        sla: FirstContactSla | None = None,
        clock: Clock = utcnow,
    ) -> LeadUseCases:
        """Every capability over the same unit of work; default scoring rules and SLA unless given."""
        rules = rules or ScoringRules.load()
        return cls(
            capture=CaptureUseCases(uow, events, rules, clock),
            qualification=QualificationUseCases(uow, events, rules, clock),
            assignment=AssignmentUseCases(uow, events, sla or FirstContactSla(), clock),
            lookup=LookupUseCases(uow),
            conversion=ConversionUseCases(uow, events, accounts, opportunities, clock),
            privacy=PrivacyUseCases(uow),
            closed_loop=ClosedLoopUseCases(uow, clock),
            account_events=AccountEventUseCases(uow, clock),
        )

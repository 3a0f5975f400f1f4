"""Reading leads: one with its contact attempts, and filtered lists; sales sees only its statuses."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from crm_common.errors import FieldViolation, InvalidArgument, PermissionDenied
from crm_common.pagination import Page
from crm_lead.domain.model import SALES_VISIBLE_STATUSES, ContactAttempt, Lead, LeadFilter, visible_statuses
from crm_lead.service_layer.common import UowFactory, lead_scope, sales_view


class LookupUseCases:
    def __init__(self, uow: UowFactory) -> None:
        self.uow = uow

    def get_lead(self, lead_id: str) -> tuple[Lead, list[ContactAttempt]]:
        if not lead_id:
            raise InvalidArgument(FieldViolation("lead_id", "required"))
        with self.uow() as uow:
            lead = uow.leads.get(lead_id, lead_scope())
            if sales_view() and lead.status not in SALES_VISIBLE_STATUSES:
                raise PermissionDenied(f"lead {lead_id} is {lead.status}: it is with marketing, not sales")
            return lead, uow.leads.contact_attempts(lead_id)

    def list_leads(self, where: LeadFilter, page: Page) -> tuple[list[Lead], dict[str, Any] | None]:
        statuses = visible_statuses(where.statuses, sales_view())
        if statuses is None:
            return [], None
        with self.uow() as uow:
            # The scope is part of the query: a page holds only leads the caller reaches.
            return uow.leads.search(replace(where, statuses=statuses), page, lead_scope())

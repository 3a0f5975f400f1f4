"""Reading opportunities: one by id, and filtered lists."""

from __future__ import annotations

from typing import Any

from crm_common.auth import current_data_scope
from crm_common.errors import FieldViolation, InvalidArgument
from crm_common.pagination import Page
from crm_opportunity.adapters.repository import OpportunityFilter
from crm_opportunity.domain.model import Opportunity, is_valid_id
from crm_opportunity.service_layer import commands
from crm_opportunity.service_layer.common import UowFactory, opportunity_id_violations


class LookupUseCases:
    def __init__(self, uow: UowFactory) -> None:
        self.uow = uow

    def get_opportunity(self, opportunity_id: str) -> Opportunity:
        violations = opportunity_id_violations(opportunity_id)
        if violations:
            raise InvalidArgument(violations)
        with self.uow() as uow:
            return uow.opportunities.get(opportunity_id, current_data_scope())

    def list_opportunities(self, query: commands.ListOpportunities, page: Page) -> tuple[list[Opportunity], dict[str, Any] | None]:
        if query.account_id and not is_valid_id(query.account_id):
            raise InvalidArgument(FieldViolation("account_id", "not a valid account id"))
        where = OpportunityFilter(account_id=query.account_id, owner_id=query.owner_id.strip(), source_lead_id=query.source_lead_id.strip())
        with self.uow() as uow:
            # The scope is part of the query: a page holds only what the caller reaches.
            return uow.opportunities.list(where, page, current_data_scope())

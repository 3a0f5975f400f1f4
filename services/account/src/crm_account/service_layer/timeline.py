"""The account's timeline: every change, who made it and why, newest first."""

from __future__ import annotations

from typing import Any

from crm_account.domain.model import AccountChange
from crm_account.service_layer.common import UowFactory, account_id_violations, raise_if
from crm_common.auth import current_data_scope
from crm_common.pagination import Page


class TimelineUseCases:
    def __init__(self, uow: UowFactory) -> None:
        self.uow = uow

    def list_account_changes(self, account_id: str, page: Page) -> tuple[list[AccountChange], dict[str, Any] | None]:
        raise_if(account_id_violations(account_id))
        with self.uow() as uow:
            return uow.accounts.changes(uow.accounts.resolve_id(account_id, current_data_scope()), page)  # NOT_FOUND, not an empty timeline

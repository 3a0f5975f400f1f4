"""Consent: recording grants and withdrawals, and answering whether a purpose and channel may
be used now (the decision in force is the latest by decision time, domain.consent).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from crm_account.domain.consent import Consent, ConsentDecision, clean_consent, decide, scope_violations
from crm_account.domain.model import AccountChange, ChangeKind
from crm_account.service_layer import commands
from crm_account.service_layer.common import AccountEvents, Clock, UowFactory, account_id_violations, raise_if
from crm_account.service_layer.unit_of_work import AccountUnitOfWork
from crm_common.auth import current_data_scope, current_principal
from crm_common.db import new_id
from crm_common.pagination import Page
from crm_common.unit_of_work import request_id_violations, run_idempotent


@dataclass(frozen=True)
class ConsentCheck:
    decision: ConsentDecision
    # The decision in force, if any.
    consent: Consent | None

    @property
    def allowed(self) -> bool:
        return self.decision is ConsentDecision.ALLOWED


class ConsentUseCases:
    def __init__(self, uow: UowFactory, events: AccountEvents, clock: Clock) -> None:
        self.uow = uow
        self.events = events
        self.clock = clock

    def record_consent(self, cmd: commands.RecordConsent) -> tuple[Consent, bool]:
        """Records a grant or a withdrawal; returns it and whether it is now the one in force."""
        now = self.clock()
        terms, violations = clean_consent(cmd.consent, now)
        raise_if(request_id_violations(cmd.key.request_id) + account_id_violations(cmd.account_id) + violations)
        assert terms is not None

        def first(uow: AccountUnitOfWork) -> tuple[tuple[Consent, bool], str]:
            account = uow.accounts.get(cmd.account_id, current_data_scope(), for_update=True)  # one decision at a time per customer
            actor = current_principal().subject
            consent = Consent(
                new_id(),
                account.account_id,
                terms.purpose,
                terms.channel,
                terms.status,
                terms.source,
                terms.evidence_ref,
                terms.decided_at,
                terms.expires_at,
                now,
                actor,
            )
            in_force = consent.supersedes(uow.consents.in_force(account.account_id, consent.purpose, consent.channel))
            uow.consents.record(consent, in_force)
            if in_force:
                change = AccountChange(
                    new_id(),
                    account.account_id,
                    ChangeKind.CONSENT_CHANGED,
                    now,
                    actor,
                    (f"consent.{consent.scope}",),
                    f"{consent.status} via {consent.source}",
                )
                uow.accounts.add_change(change)
                uow.publish(self.events.consent_changed(consent, cmd.key.request_id))
            return (consent, in_force), f"{consent.consent_id}:{int(in_force)}"

        def repeat(uow: AccountUnitOfWork, ref: str) -> tuple[Consent, bool]:
            consent_id, _, in_force = ref.partition(":")
            return uow.consents.get(consent_id), in_force == "1"

        return run_idempotent(self.uow, "RecordConsent", cmd.key, first, repeat)

    def check_consent(self, cmd: commands.CheckConsent) -> ConsentCheck:
        purpose, channel, violations = scope_violations(cmd.purpose, cmd.channel)
        raise_if(account_id_violations(cmd.account_id) + violations)
        assert purpose is not None
        with self.uow() as uow:
            # Also NOT_FOUND for an unknown account (rather than NOT_GIVEN), and an id merged
            # away answers with the survivor's consent.
            current = uow.consents.in_force(uow.accounts.resolve_id(cmd.account_id, current_data_scope()), purpose, channel)
            return ConsentCheck(decide(current, self.clock()), current)

    def list_consents(self, account_id: str) -> list[Consent]:
        raise_if(account_id_violations(account_id))
        with self.uow() as uow:
            return uow.consents.all_in_force(uow.accounts.resolve_id(account_id, current_data_scope()))

    def consent_history(self, account_id: str, page: Page) -> tuple[list[Consent], dict[str, Any] | None]:
        raise_if(account_id_violations(account_id))
        with self.uow() as uow:
            return uow.consents.history(uow.accounts.resolve_id(account_id, current_data_scope()), page)

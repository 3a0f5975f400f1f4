"""Data-subject rights: the export of everything the suite holds about a person, the legal hold,
and erasure (here at once, then confirmed by every other service holding a copy).

This service coordinates (crm_common.privacy): it names the person by every identifier it
knows (`PersonIdentifiers`: the account, the accounts merged into it, their converting leads,
blind indexes of national ids, phones and emails), gathers each participant's section of an
export, and waits for each participant's confirmation of an erasure. The participants are
whatever services the settings name, so a new service joins by its registry entry alone.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any, Protocol, TypeVar

from crm_account.adapters.screening_repository import StoredHit
from crm_account.domain.consent import Consent
from crm_account.domain.holdings import Holding
from crm_account.domain.households import Relationship
from crm_account.domain.model import Account, AccountChange, ChangeKind
from crm_account.domain.privacy import ErasureRequest, check_erasable, erase
from crm_account.service_layer import commands
from crm_account.service_layer.common import (
    AccountEvents,
    Clock,
    UowFactory,
    account_id_violations,
    raise_if,
    reason_violations,
    record_change,
    stored_account,
)
from crm_account.service_layer.unit_of_work import AccountUnitOfWork
from crm_common.audit import current_record
from crm_common.auth import current_data_scope, current_principal
from crm_common.db import new_id
from crm_common.errors import FailedPrecondition, Unavailable
from crm_common.pagination import Page
from crm_common.privacy import PersonIdentifiers
from crm_common.unit_of_work import request_id_violations, run_idempotent

T = TypeVar("T")
log = logging.getLogger("crm.account.privacy")


class PersonalDataSections(Protocol):
    """The participants' sections of a person's export, by service name (Unavailable when one
    does not answer): crm_common.grpc.personal_data.PersonalDataClient in the API process."""

    def export(self, person: PersonIdentifiers) -> dict[str, dict[str, Any]]: ...


@dataclass(frozen=True)
class PersonalData:
    """Everything the suite holds about a person (an export's content): this service's part,
    and every participant's section."""

    account: Account
    consents: list[Consent]
    consent_history: list[Consent]
    holdings: list[Holding]
    relationships: list[Relationship]
    timeline: list[AccountChange]
    screening_hits: list[StoredHit]
    erasure: ErasureRequest | None
    person: PersonIdentifiers = field(default_factory=PersonIdentifiers)
    # Accounts merged into this one: their tombstones keep a name, a birth date, an address.
    merged_accounts: list[Account] = field(default_factory=list)
    sections: dict[str, dict[str, Any]] = field(default_factory=dict)


def _every_page(fetch: Callable[[str, Page], tuple[list[T], dict[str, Any] | None]], key: str) -> list[T]:
    """All rows of a keyset-paged listing."""
    rows: list[T] = []
    after: dict[str, Any] | None = None
    while True:
        found, after = fetch(key, Page(size=500, after=after))
        rows.extend(found)
        if after is None:
            return rows


class PrivacyUseCases:
    def __init__(
        self,
        uow: UowFactory,
        events: AccountEvents,
        clock: Clock,
        erasure_services: tuple[str, ...],
        personal_data: PersonalDataSections | None = None,
    ) -> None:
        self.uow = uow
        self.events = events
        self.clock = clock
        # The services that hold a person's data: each confirms an erasure and has an export section.
        self.erasure_services = erasure_services
        self.personal_data = personal_data

    def export_personal_data(self, account_id: str) -> PersonalData:
        """Everything the suite holds about the person, for one machine-readable export: this
        service's part and each participant's section (Unavailable, and nothing recorded, when
        one does not answer: a data subject's export must be whole). The export goes on the
        account's timeline, in the audit log (with every account of the person) and in the log."""
        raise_if(account_id_violations(account_id))
        with self.uow() as uow:
            account = uow.accounts.get(account_id, current_data_scope())
            merged = uow.accounts.merged_away(account.account_id)
            person = uow.accounts.person(account, merged)
            own = PersonalData(
                account=account,
                consents=uow.consents.all_in_force(account.account_id),
                consent_history=_every_page(uow.consents.history, account.account_id),
                holdings=uow.holdings.for_account(account.account_id),
                relationships=uow.households.relationships_of(account.account_id),
                timeline=_every_page(uow.accounts.changes, account.account_id),
                screening_hits=uow.screening.queue_of(account.account_id),
                erasure=uow.privacy.for_account(account.account_id),
                person=person,
                merged_accounts=merged,
            )
        # Outside any transaction: the participants answer over the network.
        data = replace(own, sections=self._sections(person))
        actor = current_principal().subject
        services = ", ".join(["account", *sorted(data.sections)])
        record = current_record()
        if record is not None:
            # The audit row, committed with the timeline entry, names every account of the person.
            record.object_ids.extend(person.merged_account_ids)
        with self.uow() as uow:
            uow.accounts.add_change(
                AccountChange(new_id(), account.account_id, ChangeKind.DATA_EXPORTED, self.clock(), actor, (), f"exported by {actor} ({services})")
            )
            uow.commit()
        log.info(
            "personal data exported",
            extra={"fields": {"account_id": account.account_id, "actor": actor, "services": services, "merged_accounts": len(merged)}},
        )
        return data

    def _sections(self, person: PersonIdentifiers) -> dict[str, dict[str, Any]]:
        if not self.erasure_services:
            return {}
        if self.personal_data is None:
            raise Unavailable("exports are assembled by the account API process")
        sections = self.personal_data.export(person)
        missing = sorted(set(self.erasure_services) - set(sections))
        if missing:
            raise Unavailable(f"the export is incomplete, retry later: no section from {', '.join(missing)}")
        return {name: sections[name] for name in self.erasure_services}

    def set_legal_hold(self, cmd: commands.SetLegalHold) -> Account:
        raise_if(request_id_violations(cmd.key.request_id) + account_id_violations(cmd.account_id) + reason_violations(cmd.reason, required=True))

        def first(uow: AccountUnitOfWork) -> tuple[Account, str]:
            account = uow.accounts.get(cmd.account_id, current_data_scope(), for_update=True)
            if account.erased_at is not None:
                raise FailedPrecondition(f"account {account.account_id} was erased")
            read_version, now, actor = account.version, self.clock(), current_principal().subject
            account.legal_hold, account.legal_hold_reason = cmd.legal_hold, cmd.reason.strip() if cmd.legal_hold else ""
            account.updated_at, account.updated_by, account.version = now, actor, account.version + 1
            uow.accounts.save(account, read_version)
            kind = ChangeKind.LEGAL_HOLD_SET if cmd.legal_hold else ChangeKind.LEGAL_HOLD_LIFTED
            record_change(uow, account, kind, ["legal_hold"], cmd.reason.strip())
            return account, account.account_id

        return run_idempotent(self.uow, "SetLegalHold", cmd.key, first, stored_account)

    def request_erasure(self, cmd: commands.RequestErasure) -> ErasureRequest:
        """Erases the person here, in one transaction with the announcement to the others."""
        raise_if(request_id_violations(cmd.key.request_id) + account_id_violations(cmd.account_id) + reason_violations(cmd.reason, required=True))

        def first(uow: AccountUnitOfWork) -> tuple[ErasureRequest, str]:
            account = uow.accounts.get(cmd.account_id, current_data_scope(), for_update=True)
            check_erasable(account, account.totals.open_holdings)
            actor, now = current_principal().subject, self.clock()
            request = ErasureRequest(new_id(), account.account_id, cmd.reason.strip(), now, actor, pending=list(self.erasure_services))
            # Named before anything is erased: the identifiers go with the announcement.
            merged = uow.accounts.merged_away(account.account_id)
            person = uow.accounts.person(account, merged)
            for erased in (account, *merged):
                read_version = erased.version
                erase(erased, actor, now)
                uow.accounts.save(erased, read_version)
                uow.accounts.forget(erased.account_id)
                uow.privacy.forget_consents_and_hits(erased.account_id)
                uow.duplicates.forget_snapshots(erased.account_id)  # no unmerge brings the person back
            uow.duplicates.forget_open(account.account_id)
            for relationship in uow.households.relationships_of(account.account_id):
                uow.households.remove_relationship(relationship)
            if account.household_id:
                uow.households.remove_member(account.account_id)
            if request.complete_if_done(now):  # no other service to wait for
                uow.publish(self.events.erasure_completed(request, cmd.key.request_id))
            uow.privacy.add(request)
            record_change(uow, account, ChangeKind.ERASED, [], f"erasure {request.erasure_id}")
            uow.publish(self.events.erasure_requested(request, person, cmd.key.request_id))
            return request, request.erasure_id

        return run_idempotent(self.uow, "RequestErasure", cmd.key, first, lambda uow, ref: uow.privacy.get(ref))

    def get_erasure(self, erasure_id: str) -> ErasureRequest:
        raise_if(account_id_violations(erasure_id, "erasure_id"))
        with self.uow() as uow:
            return uow.privacy.get(erasure_id)

    def confirm_erasure(self, cmd: commands.ConfirmErasure) -> str:
        """A service anonymised its copies; the request completes with the last confirmation.

        An unknown erasure raises, so the event is retried and then dead-lettered, not lost.
        """
        raise_if(account_id_violations(cmd.erasure_id, "erasure_id"))
        with self.uow() as uow:
            if not uow.claim_event(cmd.consumer, cmd.event_id):
                return "duplicate"
            request = uow.privacy.get(cmd.erasure_id, for_update=True)
            if request.confirm(cmd.service, self.clock()):
                uow.publish(self.events.erasure_completed(request, ""))
            uow.privacy.save(request)
            uow.commit()
            return str(request.status)

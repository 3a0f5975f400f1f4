"""The account service's use cases. Each runs in one unit of work: state, events (outbox), the
inbox mark and the idempotency record commit together or not at all.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from crm_account.domain.model import LifecycleStage, MatchField, PersonAccount, best_match, is_valid_id
from crm_account.domain.person import Person, clean_keys, clean_person
from crm_account.service_layer import commands
from crm_account.service_layer.unit_of_work import AccountUnitOfWork
from crm_common.auth import current_principal
from crm_common.db import new_id, utcnow
from crm_common.errors import FieldViolation, InvalidArgument
from crm_common.pagination import Page
from crm_common.unit_of_work import request_id_violations, run_idempotent

# How a remembered resolution that created its account is written (result_ref "<id>:CREATED").
_CREATED = "CREATED"


class AccountEvents(Protocol):
    """Builds the service's domain events (protobuf messages) from domain objects."""

    def created(self, account: PersonAccount, correlation_id: str) -> Any: ...
    def updated(self, account: PersonAccount, correlation_id: str) -> Any: ...


@dataclass(frozen=True)
class Resolution:
    account: PersonAccount
    # False when the account was created by this call.
    matched: bool
    matched_on: MatchField | None

    @property
    def ref(self) -> str:
        return f"{self.account.account_id}:{self.matched_on or _CREATED}"


def _account_id(value: str, field: str = "account_id") -> str:
    if not value:
        raise InvalidArgument(FieldViolation(field, "required"))
    if not is_valid_id(value):
        raise InvalidArgument(FieldViolation(field, "not a valid account id"))
    return value


class AccountHandlers:
    def __init__(self, uow: Callable[[], AccountUnitOfWork], events: AccountEvents, clock: Callable[[], datetime] = utcnow) -> None:
        self.uow = uow
        self.events = events
        self.clock = clock

    def resolve_person_account(self, cmd: commands.ResolvePersonAccount) -> Resolution:
        """The account sharing the person's strongest key (national id, phone, email), or a new one.

        Unique indexes on each key settle a race between two resolves of the same person: the
        loser's insert fails, run_idempotent runs it again, and the match finds the winner.
        """
        person, violations = clean_person(cmd.person)
        violations = request_id_violations(cmd.key.request_id) + violations
        if person is None or violations:
            raise InvalidArgument(violations)

        def first(uow: AccountUnitOfWork) -> tuple[Resolution, str]:
            match = best_match(person.keys, uow.accounts.sharing_keys(person.keys))
            if match is not None:
                resolution = Resolution(match.account, matched=True, matched_on=match.field)
            else:
                account = self._prospect(person)
                uow.accounts.add(account)
                uow.publish(self.events.created(account, cmd.key.request_id))
                resolution = Resolution(account, matched=False, matched_on=None)
            return resolution, resolution.ref

        def repeat(uow: AccountUnitOfWork, ref: str) -> Resolution:
            account_id, _, outcome = ref.partition(":")
            account = uow.accounts.get(account_id)
            if outcome == _CREATED:
                return Resolution(account, matched=False, matched_on=None)
            return Resolution(account, matched=True, matched_on=MatchField(outcome))

        return run_idempotent(self.uow, "ResolvePersonAccount", cmd.key, first, repeat)

    def _prospect(self, person: Person) -> PersonAccount:
        now, actor = self.clock(), current_principal().subject
        return PersonAccount(
            account_id=new_id(),
            full_name=person.full_name,
            national_id=person.keys.national_id,
            phone_e164=person.keys.phone_e164,
            email=person.keys.email,
            owner_id=person.owner_id,
            lifecycle_stage=LifecycleStage.PROSPECT,
            source_lead_id=person.source_lead_id,
            acquisition=None,
            created_at=now,
            created_by=actor,
            updated_at=now,
            updated_by=actor,
        )

    def get_account(self, account_id: str) -> PersonAccount:
        _account_id(account_id)
        with self.uow() as uow:
            return uow.accounts.get(account_id)

    def search_accounts(self, query: commands.SearchAccounts, page: Page) -> tuple[list[PersonAccount], dict[str, Any] | None]:
        """Exact lookup by any of phone, email and national id (all given must match)."""
        violations: list[FieldViolation] = []
        keys = clean_keys(query.phone, query.email, query.national_id, violations)
        if violations:
            raise InvalidArgument(violations)
        with self.uow() as uow:
            return uow.accounts.search(keys, page)

    def record_acquisition(self, cmd: commands.RecordAcquisition) -> str:
        """Records first-touch attribution once per event; "duplicate" for a redelivered event.

        An unknown account raises, so the event is retried and then dead-lettered, not lost.
        """
        _account_id(cmd.account_id, "conversion.account_id")
        with self.uow() as uow:
            if not uow.claim_event(cmd.consumer, cmd.event_id):
                return "duplicate"
            account = uow.accounts.get(cmd.account_id, for_update=True)
            if account.record_acquisition(cmd.acquisition, current_principal().subject, self.clock()):
                uow.accounts.save_acquisition(account)
                uow.publish(self.events.updated(account, cmd.correlation_id))
            uow.commit()
        return "ok"

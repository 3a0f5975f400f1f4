"""KYC and watchlist screening: onboarding outcomes (by RPC and by event), periodic review
expiry, screening against the configured list and the compliance officer's review of its hits.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any

from crm_account.adapters.screening_repository import StoredHit
from crm_account.domain.kyc import Kyc, KycStatus, RiskRating, clean_outcome, expired, next_kyc
from crm_account.domain.model import Account, AccountType, ChangeKind
from crm_account.domain.screening import ListKind, ReviewStatus, Watchlist, screen
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
from crm_common.auth import current_data_scope, current_principal
from crm_common.errors import FailedPrecondition, FieldViolation, InvalidArgument
from crm_common.pagination import Page
from crm_common.unit_of_work import request_id_violations, run_idempotent


def screen_for_review(uow: AccountUnitOfWork, watchlist: Watchlist | None, account: Account, now: datetime) -> list[StoredHit]:
    """Holds the account's watchlist hits for review (persons only; nothing without a list)."""
    if watchlist is None or account.profile.account_type is not AccountType.PERSON:
        return []
    hits = screen(watchlist, account.profile.full_name, account.profile.date_of_birth)
    return uow.screening.record(account.account_id, hits, watchlist.version, now)


class KycUseCases:
    def __init__(self, uow: UowFactory, events: AccountEvents, clock: Clock, watchlist: Watchlist | None) -> None:
        self.uow = uow
        self.events = events
        self.clock = clock
        # None when no list is configured: accounts are then not screened.
        self.watchlist = watchlist

    def record_kyc_outcome(self, cmd: commands.RecordKycOutcome) -> Account:
        """An onboarding outcome; FAILED_PRECONDITION for a move the onboarding flow never makes."""
        outcome, violations = clean_outcome(cmd.outcome, self.clock())
        raise_if(request_id_violations(cmd.key.request_id) + account_id_violations(cmd.account_id) + violations)
        assert outcome is not None

        def first(uow: AccountUnitOfWork) -> tuple[Account, str]:
            account = uow.accounts.get(cmd.account_id, current_data_scope(), for_update=True)
            self._change_kyc(uow, account, next_kyc(account.kyc, outcome), current_principal().subject, cmd.key.request_id)
            return account, account.account_id

        return run_idempotent(self.uow, "RecordKycOutcome", cmd.key, first, stored_account)

    def record_reported_kyc_outcome(self, cmd: commands.ReportedKycOutcome) -> str:
        """The same outcome by event, once per event. A bad or impossible outcome raises: the
        message is retried, then parked in the dead-letter queue for a person to look at."""
        outcome, violations = clean_outcome(cmd.outcome, self.clock())
        raise_if(account_id_violations(cmd.account_id) + violations)
        assert outcome is not None
        with self.uow() as uow:
            if not uow.claim_event(cmd.consumer, cmd.event_id):
                return "duplicate"
            account = uow.accounts.get(cmd.account_id, current_data_scope(), for_update=True)
            self._change_kyc(uow, account, next_kyc(account.kyc, outcome), current_principal().subject, cmd.correlation_id)
            uow.commit()
        return str(outcome.status)

    def _change_kyc(self, uow: AccountUnitOfWork, account: Account, kyc: Kyc, actor: str, correlation_id: str, note: str = "") -> None:
        previous, read_version = account.kyc.status, account.version
        account.set_kyc(kyc, actor, self.clock())
        uow.accounts.save(account, read_version)
        why = note or kyc.reason
        record_change(uow, account, ChangeKind.KYC_STATUS_CHANGED, ["kyc"], f"{previous} → {kyc.status}" + (f": {why}" if why else ""))
        uow.publish(self.events.kyc_status_changed(account, previous, correlation_id))

    def expire_kyc_reviews(self, batch: int = 200) -> int:
        """Marks verifications whose periodic review is due EXPIRED; returns how many. Replicas
        running this at once take disjoint rows (SKIP LOCKED)."""
        with self.uow() as uow:
            now = self.clock()
            due = uow.accounts.kyc_reviews_due(now, batch)
            for account in due:
                lapsed = expired(account.kyc, now)
                if lapsed is not None:
                    self._change_kyc(uow, account, lapsed, "system:kyc-expiry", "")
            uow.commit()
            return len(due)

    def screen_account(self, account_id: str) -> tuple[list[StoredHit], str]:
        """Screens the account now; FAILED_PRECONDITION when no watchlist is configured."""
        raise_if(account_id_violations(account_id))
        if self.watchlist is None:
            raise FailedPrecondition("no watchlist is configured (ACCOUNT_WATCHLIST_FILE)")
        with self.uow() as uow:
            hits = screen_for_review(uow, self.watchlist, uow.accounts.get(account_id, current_data_scope()), self.clock())
            uow.commit()
            return hits, self.watchlist.version

    def screening_queue(self, review: str, page: Page) -> tuple[list[StoredHit], dict[str, Any] | None]:
        status = ReviewStatus.__members__.get(review or "PENDING_REVIEW")
        if status is None:
            raise InvalidArgument(FieldViolation("review", "unknown value"))
        with self.uow() as uow:
            return uow.screening.queue(status, page)

    def review_screening_hit(self, cmd: commands.ReviewScreeningHit) -> tuple[StoredHit, Account]:
        """A compliance officer's verdict. A confirmed sanctions match rejects the account's KYC
        (whatever its status: a compliance decision, not an onboarding step) with a HIGH risk;
        a confirmed PEP raises the risk to HIGH; a false positive closes the hit."""
        verdict = ReviewStatus.__members__.get(cmd.review)
        violations = request_id_violations(cmd.key.request_id) + reason_violations(cmd.note, required=True)
        if verdict not in (ReviewStatus.CONFIRMED_MATCH, ReviewStatus.FALSE_POSITIVE):
            violations.append(FieldViolation("review", "CONFIRMED_MATCH or FALSE_POSITIVE"))
        if not cmd.hit_id:
            violations.append(FieldViolation("hit_id", "required"))
        raise_if([FieldViolation("note" if v.field == "reason" else v.field, v.description) for v in violations])
        assert verdict is not None
        note = cmd.note.strip()

        def first(uow: AccountUnitOfWork) -> tuple[tuple[StoredHit, Account], str]:
            hit = uow.screening.get(cmd.hit_id, for_update=True)
            if hit.review is not ReviewStatus.PENDING_REVIEW:
                raise FailedPrecondition(f"the hit was already reviewed: {hit.review}")
            actor, now = current_principal().subject, self.clock()
            uow.screening.review(hit.hit_id, verdict, note, actor)
            account = uow.accounts.get(hit.account_id, current_data_scope(), for_update=True)
            if verdict is ReviewStatus.CONFIRMED_MATCH:
                listed = f"{hit.list_kind} list match {hit.entry_id} ({hit.list_source})"
                kyc = replace(account.kyc, risk_rating=RiskRating.HIGH, updated_at=now)
                if hit.list_kind is ListKind.SANCTIONS:
                    kyc = replace(kyc, status=KycStatus.REJECTED, reason=listed)
                self._change_kyc(uow, account, kyc, actor, cmd.key.request_id, note=f"{listed}: {note}")
            return (uow.screening.get(hit.hit_id), account), hit.hit_id

        def repeat(uow: AccountUnitOfWork, ref: str) -> tuple[StoredHit, Account]:
            hit = uow.screening.get(ref)
            return hit, uow.accounts.get(hit.account_id, current_data_scope())

        return run_idempotent(self.uow, "ReviewScreeningHit", cmd.key, first, repeat)

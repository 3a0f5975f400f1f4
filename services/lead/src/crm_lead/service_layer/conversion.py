"""Converting an SQL lead: an orchestrated saga across the account and opportunity services
(docs/conversion.md), and the recovery that finishes conversions a caller abandoned."""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import timedelta

from crm_common.auth import current_principal
from crm_common.db import WRITE_CONFLICTS, utcnow
from crm_common.errors import DomainError, FailedPrecondition, FieldViolation, InvalidArgument, NotFound, Unavailable
from crm_common.unit_of_work import Idempotent
from crm_lead.domain.model import Conversion, Lead, Status
from crm_lead.service_layer import commands
from crm_lead.service_layer.common import Clock, LeadEvents, UowFactory, lead_for_update, lead_scope
from crm_lead.service_layer.ports import AccountDirectory, NewOpportunity, OpportunityBook
from crm_lead.service_layer.unit_of_work import LeadUnitOfWork

log = logging.getLogger("crm.lead")


class ConversionUseCases:
    def __init__(
        self, uow: UowFactory, events: LeadEvents, accounts: AccountDirectory, opportunities: OpportunityBook, clock: Clock = utcnow
    ) -> None:
        self.uow = uow
        self.events = events
        self.accounts = accounts
        self.opportunities = opportunities
        self.clock = clock

    def convert_lead(self, cmd: commands.ConvertLead) -> Lead:
        """Lead → (matched or new) person account + opportunity.

        Step 1 records the saga; steps 2 and 3 call the other services with request ids derived
        from the lead id, so any retry (the caller's, or the recovery loop's) reuses them and
        cannot create a second account or opportunity; step 4 marks the lead CONVERTED and
        publishes LeadConverted in one transaction. Until step 4 the lead stays SQL.

        Concurrent calls for one lead all answer with the one conversion: the steps run under
        the saga's lock, so a call that arrives while another runs them waits and then finds
        the lead converted; a call that arrived before the conversion completed is answered
        with it too. A call made after it completed is a new conversion of a converted lead
        (FAILED_PRECONDITION).
        """
        if cmd.amount_minor is not None and cmd.amount_minor < 0:
            raise InvalidArgument(FieldViolation("amount.amount_minor", "must not be negative"))
        arrived = self.clock()
        with self.uow() as uow:
            previous = uow.previous_result("ConvertLead", cmd.key)
            if previous is not None:
                return uow.leads.get(previous, lead_scope())
            lead = lead_for_update(uow, cmd.lead_id)
            if lead.status == Status.CONVERTED:
                if lead.converted_at is None or lead.converted_at <= arrived:
                    raise FailedPrecondition(
                        f"lead {lead.lead_id} is already converted (account {lead.account_id}, opportunity {lead.opportunity_id})"
                    )
                # Converted by a concurrent call while this one waited for the lead.
                uow.remember_result("ConvertLead", cmd.key, lead.lead_id)
                uow.commit()
                return lead
            lead.ensure_convertible()
            if uow.leads.get_conversion(lead.lead_id) is None:
                product = cmd.product or lead.product_interest
                if not product:
                    raise InvalidArgument(FieldViolation("product", "required: the lead has no product interest to default to"))
                now = self.clock()
                saga = Conversion(
                    lead_id=lead.lead_id,
                    state="STARTED",
                    # The stored key (caller-scoped), so recovery records it for the same caller.
                    request_id=cmd.key.stored_id,
                    request_fingerprint=cmd.key.fingerprint,
                    product=product,
                    amount_minor=cmd.amount_minor if cmd.amount_minor is not None else lead.requested_amount_minor,
                    currency=(cmd.currency or lead.currency or "VND")
                    if (cmd.amount_minor is not None or lead.requested_amount_minor is not None)
                    else "",
                    expected_close_at=cmd.expected_close_at,
                    owner_id=cmd.owner_id or lead.owner_id,
                    account_id="",
                    matched_existing_account=False,
                    opportunity_id="",
                    attempts=0,
                    last_error="",
                    created_at=now,
                    updated_at=now,
                )
                try:
                    uow.leads.start_conversion(saga)
                    uow.commit()
                except WRITE_CONFLICTS:
                    pass  # a concurrent call started it first (SQLite has no lead lock): join that saga
        return self._advance(cmd.lead_id, cmd.key)

    def resume_stalled_conversions(self, older_than: timedelta = timedelta(minutes=1)) -> int:
        """Completes conversions whose caller gave up midway; run periodically by the API process."""
        with self.uow() as uow:
            now = self.clock()
            stalled = uow.leads.claim_stalled_conversions(now - older_than, now)
            uow.commit()
        done = 0
        for lead_id in stalled:
            try:
                self._advance(lead_id, None)
                done += 1
            except DomainError as exc:
                log.warning("conversion of lead %s still pending: %s", lead_id, exc.message)
        return done

    def _advance(self, lead_id: str, key: Idempotent | None) -> Lead:
        """Runs the remaining steps; `key` is the call being answered (None for the recovery loop).

        One transaction holds the saga's lock from the first step to the last (PostgreSQL: the
        row; SQLite: the write lock), so the steps of one lead never run twice at once: the
        other services' idempotency is scoped to the caller, and two callers' concurrent
        steps would each create an opportunity. A waiting call then finds the lead converted.
        """
        with self.uow() as uow:
            saga = uow.leads.get_conversion(lead_id, for_update=True)
            if saga is None:
                raise NotFound("conversion", lead_id)
            lead = uow.leads.get(lead_id, lead_scope(), for_update=True)
            if lead.status != Status.CONVERTED:
                saga = self._run_steps(uow, lead, saga)
                now = self.clock()
                lead.mark_converted(saga.account_id, saga.opportunity_id, saga.matched_existing_account, current_principal().subject, now)
                uow.leads.save(lead)
                uow.leads.update_conversion(lead_id, state="COMPLETED", updated_at=now, last_error="")
                uow.leads.record_opportunity(lead_id, saga.opportunity_id, "OPEN", saga.amount_minor, saga.currency, now)
                uow.publish(self.events.converted(lead, key.request_id if key else ""))
            # The request that started the saga answers as done even when recovery finished it.
            starter = Idempotent(saga.request_id, saga.request_fingerprint)
            for done_key in [starter] if key is None or key == starter else [starter, key]:
                if uow.previous_result("ConvertLead", done_key) is None:
                    uow.remember_result("ConvertLead", done_key, lead_id)
            uow.commit()
        return lead

    def _run_steps(self, uow: LeadUnitOfWork, lead: Lead, saga: Conversion) -> Conversion:
        """Steps 2 and 3, each recorded in the saga as it is done; a refusal is recorded, committed
        and raised (UNAVAILABLE: retry; otherwise FAILED_PRECONDITION)."""
        lead_id = lead.lead_id
        try:
            if not saga.account_id:
                account = self.accounts.resolve_person(
                    request_id=f"convert:{lead_id}:account",
                    full_name=lead.full_name,
                    phone=lead.phone_e164,
                    email=lead.email,
                    national_id=lead.national_id,
                    owner_id=saga.owner_id,
                    lead_id=lead_id,
                )
                saga = replace(saga, account_id=account.account_id, matched_existing_account=account.matched, state="ACCOUNT_RESOLVED")
                self._save_saga(uow, saga)
            if not saga.opportunity_id:
                opportunity_id = self.opportunities.create(
                    NewOpportunity(
                        request_id=f"convert:{lead_id}:opportunity",
                        account_id=saga.account_id,
                        product=saga.product,
                        amount_minor=saga.amount_minor,
                        currency=saga.currency,
                        expected_close_at=saga.expected_close_at,
                        owner_id=saga.owner_id,
                        team_id=lead.team_id,
                        lead_id=lead_id,
                        campaign_id=lead.source.campaign_id,
                        territory_id=lead.territory_id,
                    )
                )
                saga = replace(saga, opportunity_id=opportunity_id, state="OPPORTUNITY_CREATED")
                self._save_saga(uow, saga)
        except DomainError as exc:
            self._save_saga(uow, replace(saga, attempts=saga.attempts + 1, last_error=exc.message[:2000]))
            uow.commit()
            if isinstance(exc, Unavailable):
                raise Unavailable(f"conversion of lead {lead_id} is pending ({exc.message}); retry the call, or it completes by itself") from None
            raise FailedPrecondition(f"conversion of lead {lead_id} was refused downstream: {exc.message}") from None
        return saga

    def _save_saga(self, uow: LeadUnitOfWork, saga: Conversion) -> None:
        values = {k: v for k, v in saga.__dict__.items() if k not in ("lead_id", "created_at", "request_id", "request_fingerprint")}
        values["updated_at"] = self.clock()
        uow.leads.update_conversion(saga.lead_id, **values)

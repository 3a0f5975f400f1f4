"""The lead service's use cases. Each runs in one unit of work: state, events (outbox) and the
idempotency record commit together. Conversion is an orchestrated saga across services
(docs/conversion.md).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any, Protocol

from crm_common.auth import current_principal
from crm_common.auth.roles import LEAD_READ_ALL
from crm_common.db import WRITE_CONFLICTS, new_id, utcnow
from crm_common.errors import AlreadyExists, DomainError, FailedPrecondition, FieldViolation, InvalidArgument, NotFound, PermissionDenied, Unavailable
from crm_common.events.erasure import erasure_confirmed
from crm_common.pagination import Page
from crm_common.unit_of_work import Idempotent, check_request_id, check_same_request, run_idempotent
from crm_lead.domain.assignment import FirstContactSla, round_robin_pick
from crm_lead.domain.capture import CleanLead, clean
from crm_lead.domain.model import SALES_VISIBLE_STATUSES, ContactAttempt, ContactOutcome, Conversion, Lead, LeadFilter, Status, visible_statuses
from crm_lead.domain.scoring import INTEREST_BEHAVIOURS, ScoringRules
from crm_lead.service_layer import commands
from crm_lead.service_layer.ports import AccountDirectory, NewOpportunity, OpportunityBook
from crm_lead.service_layer.unit_of_work import LeadUnitOfWork

log = logging.getLogger("crm.lead")

MAX_IMPORT_ROWS = 10_000


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


def _sales_view() -> bool:
    """Callers without leads.read_all see only what sales works on (PRODUCT.md: the rest stays with marketing)."""
    return not current_principal().can(LEAD_READ_ALL)


def _prefixed(violations: list[FieldViolation], prefix: str) -> list[FieldViolation]:
    return [FieldViolation(f"{prefix}.{v.field}" if prefix else v.field, v.description) for v in violations]


class LeadHandlers:
    def __init__(
        self,
        uow: Callable[..., LeadUnitOfWork],
        events: LeadEvents,
        accounts: AccountDirectory,
        opportunities: OpportunityBook,
        rules: ScoringRules | None = None,
        sla: FirstContactSla | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.uow = uow
        self.events = events
        self.accounts = accounts
        self.opportunities = opportunities
        self.rules = rules or ScoringRules.load()
        self.sla = sla or FirstContactSla()
        self.clock = clock

    # -- shared steps
    def _idempotent(
        self,
        method: str,
        key: Idempotent,
        first: Callable[[LeadUnitOfWork], tuple[Any, str]],
        repeat: Callable[[LeadUnitOfWork, str], Any] | None = None,
    ) -> Any:
        return run_idempotent(self.uow, method, key, first, repeat or (lambda u, ref: u.leads.get(ref)))

    def _new_lead(self, data: CleanLead, now: datetime) -> Lead:
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
        lead.score, lead.score_reasons = self.rules.score(lead)
        lead.promote_if_marketing_qualified(actor, now)
        return lead

    def _capture_events(self, lead: Lead, correlation_id: str) -> list[Any]:
        # One event per change: a lead captured already marketing-qualified says so in its
        # LeadCaptured (lead.status = MQL); LeadQualified marks a later move to MQL or SQL.
        return [self.events.captured(lead, correlation_id)]

    def _get(self, uow: LeadUnitOfWork, lead_id: str) -> Lead:
        if not lead_id:
            raise InvalidArgument(FieldViolation("lead_id", "required"))
        return uow.leads.get(lead_id, for_update=True)

    def _rescore(self, uow: LeadUnitOfWork, lead: Lead, correlation_id: str) -> None:
        previous = lead.score
        lead.score, lead.score_reasons = self.rules.score(lead, uow.leads.behaviours(lead.lead_id))
        if lead.score != previous:
            uow.publish(self.events.scored(lead, previous, correlation_id))

    # -- capture
    def create_lead(self, cmd: commands.CreateLead) -> Lead:
        """The hot path (sustained captures from landing pages and partners): validation and
        scoring in memory, then one write that stores the lead, its events and the idempotency
        key unless the request is a repeat or the person already has an open lead."""
        check_request_id(cmd.key.request_id)
        data, violations = clean(cmd.draft)
        if data is None:
            raise InvalidArgument(_prefixed(violations, "lead"))
        lead = self._new_lead(data, self.clock())
        for attempt in (1, 2):
            try:
                with self.uow(single_statement=True) as uow:
                    rows = [uow.outbox.row(e) for e in self._capture_events(lead, cmd.key.request_id)]
                    audit = uow.take_audit_row(lead.lead_id)
                    outcome = uow.leads.capture(lead, rows, "CreateLead", cmd.key.request_id, cmd.key.fingerprint, audit)
                    if outcome.previous_ref:
                        return uow.leads.get(check_same_request(outcome.previous_hash, cmd.key.fingerprint, outcome.previous_ref))
                    if outcome.duplicate_of:
                        raise AlreadyExists(
                            "lead", outcome.duplicate_of, f"an open lead with this {outcome.duplicate_on} already exists: {outcome.duplicate_of}"
                        )
                    uow.commit(wrote_events=True)
                    return lead
            except WRITE_CONFLICTS:
                # A concurrent capture of the same person or request won; the rerun sees it.
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def capture_web_form(self, cmd: commands.CaptureWebForm) -> tuple[Lead, bool]:
        """A resubmission by someone with an open lead becomes behaviour on that lead."""

        def first(uow: LeadUnitOfWork) -> tuple[tuple[Lead, bool], str]:
            data, violations = clean(cmd.draft)
            if data is None:
                raise InvalidArgument(violations)
            now = self.clock()
            duplicates = uow.leads.find_open_duplicates([data.phone_e164] if data.phone_e164 else [], [data.email] if data.email else [])
            if not duplicates:
                lead = self._new_lead(data, now)
                uow.leads.add(lead)
                uow.publish(*self._capture_events(lead, cmd.key.request_id))
                return (lead, False), f"{lead.lead_id}|new"
            lead = uow.leads.get(next(iter(duplicates.values())), for_update=True)
            actor = current_principal().subject
            lead.full_name = lead.full_name or data.full_name
            lead.phone_e164, lead.phone_is_mobile = (
                (lead.phone_e164, lead.phone_is_mobile) if lead.phone_e164 else (data.phone_e164, data.phone_is_mobile)
            )
            lead.email = lead.email or data.email
            lead.product_interest = lead.product_interest or data.product_interest
            lead.marketing_consent = lead.marketing_consent or data.marketing_consent
            uow.leads.add_behaviour(lead.lead_id, "FORM_SUBMITTED", now, cmd.message[:2000])
            self._rescore(uow, lead, cmd.key.request_id)
            if lead.promote_if_marketing_qualified(actor, now):
                uow.publish(self.events.qualified(lead, cmd.key.request_id))
            lead.updated_at, lead.updated_by = now, actor
            uow.leads.save(lead)
            return (lead, True), f"{lead.lead_id}|matched"

        def repeat(uow: LeadUnitOfWork, ref: str) -> tuple[Lead, bool]:
            lead_id, _, how = ref.partition("|")
            return uow.leads.get(lead_id), how == "matched"

        return self._idempotent("CaptureWebForm", cmd.key, first, repeat)  # type: ignore[no-any-return]

    def import_leads(self, cmd: commands.ImportLeads) -> list[dict[str, Any]]:
        """Each row is created, reported as a duplicate, or reported invalid; the batch never fails on a row."""
        if not cmd.rows:
            raise InvalidArgument(FieldViolation("rows", "at least one row is required"))
        if len(cmd.rows) > MAX_IMPORT_ROWS:
            raise InvalidArgument(FieldViolation("rows", f"at most {MAX_IMPORT_ROWS} rows per call; split the file"))

        def first(uow: LeadUnitOfWork) -> tuple[list[dict[str, Any]], str]:
            now = self.clock()
            cleaned: list[tuple[int, CleanLead | None, list[FieldViolation]]] = []
            for index, draft in enumerate(cmd.rows):
                data, violations = clean(draft)
                cleaned.append((index, data, _prefixed(violations, f"rows[{index}]")))
            phones = sorted({d.phone_e164 for _, d, _ in cleaned if d and d.phone_e164})
            emails = sorted({d.email for _, d, _ in cleaned if d and d.email})
            taken = uow.leads.find_open_duplicates(phones, emails)
            results: list[dict[str, Any]] = []
            created: list[Lead] = []
            for index, data, violations in cleaned:
                if data is None:
                    results.append({"row": index, "status": "INVALID", "lead_id": "", "violations": [[v.field, v.description] for v in violations]})
                    continue
                existing = taken.get(("phone", data.phone_e164)) or taken.get(("email", data.email))
                if existing:
                    results.append({"row": index, "status": "DUPLICATE", "lead_id": existing, "violations": []})
                    continue
                lead = self._new_lead(data, now)
                created.append(lead)
                # Later rows of the same file with this phone or email duplicate this one.
                if data.phone_e164:
                    taken[("phone", data.phone_e164)] = lead.lead_id
                if data.email:
                    taken[("email", data.email)] = lead.lead_id
                results.append({"row": index, "status": "CREATED", "lead_id": lead.lead_id, "violations": []})
            uow.leads.add_many(created)
            for lead in created:
                uow.publish(*self._capture_events(lead, cmd.key.request_id))
            import_id = new_id()
            uow.leads.save_import(import_id, results, now)
            return results, import_id

        return self._idempotent("ImportLeads", cmd.key, first, lambda uow, ref: uow.leads.get_import(ref))  # type: ignore[no-any-return]

    # -- nurturing and sales work
    def record_behaviour(self, cmd: commands.RecordBehaviour) -> Lead:
        if not cmd.behaviour:
            raise InvalidArgument(FieldViolation("behaviour", "required"))

        def first(uow: LeadUnitOfWork) -> tuple[Lead, str]:
            lead = self._get(uow, cmd.lead_id)
            if lead.status == Status.CONVERTED:
                raise FailedPrecondition(f"lead {lead.lead_id} is CONVERTED; behaviour now belongs to its account")
            now = self.clock()
            uow.leads.add_behaviour(lead.lead_id, cmd.behaviour, cmd.occurred_at or now, cmd.detail[:2000])
            self._rescore(uow, lead, cmd.key.request_id)
            actor = current_principal().subject
            if cmd.behaviour in INTEREST_BEHAVIOURS and lead.promote_if_marketing_qualified(actor, now):
                uow.publish(self.events.qualified(lead, cmd.key.request_id))
            lead.updated_at, lead.updated_by = now, actor
            uow.leads.save(lead)
            return lead, lead.lead_id

        return self._idempotent("RecordBehaviour", cmd.key, first)  # type: ignore[no-any-return]

    def assign_lead(self, cmd: commands.AssignLead) -> Lead:
        if bool(cmd.owner_id) == bool(cmd.team_id):
            raise InvalidArgument(FieldViolation("target", "give exactly one of owner_id or team_id"))

        def first(uow: LeadUnitOfWork) -> tuple[Lead, str]:
            lead = self._get(uow, cmd.lead_id)
            owner = cmd.owner_id
            if cmd.team_id:
                members, turn = uow.leads.take_team_turn(cmd.team_id)
                owner = round_robin_pick(cmd.team_id, members, turn)
            now = self.clock()
            lead.assign(owner, cmd.team_id, self.sla.due_at(now, lead.score), current_principal().subject, now)
            uow.leads.save(lead)
            uow.publish(self.events.assigned(lead, cmd.key.request_id))
            return lead, lead.lead_id

        return self._idempotent("AssignLead", cmd.key, first)  # type: ignore[no-any-return]

    def record_contact_attempt(self, cmd: commands.RecordContactAttempt) -> tuple[Lead, ContactAttempt]:
        violations = []
        if not cmd.channel:
            violations.append(FieldViolation("channel", "required"))
        if not cmd.outcome:
            violations.append(FieldViolation("outcome", "required"))
        now = self.clock()
        if cmd.contacted_at and cmd.contacted_at > now + timedelta(minutes=5):
            violations.append(FieldViolation("contact_time", "must not be in the future"))
        if violations:
            raise InvalidArgument(violations)

        def first(uow: LeadUnitOfWork) -> tuple[tuple[Lead, ContactAttempt], str]:
            lead = self._get(uow, cmd.lead_id)
            actor = current_principal().subject
            attempt = ContactAttempt(
                new_id(), lead.lead_id, cmd.channel, ContactOutcome(cmd.outcome), cmd.note[:2000], actor, cmd.contacted_at or now
            )
            first_contact = lead.record_contact(attempt, actor, now)
            uow.leads.add_contact_attempt(attempt)
            uow.leads.save(lead)
            uow.publish(self.events.contacted(lead, attempt, first_contact, lead.first_contact_sla_breached(now), cmd.key.request_id))
            return (lead, attempt), f"{lead.lead_id}|{attempt.attempt_id}"

        def repeat(uow: LeadUnitOfWork, ref: str) -> tuple[Lead, ContactAttempt]:
            lead_id, _, attempt_id = ref.partition("|")
            attempt = next(a for a in uow.leads.contact_attempts(lead_id) if a.attempt_id == attempt_id)
            return uow.leads.get(lead_id), attempt

        return self._idempotent("RecordContactAttempt", cmd.key, first, repeat)  # type: ignore[no-any-return]

    def qualify_lead(self, cmd: commands.QualifyLead) -> Lead:
        def first(uow: LeadUnitOfWork) -> tuple[Lead, str]:
            lead = self._get(uow, cmd.lead_id)
            lead.qualify(uow.leads.was_reached(lead.lead_id), cmd.note[:2000], current_principal().subject, self.clock())
            uow.leads.save(lead)
            uow.publish(self.events.qualified(lead, cmd.key.request_id))
            return lead, lead.lead_id

        return self._idempotent("QualifyLead", cmd.key, first)  # type: ignore[no-any-return]

    def disqualify_lead(self, cmd: commands.DisqualifyLead) -> Lead:
        if not cmd.reason:
            raise InvalidArgument(FieldViolation("reason", "required: why the lead is disqualified"))

        def first(uow: LeadUnitOfWork) -> tuple[Lead, str]:
            lead = self._get(uow, cmd.lead_id)
            lead.disqualify(cmd.reason, cmd.note[:2000], current_principal().subject, self.clock())
            uow.leads.save(lead)
            uow.publish(self.events.disqualified(lead, cmd.key.request_id))
            return lead, lead.lead_id

        return self._idempotent("DisqualifyLead", cmd.key, first)  # type: ignore[no-any-return]

    def return_to_nurture(self, cmd: commands.ReturnToNurture) -> Lead:
        def first(uow: LeadUnitOfWork) -> tuple[Lead, str]:
            lead = self._get(uow, cmd.lead_id)
            previous_status, previous_owner = str(lead.status), lead.owner_id
            lead.return_to_nurture(cmd.note[:2000], current_principal().subject, self.clock())
            uow.leads.save(lead)
            uow.publish(self.events.returned_to_nurture(lead, previous_status, previous_owner, cmd.key.request_id))
            return lead, lead.lead_id

        return self._idempotent("ReturnToNurture", cmd.key, first)  # type: ignore[no-any-return]

    def set_team_members(self, cmd: commands.SetTeamMembers) -> list[str]:
        violations = []
        if not cmd.team_id:
            violations.append(FieldViolation("team_id", "required"))
        members = [m.strip() for m in cmd.member_ids]
        if not members or any(not m for m in members):
            violations.append(FieldViolation("member_ids", "at least one non-empty member id"))
        if len(set(members)) != len(members):
            violations.append(FieldViolation("member_ids", "member ids must be unique"))
        if violations:
            raise InvalidArgument(violations)

        def first(uow: LeadUnitOfWork) -> tuple[list[str], str]:
            uow.leads.set_team(cmd.team_id, members, self.clock())
            return members, cmd.team_id

        return self._idempotent("SetTeamMembers", cmd.key, first, lambda uow, ref: members)  # type: ignore[no-any-return]

    # -- queries
    def get_lead(self, lead_id: str) -> tuple[Lead, list[ContactAttempt]]:
        if not lead_id:
            raise InvalidArgument(FieldViolation("lead_id", "required"))
        with self.uow() as uow:
            lead = uow.leads.get(lead_id)
            if _sales_view() and lead.status not in SALES_VISIBLE_STATUSES:
                raise PermissionDenied(f"lead {lead_id} is {lead.status}: it is with marketing, not sales")
            return lead, uow.leads.contact_attempts(lead_id)

    def list_leads(self, where: LeadFilter, page: Page) -> tuple[list[Lead], dict[str, Any] | None]:
        statuses = visible_statuses(where.statuses, _sales_view())
        if statuses is None:
            return [], None
        with self.uow() as uow:
            return uow.leads.search(replace(where, statuses=statuses), page)

    # -- conversion saga
    def convert_lead(self, cmd: commands.ConvertLead) -> Lead:
        """Lead → (matched or new) person account + opportunity; see docs/conversion.md.

        Step 1 records the saga; steps 2 and 3 call the other services with request ids derived
        from the lead id, so any retry (the caller's, or the recovery loop's) reuses them and
        cannot create a second account or opportunity; step 4 marks the lead CONVERTED and
        publishes LeadConverted in one transaction. Until step 4 the lead stays SQL.
        """
        if cmd.amount_minor is not None and cmd.amount_minor < 0:
            raise InvalidArgument(FieldViolation("amount.amount_minor", "must not be negative"))
        with self.uow() as uow:
            previous = uow.previous_result("ConvertLead", cmd.key.request_id, cmd.key.fingerprint)
            if previous is not None:
                return uow.leads.get(previous)
            lead = self._get(uow, cmd.lead_id)
            if lead.status == Status.CONVERTED:
                raise FailedPrecondition(f"lead {lead.lead_id} is already converted (account {lead.account_id}, opportunity {lead.opportunity_id})")
            lead.ensure_convertible()
            if uow.leads.get_conversion(lead.lead_id) is None:
                product = cmd.product or lead.product_interest
                if not product:
                    raise InvalidArgument(FieldViolation("product", "required: the lead has no product interest to default to"))
                now = self.clock()
                uow.leads.start_conversion(
                    Conversion(
                        lead_id=lead.lead_id,
                        state="STARTED",
                        request_id=cmd.key.request_id,
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
                )
                uow.commit()
        return self._advance_conversion(cmd.lead_id, cmd.key)

    def _advance_conversion(self, lead_id: str, key: Idempotent | None) -> Lead:
        """Runs the remaining steps; `key` is the call being answered (None for the recovery loop)."""
        with self.uow() as uow:
            lead = uow.leads.get(lead_id)
            saga = uow.leads.get_conversion(lead_id)
        if saga is None:
            raise NotFound("conversion", lead_id)
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
                self._save_saga(saga)
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
                    )
                )
                saga = replace(saga, opportunity_id=opportunity_id, state="OPPORTUNITY_CREATED")
                self._save_saga(saga)
        except DomainError as exc:
            self._save_saga(replace(saga, attempts=saga.attempts + 1, last_error=exc.message[:2000]))
            if isinstance(exc, Unavailable):
                raise Unavailable(f"conversion of lead {lead_id} is pending ({exc.message}); retry the call, or it completes by itself") from None
            raise FailedPrecondition(f"conversion of lead {lead_id} was refused downstream: {exc.message}") from None

        with self.uow() as uow:
            lead = uow.leads.get(lead_id, for_update=True)
            if lead.status != Status.CONVERTED:
                now = self.clock()
                lead.mark_converted(saga.account_id, saga.opportunity_id, saga.matched_existing_account, current_principal().subject, now)
                uow.leads.save(lead)
                uow.leads.update_conversion(lead_id, state="COMPLETED", updated_at=now, last_error="")
                uow.leads.record_opportunity(lead_id, saga.opportunity_id, "OPEN", saga.amount_minor, saga.currency, now)
                uow.publish(self.events.converted(lead, key.request_id if key else ""))
            # The request that started the saga answers as done even when recovery finished it.
            starter = Idempotent(saga.request_id, saga.request_fingerprint)
            for done_key in [starter] if key is None or key == starter else [starter, key]:
                if uow.previous_result("ConvertLead", done_key.request_id, done_key.fingerprint) is None:
                    uow.remember_result("ConvertLead", done_key.request_id, done_key.fingerprint, lead_id)
            uow.commit()
        return lead

    def _save_saga(self, saga: Conversion) -> None:
        with self.uow() as uow:
            values = {k: v for k, v in saga.__dict__.items() if k not in ("lead_id", "created_at", "request_id", "request_fingerprint")}
            values["updated_at"] = self.clock()
            uow.leads.update_conversion(saga.lead_id, **values)
            uow.commit()

    def resume_stalled_conversions(self, older_than: timedelta = timedelta(minutes=1)) -> int:
        """Completes conversions whose caller gave up midway; run periodically by the API process."""
        with self.uow() as uow:
            now = self.clock()
            stalled = uow.leads.claim_stalled_conversions(now - older_than, now)
            uow.commit()
        done = 0
        for lead_id in stalled:
            try:
                self._advance_conversion(lead_id, None)
                done += 1
            except DomainError as exc:
                log.warning("conversion of lead %s still pending: %s", lead_id, exc.message)
        return done

    # -- events from other services
    def erase_person(self, consumer: str, event_id: str, erasure_id: str, account_id: str, lead_ids: list[str]) -> str:
        """Anonymises the leads of a person the account service erased, and confirms it in the
        same transaction (ErasureConfirmed through the outbox). "duplicate" for a redelivery."""
        with self.uow() as uow:
            if not uow.claim_event(consumer, event_id):
                return "duplicate"
            touched = uow.leads.anonymise_person(account_id, lead_ids)
            uow.publish(erasure_confirmed("lead", erasure_id, account_id, touched))
            uow.commit()
        return f"{touched} lead(s) anonymised"

    def on_opportunity_created(
        self, consumer: str, event_id: str, opportunity_id: str, lead_id: str, status: str, amount_minor: int | None, currency: str
    ) -> bool:
        """Closed loop: remembers the opportunities a lead became. False for a redelivered event."""
        with self.uow() as uow:
            if not uow.claim_event(consumer, event_id):
                return False
            uow.leads.record_opportunity(lead_id, opportunity_id, status, amount_minor, currency, self.clock())
            uow.commit()
        return True

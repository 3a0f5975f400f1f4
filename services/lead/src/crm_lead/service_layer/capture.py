"""Capturing leads: one at a time (the hot path), from a web form, and by bulk import."""

from __future__ import annotations

from typing import Any

from crm_common.auth import current_principal
from crm_common.db import WRITE_CONFLICTS, new_id, utcnow
from crm_common.errors import AlreadyExists, FieldViolation, InvalidArgument
from crm_common.unit_of_work import check_request_id, check_same_request
from crm_lead.domain.capture import CleanLead, clean
from crm_lead.domain.model import Lead
from crm_lead.domain.scoring import ScoringRules
from crm_lead.service_layer import commands
from crm_lead.service_layer.common import Clock, LeadEvents, UowFactory, idempotent, lead_scope, new_lead, prefixed, rescore
from crm_lead.service_layer.unit_of_work import LeadUnitOfWork

MAX_IMPORT_ROWS = 10_000

# Where a web form's fields sit in CaptureWebFormRequest (flat), against the draft's LeadInput paths:
# violations name the request's own fields, as every RPC's do.
_WEB_FORM_PATHS = {"contact": ("phone", "email"), "note": ("message",)}


def _web_form_paths(violations: list[FieldViolation]) -> list[FieldViolation]:
    renamed: list[FieldViolation] = []
    for v in violations:
        paths = _WEB_FORM_PATHS.get(v.field) or (v.field.removeprefix("contact.").removeprefix("source."),)
        renamed.extend(FieldViolation(path, v.description) for path in paths)
    return renamed


class CaptureUseCases:
    def __init__(self, uow: UowFactory, events: LeadEvents, rules: ScoringRules, clock: Clock = utcnow) -> None:
        self.uow = uow
        self.events = events
        self.rules = rules
        self.clock = clock

    def _capture_events(self, lead: Lead, correlation_id: str) -> list[Any]:
        # One event per change: a lead captured already marketing-qualified says so in its
        # LeadCaptured (lead.status = MQL); LeadQualified marks a later move to MQL or SQL.
        return [self.events.captured(lead, correlation_id)]

    def create_lead(self, cmd: commands.CreateLead) -> Lead:
        """The hot path (sustained captures from landing pages and partners): validation and
        scoring in memory, then one write that stores the lead, its events and the idempotency
        key unless the request is a repeat or the person already has an open lead."""
        check_request_id(cmd.key.request_id)
        data, violations = clean(cmd.draft)
        if data is None:
            raise InvalidArgument(prefixed(violations, "lead"))
        lead = new_lead(data, self.rules, self.clock())
        for attempt in (1, 2):
            try:
                with self.uow(single_statement=True) as uow:
                    rows = [uow.outbox.row(e) for e in self._capture_events(lead, cmd.key.request_id)]
                    audit = uow.take_audit_row(lead.lead_id)
                    outcome = uow.leads.capture(lead, rows, "CreateLead", cmd.key.stored_id, cmd.key.fingerprint, audit)
                    if outcome.previous_ref:
                        return uow.leads.get(check_same_request(outcome.previous_hash, cmd.key.fingerprint, outcome.previous_ref), lead_scope())
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
                raise InvalidArgument(_web_form_paths(violations))
            now = self.clock()
            duplicates = uow.leads.find_open_duplicates([data.phone_e164] if data.phone_e164 else [], [data.email] if data.email else [])
            if not duplicates:
                lead = new_lead(data, self.rules, now)
                uow.leads.add(lead)
                uow.publish(*self._capture_events(lead, cmd.key.request_id))
                return (lead, False), f"{lead.lead_id}|new"
            lead = uow.leads.get(next(iter(duplicates.values())), lead_scope(), for_update=True)
            actor = current_principal().subject
            lead.full_name = lead.full_name or data.full_name
            lead.phone_e164, lead.phone_is_mobile = (
                (lead.phone_e164, lead.phone_is_mobile) if lead.phone_e164 else (data.phone_e164, data.phone_is_mobile)
            )
            lead.email = lead.email or data.email
            lead.product_interest = lead.product_interest or data.product_interest
            lead.marketing_consent = lead.marketing_consent or data.marketing_consent
            uow.leads.add_behaviour(lead.lead_id, "FORM_SUBMITTED", now, cmd.message[:2000])
            rescore(uow, lead, self.rules, self.events, cmd.key.request_id)
            if lead.promote_if_marketing_qualified(actor, now):
                uow.publish(self.events.qualified(lead, cmd.key.request_id))
            lead.updated_at, lead.updated_by = now, actor
            uow.leads.save(lead)
            return (lead, True), f"{lead.lead_id}|matched"

        def repeat(uow: LeadUnitOfWork, ref: str) -> tuple[Lead, bool]:
            lead_id, _, how = ref.partition("|")
            return uow.leads.get(lead_id, lead_scope()), how == "matched"

        return idempotent(self.uow, "CaptureWebForm", cmd.key, first, repeat)  # type: ignore[no-any-return]

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
                cleaned.append((index, data, prefixed(violations, f"rows[{index}]")))
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
                lead = new_lead(data, self.rules, now)
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

        return idempotent(self.uow, "ImportLeads", cmd.key, first, lambda uow, ref: uow.leads.get_import(ref))  # type: ignore[no-any-return]

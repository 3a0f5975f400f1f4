"""The LeadService servicer: parse the request → call a use case → map the result. Nothing else."""

from __future__ import annotations

import grpc

from crm.common.v1 import common_pb2
from crm.lead.v1 import lead_pb2, lead_service_pb2, lead_service_pb2_grpc
from crm_common.auth import Access, Scope, current_principal
from crm_common.auth.roles import PII_READ
from crm_common.db import utcnow
from crm_common.grpc.enums import enum_name, enum_number
from crm_common.grpc.mapping import page_response
from crm_common.grpc.requests import idempotency_key, optional_time
from crm_common.pagination import parse_page
from crm_lead import service as perm
from crm_lead.adapters.proto_mapping import attempt_to_proto, conversion_to_proto, lead_to_proto, source_from_proto
from crm_lead.domain.capture import LeadDraft
from crm_lead.domain.model import Lead, LeadFilter
from crm_lead.service_layer import commands
from crm_lead.service_layer.use_cases import LeadUseCases

# The one place that says who may call what, and how far into the leads (crm_common.auth.scopes):
# captures match against every open lead by design (duplicates); everything else that touches a
# lead reaches only the leads of the caller's data scope.
PERMISSIONS: dict[str, Access] = {
    "CreateLead": Access(perm.LEAD_WRITE, Scope.BANK),
    "CaptureWebForm": Access(perm.LEAD_WRITE, Scope.BANK),
    "ImportLeads": Access(perm.LEAD_IMPORT, Scope.BANK),
    "GetLead": Access(perm.LEAD_READ, Scope.RECORD),
    "ListLeads": Access(perm.LEAD_READ, Scope.RECORD),
    "RecordBehaviour": Access(perm.LEAD_WRITE, Scope.RECORD),
    "AssignLead": Access(perm.LEAD_ASSIGN, Scope.RECORD),
    "RecordContactAttempt": Access(perm.LEAD_CONTACT, Scope.RECORD),
    "QualifyLead": Access(perm.LEAD_QUALIFY, Scope.RECORD),
    "DisqualifyLead": Access(perm.LEAD_QUALIFY, Scope.RECORD),
    "ReturnToNurture": Access(perm.LEAD_QUALIFY, Scope.RECORD),
    "ConvertLead": Access(perm.LEAD_CONVERT, Scope.RECORD),
    "SetTeamMembers": Access(perm.TEAM_MANAGE, Scope.NONE),
}


def _draft(lead: lead_pb2.LeadInput, field: str) -> LeadDraft:
    """`field`: where the LeadInput sits in the request, for violations (lead, rows[3])."""
    amount = lead.requested_amount if lead.HasField("requested_amount") else None
    return LeadDraft(
        full_name=lead.contact.full_name,
        phone=lead.contact.phone,
        email=lead.contact.email,
        national_id=lead.contact.national_id,
        province_code=lead.contact.province_code,
        product_interest=enum_name(common_pb2.ProductType, lead.product_interest, field=f"{field}.product_interest"),
        source=source_from_proto(lead.source, field=f"{field}.source"),
        requested_amount_minor=amount.amount_minor if amount is not None else None,
        currency=amount.currency_code if amount is not None else "",
        marketing_consent=lead.marketing_consent,
        note=lead.note,
    )


def _lead(lead: Lead) -> lead_pb2.Lead:
    return lead_to_proto(lead, utcnow(), show_pii=_may_see_pii())


class LeadServicer(lead_service_pb2_grpc.LeadServiceServicer):
    def __init__(self, use_cases: LeadUseCases) -> None:
        self.use_cases = use_cases

    def CreateLead(self, request: lead_service_pb2.CreateLeadRequest, context: grpc.ServicerContext) -> lead_service_pb2.CreateLeadResponse:
        lead = self.use_cases.capture.create_lead(commands.CreateLead(idempotency_key(request), _draft(request.lead, "lead")))
        return lead_service_pb2.CreateLeadResponse(lead=_lead(lead))

    def CaptureWebForm(
        self, request: lead_service_pb2.CaptureWebFormRequest, context: grpc.ServicerContext
    ) -> lead_service_pb2.CaptureWebFormResponse:
        source = source_from_proto(
            lead_pb2.LeadSource(
                campaign_id=request.campaign_id,
                utm=request.utm,
                cookie_id=request.cookie_id,
                landing_page_url=request.landing_page_url,
                referrer_url=request.referrer_url,
            ),
            default_channel="WEB_FORM",
            default_origin="FIRST_PARTY",
        )
        draft = LeadDraft(
            full_name=request.full_name,
            phone=request.phone,
            email=request.email,
            product_interest=enum_name(common_pb2.ProductType, request.product_interest, field="product_interest"),
            source=source,
            marketing_consent=request.marketing_consent,
            note=request.message,
        )
        lead, matched = self.use_cases.capture.capture_web_form(commands.CaptureWebForm(idempotency_key(request), draft, request.message))
        return lead_service_pb2.CaptureWebFormResponse(lead=_lead(lead), matched_open_lead=matched)

    def ImportLeads(self, request: lead_service_pb2.ImportLeadsRequest, context: grpc.ServicerContext) -> lead_service_pb2.ImportLeadsResponse:
        drafts = [_draft(row, f"rows[{i}]") for i, row in enumerate(request.rows)]
        for draft in drafts:
            draft.source.channel = draft.source.channel or "IMPORT"
        results = self.use_cases.capture.import_leads(commands.ImportLeads(idempotency_key(request), drafts))
        reply = lead_service_pb2.ImportLeadsResponse()
        for result in results:
            status = enum_number(lead_service_pb2.ImportRowStatus, result["status"])
            reply.results.append(
                lead_service_pb2.ImportRowResult(
                    row_index=result["row"],
                    status=status,
                    lead_id=result["lead_id"],
                    violations=[common_pb2.FieldViolation(field=f, description=d) for f, d in result["violations"]],
                )
            )
        reply.created_count = sum(r["status"] == "CREATED" for r in results)
        reply.duplicate_count = sum(r["status"] == "DUPLICATE" for r in results)
        reply.invalid_count = sum(r["status"] == "INVALID" for r in results)
        return reply

    def GetLead(self, request: lead_service_pb2.GetLeadRequest, context: grpc.ServicerContext) -> lead_service_pb2.GetLeadResponse:
        lead, attempts = self.use_cases.lookup.get_lead(request.lead_id.strip())
        return lead_service_pb2.GetLeadResponse(lead=_lead(lead), contact_attempts=[attempt_to_proto(a) for a in attempts])

    def ListLeads(self, request: lead_service_pb2.ListLeadsRequest, context: grpc.ServicerContext) -> lead_service_pb2.ListLeadsResponse:
        page = parse_page(request.page.page_size, request.page.page_token)
        query = request.query.strip()
        where = LeadFilter(
            statuses=tuple(enum_name(lead_pb2.LeadStatus, s, field="statuses") for s in request.statuses if s),
            owner_id=request.owner_id,
            team_id=request.team_id,
            channel=enum_name(lead_pb2.Channel, request.channel, field="channel"),
            campaign_id=request.campaign_id,
            created_after=optional_time(request, "created_after"),
            created_before=optional_time(request, "created_before"),
            **_query_filter(query),
        )
        found, after = self.use_cases.lookup.list_leads(where, page)
        return lead_service_pb2.ListLeadsResponse(leads=[_lead(x) for x in found], page=page_response(after))

    def RecordBehaviour(
        self, request: lead_service_pb2.RecordBehaviourRequest, context: grpc.ServicerContext
    ) -> lead_service_pb2.RecordBehaviourResponse:
        lead = self.use_cases.qualification.record_behaviour(
            commands.RecordBehaviour(
                idempotency_key(request),
                request.lead_id.strip(),
                enum_name(lead_pb2.BehaviourType, request.behaviour, field="behaviour"),
                optional_time(request, "occur_time"),
                request.detail,
            )
        )
        return lead_service_pb2.RecordBehaviourResponse(lead=_lead(lead))

    def AssignLead(self, request: lead_service_pb2.AssignLeadRequest, context: grpc.ServicerContext) -> lead_service_pb2.AssignLeadResponse:
        lead = self.use_cases.assignment.assign_lead(
            commands.AssignLead(
                idempotency_key(request),
                request.lead_id.strip(),
                request.owner_id.strip(),
                request.team_id.strip(),
                request.branch_id.strip(),
                request.territory_id.strip(),
            )
        )
        return lead_service_pb2.AssignLeadResponse(lead=_lead(lead))

    def RecordContactAttempt(
        self, request: lead_service_pb2.RecordContactAttemptRequest, context: grpc.ServicerContext
    ) -> lead_service_pb2.RecordContactAttemptResponse:
        lead, attempt = self.use_cases.assignment.record_contact_attempt(
            commands.RecordContactAttempt(
                idempotency_key(request),
                request.lead_id.strip(),
                enum_name(lead_pb2.ContactChannel, request.channel, field="channel"),
                enum_name(lead_pb2.ContactOutcome, request.outcome, field="outcome"),
                request.note,
                optional_time(request, "contact_time"),
            )
        )
        return lead_service_pb2.RecordContactAttemptResponse(lead=_lead(lead), attempt=attempt_to_proto(attempt))

    def QualifyLead(self, request: lead_service_pb2.QualifyLeadRequest, context: grpc.ServicerContext) -> lead_service_pb2.QualifyLeadResponse:
        lead = self.use_cases.qualification.qualify_lead(commands.QualifyLead(idempotency_key(request), request.lead_id.strip(), request.note))
        return lead_service_pb2.QualifyLeadResponse(lead=_lead(lead))

    def DisqualifyLead(
        self, request: lead_service_pb2.DisqualifyLeadRequest, context: grpc.ServicerContext
    ) -> lead_service_pb2.DisqualifyLeadResponse:
        reason = enum_name(lead_pb2.DisqualificationReason, request.reason, field="reason")
        lead = self.use_cases.qualification.disqualify_lead(
            commands.DisqualifyLead(idempotency_key(request), request.lead_id.strip(), reason, request.note)
        )
        return lead_service_pb2.DisqualifyLeadResponse(lead=_lead(lead))

    def ReturnToNurture(
        self, request: lead_service_pb2.ReturnToNurtureRequest, context: grpc.ServicerContext
    ) -> lead_service_pb2.ReturnToNurtureResponse:
        lead = self.use_cases.qualification.return_to_nurture(
            commands.ReturnToNurture(idempotency_key(request), request.lead_id.strip(), request.note)
        )
        return lead_service_pb2.ReturnToNurtureResponse(lead=_lead(lead))

    def ConvertLead(self, request: lead_service_pb2.ConvertLeadRequest, context: grpc.ServicerContext) -> lead_service_pb2.ConvertLeadResponse:
        amount = request.amount if request.HasField("amount") else None
        lead = self.use_cases.conversion.convert_lead(
            commands.ConvertLead(
                idempotency_key(request),
                request.lead_id.strip(),
                product=enum_name(common_pb2.ProductType, request.product, field="product"),
                amount_minor=amount.amount_minor if amount is not None else None,
                currency=amount.currency_code if amount is not None else "",
                expected_close_at=optional_time(request, "expected_close_time"),
                owner_id=request.opportunity_owner_id.strip(),
            )
        )
        return lead_service_pb2.ConvertLeadResponse(lead=_lead(lead), conversion=conversion_to_proto(lead))

    def SetTeamMembers(
        self, request: lead_service_pb2.SetTeamMembersRequest, context: grpc.ServicerContext
    ) -> lead_service_pb2.SetTeamMembersResponse:
        members = self.use_cases.assignment.set_team_members(
            commands.SetTeamMembers(idempotency_key(request), request.team_id.strip(), list(request.member_ids))
        )
        return lead_service_pb2.SetTeamMembersResponse(team_id=request.team_id.strip(), member_ids=members)


def _query_filter(query: str) -> dict[str, str]:
    """A phone, an email, or the start of a name."""
    from crm_common.contact import ContactError, normalise_email, normalise_phone

    if not query:
        return {}
    if "@" in query:
        try:
            return {"email": normalise_email(query)}
        except ContactError:
            return {"email": query.lower()}
    if sum(ch.isdigit() for ch in query) >= 8:
        try:
            return {"phone_e164": normalise_phone(query).e164}
        except ContactError:
            pass
    return {"name_prefix": query}


def _may_see_pii() -> bool:
    """Phones, emails and national ids unmasked only for callers holding pii.read (docs/security.md)."""
    return current_principal().can(PII_READ)

"""Domain ↔ protobuf for the lead contracts: enum names without their prefix, and the Lead message."""

from __future__ import annotations

from datetime import datetime

from crm.common.v1 import common_pb2
from crm.lead.v1 import lead_pb2
from crm_common.contact import mask_email, mask_name, mask_national_id, mask_phone
from crm_common.grpc.enums import enum_name, enum_number
from crm_common.grpc.mapping import audit_stamps, money, timestamp
from crm_lead.domain.model import ContactAttempt, Lead, Source


def source_to_proto(source: Source) -> lead_pb2.LeadSource:
    return lead_pb2.LeadSource(
        channel=enum_number(lead_pb2.Channel, source.channel),
        campaign_id=source.campaign_id,
        utm=lead_pb2.Utm(
            source=source.utm_source, medium=source.utm_medium, campaign=source.utm_campaign, term=source.utm_term, content=source.utm_content
        ),
        cookie_id=source.cookie_id,
        data_origin=enum_number(lead_pb2.DataOrigin, source.data_origin),
        partner_id=source.partner_id,
        landing_page_url=source.landing_page_url,
        referrer_url=source.referrer_url,
    )


def source_from_proto(source: lead_pb2.LeadSource, default_channel: str = "", default_origin: str = "", field: str = "source") -> Source:
    return Source(
        channel=enum_name(lead_pb2.Channel, source.channel, field=f"{field}.channel") or default_channel,
        campaign_id=source.campaign_id.strip(),
        utm_source=source.utm.source.strip(),
        utm_medium=source.utm.medium.strip(),
        utm_campaign=source.utm.campaign.strip(),
        utm_term=source.utm.term.strip(),
        utm_content=source.utm.content.strip(),
        cookie_id=source.cookie_id.strip(),
        data_origin=enum_name(lead_pb2.DataOrigin, source.data_origin, field=f"{field}.data_origin") or default_origin,
        partner_id=source.partner_id.strip(),
        landing_page_url=source.landing_page_url.strip(),
        referrer_url=source.referrer_url.strip(),
    )


def lead_to_proto(lead: Lead, now: datetime, show_pii: bool = True) -> lead_pb2.Lead:
    phone = lead.phone_e164 if show_pii or not lead.phone_e164 else mask_phone(lead.phone_e164)
    email = lead.email if show_pii or not lead.email else mask_email(lead.email)
    national_id = lead.national_id if show_pii or not lead.national_id else mask_national_id(lead.national_id)
    message = lead_pb2.Lead(
        lead_id=lead.lead_id,
        status=enum_number(lead_pb2.LeadStatus, str(lead.status)),
        contact=lead_pb2.Contact(
            full_name=lead.full_name,
            phone=common_pb2.PhoneNumber(e164=phone) if phone else None,
            email=email,
            national_id=national_id,
            province_code=lead.province_code,
        ),
        product_interest=enum_number(common_pb2.ProductType, lead.product_interest),
        source=source_to_proto(lead.source),
        requested_amount=money(lead.requested_amount_minor, lead.currency) if lead.requested_amount_minor is not None else None,
        marketing_consent=lead.marketing_consent,
        score=lead.score,
        score_reasons=[lead_pb2.ScoreReason(rule=r.rule, points=r.points, detail=r.detail) for r in lead.score_reasons],
        first_contact_time=timestamp(lead.first_contact_at),
        first_contact_sla_breached=lead.first_contact_sla_breached(now),
        disqualification_reason=enum_number(lead_pb2.DisqualificationReason, lead.disqualification_reason),
        status_note=lead.status_note,
        note=lead.note,
        audit=audit_stamps(lead),
    )
    if lead.owner_id:
        message.assignment.CopyFrom(
            lead_pb2.Assignment(
                owner_id=lead.owner_id,
                team_id=lead.team_id,
                branch_id=lead.branch_id,
                territory_id=lead.territory_id,
                assign_time=timestamp(lead.assigned_at),
                first_contact_due_time=timestamp(lead.first_contact_due_at),
                source=enum_number(lead_pb2.AssignmentSource, lead.assignment_source),
                routing_rule_id=lead.routing_rule_id,
            )
        )
    if lead.converted_at:
        message.conversion.CopyFrom(conversion_to_proto(lead))
    return message


def lead_to_event_proto(lead: Lead, now: datetime) -> lead_pb2.Lead:
    """The lead as events carry it: contact data masked, free-text notes left out. Consumers
    work from ids; one that needs the contact asks the lead service (GetLead, with pii.read)."""
    message = lead_to_proto(lead, now, show_pii=False)
    message.contact.full_name = mask_name(lead.full_name)
    message.ClearField("note")
    message.ClearField("status_note")
    return message


def conversion_to_proto(lead: Lead) -> lead_pb2.Conversion:
    return lead_pb2.Conversion(
        account_id=lead.account_id,
        opportunity_id=lead.opportunity_id,
        matched_existing_account=lead.matched_existing_account,
        convert_time=timestamp(lead.converted_at),
    )


def attempt_to_proto(attempt: ContactAttempt, with_note: bool = True) -> lead_pb2.ContactAttempt:
    """`with_note=False` for events: the note is free text about a person."""
    return lead_pb2.ContactAttempt(
        attempt_id=attempt.attempt_id,
        channel=enum_number(lead_pb2.ContactChannel, attempt.channel),
        outcome=enum_number(lead_pb2.ContactOutcome, str(attempt.outcome)),
        note=attempt.note if with_note else "",
        agent_id=attempt.agent_id,
        contact_time=timestamp(attempt.contacted_at),
    )

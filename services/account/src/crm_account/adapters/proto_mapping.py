"""Domain ↔ protobuf for the account contracts (crm.account.v1), with PII masking."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from crm.account.v1 import account_pb2, account_service_pb2, events_pb2
from crm.common.v1 import common_pb2
from crm_account.adapters.screening_repository import StoredHit
from crm_account.domain.consent import Consent, ConsentDraft
from crm_account.domain.duplicates import DuplicateCandidate, MergePlan
from crm_account.domain.holdings import Holding, HoldingRecordDraft
from crm_account.domain.households import Household, Member, Relationship
from crm_account.domain.kyc import Kyc, KycOutcomeDraft
from crm_account.domain.merges import FieldDecision, Move
from crm_account.domain.model import Account, AccountChange, Acquisition, Address, BusinessProfile, MatchField, Totals
from crm_account.domain.privacy import ErasureRequest
from crm_account.domain.profile import AccountDraft, WindowDraft
from crm_common.contact import mask_email, mask_national_id, mask_phone
from crm_common.grpc.enums import enum_name, enum_number
from crm_common.grpc.mapping import audit_stamps, money, timestamp
from crm_common.vietnam import province


def match_field_to_proto(field: MatchField | None) -> account_service_pb2.MatchField.ValueType:
    return enum_number(account_service_pb2.MatchField, field)


def acquisition_to_proto(acquisition: Acquisition) -> account_pb2.Acquisition:
    return account_pb2.Acquisition(
        lead_id=acquisition.lead_id,
        channel=acquisition.channel,
        campaign_id=acquisition.campaign_id,
        utm_source=acquisition.utm_source,
        utm_medium=acquisition.utm_medium,
        utm_campaign=acquisition.utm_campaign,
        acquire_time=timestamp(acquisition.acquired_at),
    )


def account_to_proto(account: Account, show_pii: bool) -> account_pb2.Account:
    """The Account message; national id, phones and emails masked unless `show_pii`."""
    p = account.profile
    phones, emails, national_id = list(p.phones), list(p.emails), p.national_id
    if not show_pii:
        phones = [mask_phone(v) for v in phones]
        emails = [mask_email(v) for v in emails]
        national_id = mask_national_id(national_id) if national_id else ""
    known_province = province(p.address.province_code) if p.address.province_code else None
    message = account_pb2.Account(
        account_id=account.account_id,
        type=enum_number(account_pb2.AccountType, p.account_type),
        lifecycle_stage=enum_number(account_pb2.LifecycleStage, p.lifecycle_stage),
        full_name=p.full_name,
        phone=common_pb2.PhoneNumber(e164=phones[0]) if phones else None,
        email=emails[0] if emails else "",
        national_id=national_id,
        national_id_legacy=p.national_id_legacy,
        owner_id=p.owner_id,
        audit=audit_stamps(account),
        gender=enum_number(account_pb2.Gender, p.gender),
        phones=[common_pb2.PhoneNumber(e164=v) for v in phones],
        emails=emails,
        occupation=p.occupation,
        income_band=enum_number(account_pb2.IncomeBand, p.income_band),
        preferred_language=p.preferred_language,
        preferred_channel=enum_number(account_pb2.ContactChannel, p.preferred_channel),
        best_contact_times=[
            account_pb2.ContactTimeWindow(days=[int(d) for d in w.days], start_minute=w.start_minute, end_minute=w.end_minute)  # type: ignore[misc]
            for w in p.best_contact_times
        ],
        value_tier=enum_number(account_pb2.ValueTier, account.value_tier),
        derived_value_tier=enum_number(account_pb2.ValueTier, account.derived_tier),
        value_tier_overridden=account.tier_override is not None,
        value_tier_override_reason=account.tier_override_reason,
        customer_since=timestamp(account.customer_since),
        branch_id=p.branch_id,
        territory_id=p.territory_id,
        version=account.version,
        kyc=kyc_to_proto(account.kyc),
        totals=totals_to_proto(account.totals),
        merged_into=account.merged_into,
        household_id=account.household_id,
        legal_hold=account.legal_hold,
        legal_hold_reason=account.legal_hold_reason,
        erase_time=timestamp(account.erased_at),
    )
    if p.date_of_birth is not None:
        message.date_of_birth.CopyFrom(common_pb2.Date(year=p.date_of_birth.year, month=p.date_of_birth.month, day=p.date_of_birth.day))
    if p.address != Address():
        message.address.CopyFrom(
            account_pb2.Address(
                line=p.address.line,
                ward_code=p.address.ward_code,
                district_code=p.address.district_code,
                province_code=p.address.province_code,
                province_name=known_province.name if known_province else "",
            )
        )
    if p.business is not None:
        message.business.CopyFrom(account_pb2.BusinessProfile(tax_code=p.business.tax_code, industry=p.business.industry))
    if account.acquisition is not None:
        message.acquisition.CopyFrom(acquisition_to_proto(account.acquisition))
    return message


def draft_from_proto(message: account_pb2.AccountInput) -> AccountDraft:
    dob = message.date_of_birth if message.HasField("date_of_birth") else None
    return AccountDraft(
        type=enum_name(account_pb2.AccountType, message.type),
        full_name=message.full_name,
        gender=enum_name(account_pb2.Gender, message.gender),
        date_of_birth=(dob.year, dob.month, dob.day) if dob is not None else None,
        national_id=message.national_id,
        phones=tuple(message.phones),
        emails=tuple(message.emails),
        address=Address(message.address.line, message.address.ward_code, message.address.district_code, message.address.province_code),
        occupation=message.occupation,
        income_band=enum_name(account_pb2.IncomeBand, message.income_band),
        preferred_language=message.preferred_language,
        preferred_channel=enum_name(account_pb2.ContactChannel, message.preferred_channel),
        best_contact_times=tuple(WindowDraft(tuple(w.days), w.start_minute, w.end_minute) for w in message.best_contact_times),
        lifecycle_stage=enum_name(account_pb2.LifecycleStage, message.lifecycle_stage),
        owner_id=message.owner_id,
        branch_id=message.branch_id,
        territory_id=message.territory_id,
        business=BusinessProfile(message.business.tax_code, message.business.industry) if message.HasField("business") else None,
    )


def change_to_proto(change: AccountChange) -> account_pb2.AccountChange:
    return account_pb2.AccountChange(
        change_id=change.change_id,
        account_id=change.account_id,
        kind=str(change.kind),
        change_time=timestamp(change.changed_at),
        actor=change.actor,
        changed_fields=list(change.changed_fields),
        reason=change.reason,
    )


def consent_to_proto(consent: Consent) -> account_pb2.Consent:
    return account_pb2.Consent(
        account_id=consent.account_id,
        purpose=enum_number(account_pb2.ConsentPurpose, consent.purpose),
        channel=enum_number(account_pb2.ContactChannel, consent.channel),
        status=enum_number(account_pb2.ConsentStatus, consent.status),
        source=consent.source,
        evidence_ref=consent.evidence_ref,
        decide_time=timestamp(consent.decided_at),
        expire_time=timestamp(consent.expires_at),
        record_time=timestamp(consent.recorded_at),
        recorded_by=consent.recorded_by,
    )


def _time(message: Any, field: str) -> datetime | None:
    return getattr(message, field).ToDatetime(tzinfo=UTC) if message.HasField(field) else None


def consent_draft_from_proto(request: account_service_pb2.RecordConsentRequest) -> ConsentDraft:
    return ConsentDraft(
        purpose=enum_name(account_pb2.ConsentPurpose, request.purpose),
        channel=enum_name(account_pb2.ContactChannel, request.channel),
        status=enum_name(account_pb2.ConsentStatus, request.status),
        source=request.source,
        evidence_ref=request.evidence_ref,
        decided_at=_time(request, "decide_time"),
        expires_at=_time(request, "expire_time"),
    )


def kyc_to_proto(kyc: Kyc) -> account_pb2.Kyc:
    return account_pb2.Kyc(
        status=enum_number(account_pb2.KycStatus, kyc.status),
        reason=kyc.reason,
        risk_rating=enum_number(account_pb2.RiskRating, kyc.risk_rating),
        verify_time=timestamp(kyc.verified_at),
        expire_time=timestamp(kyc.expires_at),
        reference=kyc.reference,
        source_system=kyc.source_system,
        update_time=timestamp(kyc.updated_at),
    )


def kyc_outcome_from_proto(request: account_service_pb2.RecordKycOutcomeRequest | events_pb2.KycOutcomeReported) -> KycOutcomeDraft:
    """From the RPC or the onboarding system's event: the two carry the same fields."""
    return KycOutcomeDraft(
        status=enum_name(account_pb2.KycStatus, request.status),
        reason=request.reason,
        risk_rating=enum_name(account_pb2.RiskRating, request.risk_rating),
        expires_at=_time(request, "expire_time"),
        reference=request.reference,
        source_system=request.source_system,
    )


def date_to_proto(value: date | None) -> common_pb2.Date | None:
    return common_pb2.Date(year=value.year, month=value.month, day=value.day) if value else None


def totals_to_proto(totals: Totals) -> account_pb2.HoldingTotals:
    return account_pb2.HoldingTotals(
        deposits=money(totals.deposits), loans=money(totals.loans), aum=money(totals.aum), open_holdings=totals.open_holdings
    )


def holding_to_proto(holding: Holding) -> account_pb2.Holding:
    return account_pb2.Holding(
        holding_id=holding.holding_id,
        account_id=holding.account_id,
        product_type=enum_number(common_pb2.ProductType, holding.product_type),
        core_ref=holding.core_ref,
        status=enum_number(account_pb2.HoldingStatus, holding.status),
        balance=money(holding.balance),
        limit=money(holding.limit),
        open_date=date_to_proto(holding.opened_on),
        close_date=date_to_proto(holding.closed_on),
        source=enum_number(account_pb2.HoldingSource, holding.source),
        opportunity_id=holding.opportunity_id,
        update_time=timestamp(holding.updated_at),
        close_reason=enum_number(account_pb2.HoldingCloseReason, holding.close_reason),
    )


def _ymd(message: Any, field: str) -> tuple[int, int, int] | None:
    if not message.HasField(field):
        return None
    value = getattr(message, field)
    return (value.year, value.month, value.day)


def holding_record_from_proto(row: account_service_pb2.HoldingRecord) -> HoldingRecordDraft:
    return HoldingRecordDraft(
        account_id=row.account_id,
        core_ref=row.core_ref,
        product_type=enum_name(common_pb2.ProductType, row.product_type),
        status=enum_name(account_pb2.HoldingStatus, row.status),
        balance=(row.balance.currency_code, row.balance.amount_minor),
        limit=(row.limit.currency_code, row.limit.amount_minor),
        opened_on=_ymd(row, "open_date"),
        closed_on=_ymd(row, "close_date"),
    )


def duplicate_to_proto(candidate: DuplicateCandidate, status: str = "", detected_at: datetime | None = None) -> account_pb2.DuplicateCandidate:
    return account_pb2.DuplicateCandidate(
        account_id=candidate.account_id,
        other_id=candidate.other_id,
        score=candidate.score,
        reasons=list(candidate.reasons),
        status=enum_number(account_pb2.DuplicateStatus, status),
        detect_time=timestamp(detected_at),
    )


_REVIEW_NAMES = {"PENDING_REVIEW": "PENDING", "CONFIRMED_MATCH": "CONFIRMED_MATCH", "FALSE_POSITIVE": "FALSE_POSITIVE"}


def review_from_proto(number: int) -> str:
    """The domain's ReviewStatus name of a ScreeningReview ('' unset, '?' unknown)."""
    name = enum_name(account_pb2.ScreeningReview, number)
    return {"PENDING": "PENDING_REVIEW"}.get(name, name)


def hit_to_proto(hit: StoredHit) -> account_pb2.ScreeningHit:
    return account_pb2.ScreeningHit(
        hit_id=hit.hit_id,
        account_id=hit.account_id,
        entry_id=hit.entry_id,
        list_kind=enum_number(account_pb2.WatchlistKind, hit.list_kind),
        list_source=hit.list_source,
        matched_name=hit.matched_name,
        score=hit.score,
        reasons=list(hit.reasons),
        list_version=hit.list_version,
        review=enum_number(account_pb2.ScreeningReview, _REVIEW_NAMES[str(hit.review)]),
        review_note=hit.review_note,
        reviewed_by=hit.reviewed_by,
        screen_time=timestamp(hit.screened_at),
    )


def relationship_to_proto(relationship: Relationship) -> account_pb2.Relationship:
    return account_pb2.Relationship(
        account_id=relationship.account_id,
        related_id=relationship.related_id,
        kind=enum_number(account_pb2.RelationshipKind, relationship.kind),
        note=relationship.note,
        create_time=timestamp(relationship.created_at),
        created_by=relationship.created_by,
    )


def household_to_proto(household: Household, members: list[tuple[Member, Account]]) -> account_pb2.Household:
    total = Totals(
        deposits=sum(a.totals.deposits for _, a in members),
        loans=sum(a.totals.loans for _, a in members),
        aum=sum(a.totals.aum for _, a in members),
        open_holdings=sum(a.totals.open_holdings for _, a in members),
    )
    return account_pb2.Household(
        household_id=household.household_id,
        name=household.name,
        members=[
            account_pb2.HouseholdMember(
                account_id=m.account_id,
                role=enum_number(account_pb2.HouseholdRole, m.role),
                full_name=a.profile.full_name,
                totals=totals_to_proto(a.totals),
            )
            for m, a in members
        ],
        totals=totals_to_proto(total),
        audit=audit_stamps(household),
    )


def erasure_to_proto(request: ErasureRequest) -> account_pb2.ErasureRequest:
    return account_pb2.ErasureRequest(
        erasure_id=request.erasure_id,
        account_id=request.account_id,
        status=enum_number(account_pb2.ErasureStatus, request.status),
        reason=request.reason,
        pending_services=request.pending,
        confirmed_services=request.confirmed,
        request_time=timestamp(request.requested_at),
        requested_by=request.requested_by,
        complete_time=timestamp(request.completed_at),
    )


def merge_plan_to_proto(plan: MergePlan, decisions: list[FieldDecision], moves: list[Move], show_pii: bool) -> account_service_pb2.MergePlan:
    """A dry run's plan; the contact points it drops masked unless `show_pii`."""
    return account_service_pb2.MergePlan(
        survivor_id=plan.survivor_id,
        merged_id=plan.merged_id,
        fields=[account_service_pb2.MergeFieldDecision(field=d.field, winner_id=d.winner_id, rule=d.rule) for d in decisions],
        moves=[
            account_service_pb2.MergeMove(service=m.service, records=m.records, count=m.count, relinked_on_event=m.relinked_on_event) for m in moves
        ],
        dropped_phones=[p if show_pii else mask_phone(p) for p in plan.dropped_phones],
        dropped_emails=[e if show_pii else mask_email(e) for e in plan.dropped_emails],
    )

"""The gRPC API: a thin servicer that parses requests, calls a use case and maps the result."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import grpc
from google.protobuf import json_format

from crm.account.v1 import account_pb2, account_service_pb2, account_service_pb2_grpc
from crm.common.v1 import common_pb2
from crm_account.adapters.proto_mapping import (
    account_to_proto,
    change_to_proto,
    consent_draft_from_proto,
    consent_to_proto,
    draft_from_proto,
    duplicate_to_proto,
    erasure_to_proto,
    hit_to_proto,
    holding_record_from_proto,
    holding_to_proto,
    household_to_proto,
    kyc_outcome_from_proto,
    match_field_to_proto,
    merge_plan_to_proto,
    relationship_to_proto,
    review_from_proto,
    totals_to_proto,
)
from crm_account.domain.model import Account
from crm_account.domain.profile import AccountDraft
from crm_account.service import (
    ACCOUNT_READ,
    ACCOUNT_TIER,
    ACCOUNT_WRITE,
    CONSENT_READ,
    CONSENT_WRITE,
    DUPLICATES_MANAGE,
    HOLDINGS_IMPORT,
    KYC_REVIEW,
    KYC_WRITE,
    PRIVACY_MANAGE,
)
from crm_account.service_layer import commands
from crm_account.service_layer.use_cases import AccountUseCases
from crm_common.auth import Access, Scope, current_principal
from crm_common.auth.roles import PII_READ
from crm_common.grpc.enums import enum_name, enum_number
from crm_common.grpc.mapping import page_response
from crm_common.grpc.requests import idempotency_key
from crm_common.pagination import parse_page

# The one place that says who may call what, and how far into the customers
# (crm_common.auth.scopes): what RMs and managers call reaches the accounts of their data scope;
# the compliance, privacy, data-steward and integration RPCs are bank-wide by design.
PERMISSIONS: dict[str, Access] = {
    "ResolvePersonAccount": Access(ACCOUNT_WRITE, Scope.RECORD),
    "GetAccount": Access(ACCOUNT_READ, Scope.RECORD),
    "SearchAccounts": Access(ACCOUNT_READ, Scope.RECORD),
    "CreateAccount": Access(ACCOUNT_WRITE, Scope.RECORD),
    "UpdateAccount": Access(ACCOUNT_WRITE, Scope.RECORD),
    "OverrideValueTier": Access(ACCOUNT_TIER, Scope.RECORD),
    "ClearValueTierOverride": Access(ACCOUNT_TIER, Scope.RECORD),
    "ListAccountChanges": Access(ACCOUNT_READ, Scope.RECORD),
    "RecordConsent": Access(CONSENT_WRITE, Scope.RECORD),
    "ListConsents": Access(CONSENT_READ, Scope.RECORD),
    "ListConsentHistory": Access(CONSENT_READ, Scope.RECORD),
    "CheckConsent": Access(CONSENT_READ, Scope.RECORD),
    "RecordKycOutcome": Access(KYC_WRITE, Scope.BANK),
    "ImportHoldings": Access(HOLDINGS_IMPORT, Scope.BANK),
    "ListHoldings": Access(ACCOUNT_READ, Scope.RECORD),
    "FindDuplicates": Access(ACCOUNT_READ, Scope.RECORD),
    "ListDuplicateCandidates": Access(DUPLICATES_MANAGE, Scope.BANK),
    "DismissDuplicateCandidate": Access(DUPLICATES_MANAGE, Scope.BANK),
    "MergeAccounts": Access(DUPLICATES_MANAGE, Scope.BANK),
    "UnmergeAccounts": Access(DUPLICATES_MANAGE, Scope.BANK),
    "ScreenAccount": Access(KYC_WRITE, Scope.BANK),
    "ListScreeningHits": Access(KYC_REVIEW, Scope.BANK),
    "ReviewScreeningHit": Access(KYC_REVIEW, Scope.BANK),
    "AddRelationship": Access(ACCOUNT_WRITE, Scope.RECORD),
    "RemoveRelationship": Access(ACCOUNT_WRITE, Scope.RECORD),
    "ListRelationships": Access(ACCOUNT_READ, Scope.RECORD),
    "CreateHousehold": Access(ACCOUNT_WRITE, Scope.RECORD),
    "AddHouseholdMember": Access(ACCOUNT_WRITE, Scope.RECORD),
    "RemoveHouseholdMember": Access(ACCOUNT_WRITE, Scope.RECORD),
    "GetHousehold": Access(ACCOUNT_READ, Scope.RECORD),
    "ExportPersonalData": Access(PRIVACY_MANAGE, Scope.BANK),
    "SetLegalHold": Access(PRIVACY_MANAGE, Scope.BANK),
    "RequestErasure": Access(PRIVACY_MANAGE, Scope.BANK),
    "GetErasureRequest": Access(PRIVACY_MANAGE, Scope.BANK),
}


def _shown(account: Account) -> account_pb2.Account:
    """The account as this caller may see it: PII in full only with pii.read."""
    return account_to_proto(account, current_principal().can(PII_READ))


class AccountServicer(account_service_pb2_grpc.AccountServiceServicer):
    def __init__(self, use_cases: AccountUseCases) -> None:
        self.use_cases = use_cases

    def ResolvePersonAccount(
        self, request: account_service_pb2.ResolvePersonAccountRequest, context: grpc.ServicerContext
    ) -> account_service_pb2.ResolvePersonAccountResponse:
        result = self.use_cases.profile.resolve_person_account(
            commands.ResolvePersonAccount(
                key=idempotency_key(request),
                person=AccountDraft(
                    full_name=request.full_name,
                    phones=(request.phone,) if request.phone.strip() else (),
                    emails=(request.email,) if request.email.strip() else (),
                    national_id=request.national_id,
                    owner_id=request.owner_id,
                ),
                source_lead_id=request.source_lead_id,
            )
        )
        # A match outside the caller's scope: its id only (what the conversion links to).
        account = _shown(result.account) if result.reached else account_pb2.Account(account_id=result.account.account_id)
        return account_service_pb2.ResolvePersonAccountResponse(
            account=account, matched=result.matched, matched_on=match_field_to_proto(result.matched_on)
        )

    def GetAccount(self, request: account_service_pb2.GetAccountRequest, context: grpc.ServicerContext) -> account_service_pb2.GetAccountResponse:
        return account_service_pb2.GetAccountResponse(account=_shown(self.use_cases.profile.get_account(request.account_id)))

    def SearchAccounts(
        self, request: account_service_pb2.SearchAccountsRequest, context: grpc.ServicerContext
    ) -> account_service_pb2.SearchAccountsResponse:
        page = parse_page(request.page.page_size, request.page.page_token)
        query = commands.SearchAccounts(phone=request.phone, email=request.email, national_id=request.national_id, name=request.name)
        found, after = self.use_cases.profile.search_accounts(query, page)
        return account_service_pb2.SearchAccountsResponse(accounts=[_shown(a) for a in found], page=page_response(after))

    def CreateAccount(
        self, request: account_service_pb2.CreateAccountRequest, context: grpc.ServicerContext
    ) -> account_service_pb2.CreateAccountResponse:
        account = self.use_cases.profile.create_account(commands.CreateAccount(idempotency_key(request), draft_from_proto(request.account)))
        return account_service_pb2.CreateAccountResponse(account=_shown(account))

    def UpdateAccount(
        self, request: account_service_pb2.UpdateAccountRequest, context: grpc.ServicerContext
    ) -> account_service_pb2.UpdateAccountResponse:
        account = self.use_cases.profile.update_account(
            commands.UpdateAccount(
                key=idempotency_key(request),
                account_id=request.account_id,
                account=draft_from_proto(request.account),
                update_mask=tuple(request.update_mask.paths),
                expected_version=request.expected_version,
            )
        )
        return account_service_pb2.UpdateAccountResponse(account=_shown(account))

    def OverrideValueTier(
        self, request: account_service_pb2.OverrideValueTierRequest, context: grpc.ServicerContext
    ) -> account_service_pb2.OverrideValueTierResponse:
        account = self.use_cases.holdings.override_value_tier(
            commands.OverrideValueTier(
                key=idempotency_key(request),
                account_id=request.account_id,
                value_tier=enum_name(account_pb2.ValueTier, request.value_tier),
                reason=request.reason,
            )
        )
        return account_service_pb2.OverrideValueTierResponse(account=_shown(account))

    def ClearValueTierOverride(
        self, request: account_service_pb2.ClearValueTierOverrideRequest, context: grpc.ServicerContext
    ) -> account_service_pb2.ClearValueTierOverrideResponse:
        account = self.use_cases.holdings.clear_value_tier_override(
            commands.ClearValueTierOverride(key=idempotency_key(request), account_id=request.account_id, reason=request.reason)
        )
        return account_service_pb2.ClearValueTierOverrideResponse(account=_shown(account))

    def ListAccountChanges(
        self, request: account_service_pb2.ListAccountChangesRequest, context: grpc.ServicerContext
    ) -> account_service_pb2.ListAccountChangesResponse:
        page = parse_page(request.page.page_size, request.page.page_token)
        changes, after = self.use_cases.timeline.list_account_changes(request.account_id, page)
        return account_service_pb2.ListAccountChangesResponse(changes=[change_to_proto(c) for c in changes], page=page_response(after))

    def RecordConsent(
        self, request: account_service_pb2.RecordConsentRequest, context: grpc.ServicerContext
    ) -> account_service_pb2.RecordConsentResponse:
        consent, in_force = self.use_cases.consent.record_consent(
            commands.RecordConsent(key=idempotency_key(request), account_id=request.account_id, consent=consent_draft_from_proto(request))
        )
        return account_service_pb2.RecordConsentResponse(consent=consent_to_proto(consent), in_force=in_force)

    def ListConsents(
        self, request: account_service_pb2.ListConsentsRequest, context: grpc.ServicerContext
    ) -> account_service_pb2.ListConsentsResponse:
        return account_service_pb2.ListConsentsResponse(
            consents=[consent_to_proto(c) for c in self.use_cases.consent.list_consents(request.account_id)]
        )

    def ListConsentHistory(
        self, request: account_service_pb2.ListConsentHistoryRequest, context: grpc.ServicerContext
    ) -> account_service_pb2.ListConsentHistoryResponse:
        page = parse_page(request.page.page_size, request.page.page_token)
        found, after = self.use_cases.consent.consent_history(request.account_id, page)
        return account_service_pb2.ListConsentHistoryResponse(consents=[consent_to_proto(c) for c in found], page=page_response(after))

    def CheckConsent(
        self, request: account_service_pb2.CheckConsentRequest, context: grpc.ServicerContext
    ) -> account_service_pb2.CheckConsentResponse:
        check = self.use_cases.consent.check_consent(
            commands.CheckConsent(
                account_id=request.account_id,
                purpose=enum_name(account_pb2.ConsentPurpose, request.purpose),
                channel=enum_name(account_pb2.ContactChannel, request.channel),
            )
        )
        return account_service_pb2.CheckConsentResponse(
            allowed=check.allowed,
            decision=enum_number(account_service_pb2.ConsentDecision, check.decision),
            consent=consent_to_proto(check.consent) if check.consent else None,
        )

    def RecordKycOutcome(
        self, request: account_service_pb2.RecordKycOutcomeRequest, context: grpc.ServicerContext
    ) -> account_service_pb2.RecordKycOutcomeResponse:
        account = self.use_cases.kyc.record_kyc_outcome(
            commands.RecordKycOutcome(key=idempotency_key(request), account_id=request.account_id, outcome=kyc_outcome_from_proto(request))
        )
        return account_service_pb2.RecordKycOutcomeResponse(account=_shown(account))

    def ImportHoldings(
        self, request: account_service_pb2.ImportHoldingsRequest, context: grpc.ServicerContext
    ) -> account_service_pb2.ImportHoldingsResponse:
        result = self.use_cases.holdings.import_holdings(
            commands.ImportHoldings(key=idempotency_key(request), rows=tuple(holding_record_from_proto(r) for r in request.rows))
        )
        return account_service_pb2.ImportHoldingsResponse(
            results=[
                account_service_pb2.HoldingRowResult(
                    row=r.row,
                    outcome=enum_number(account_service_pb2.HoldingRowOutcome, r.outcome),
                    holding_id=r.holding_id,
                    violations=[common_pb2.FieldViolation(field=v.field, description=v.description) for v in r.violations],
                )
                for r in result.results
            ],
            applied=result.applied,
            rejected=result.rejected,
        )

    def ListHoldings(
        self, request: account_service_pb2.ListHoldingsRequest, context: grpc.ServicerContext
    ) -> account_service_pb2.ListHoldingsResponse:
        found, account = self.use_cases.holdings.list_holdings(request.account_id)
        return account_service_pb2.ListHoldingsResponse(holdings=[holding_to_proto(h) for h in found], totals=totals_to_proto(account.totals))

    def FindDuplicates(
        self, request: account_service_pb2.FindDuplicatesRequest, context: grpc.ServicerContext
    ) -> account_service_pb2.FindDuplicatesResponse:
        draft = draft_from_proto(request.account) if request.HasField("account") else None
        found = self.use_cases.duplicates.find_duplicates(commands.FindDuplicates(account_id=request.account_id, account=draft))
        return account_service_pb2.FindDuplicatesResponse(candidates=[duplicate_to_proto(c) for c in found])

    def ListDuplicateCandidates(
        self, request: account_service_pb2.ListDuplicateCandidatesRequest, context: grpc.ServicerContext
    ) -> account_service_pb2.ListDuplicateCandidatesResponse:
        page = parse_page(request.page.page_size, request.page.page_token)
        found, after = self.use_cases.duplicates.duplicate_queue(request.min_score, page)
        return account_service_pb2.ListDuplicateCandidatesResponse(
            candidates=[duplicate_to_proto(s.candidate, s.status, s.detected_at) for s in found],
            page=page_response(after),
        )

    def DismissDuplicateCandidate(
        self, request: account_service_pb2.DismissDuplicateCandidateRequest, context: grpc.ServicerContext
    ) -> account_service_pb2.DismissDuplicateCandidateResponse:
        stored = self.use_cases.duplicates.dismiss_duplicate(
            commands.DismissDuplicate(key=idempotency_key(request), account_id=request.account_id, other_id=request.other_id, reason=request.reason)
        )
        return account_service_pb2.DismissDuplicateCandidateResponse(
            candidate=duplicate_to_proto(stored.candidate, stored.status, stored.detected_at)
        )

    def MergeAccounts(
        self, request: account_service_pb2.MergeAccountsRequest, context: grpc.ServicerContext
    ) -> account_service_pb2.MergeAccountsResponse:
        if request.dry_run:
            preview = self.use_cases.duplicates.plan_merge(commands.PlanMerge(survivor_id=request.survivor_id, merged_id=request.merged_id))
            return account_service_pb2.MergeAccountsResponse(
                account=_shown(preview.survivor),
                field_sources=preview.plan.field_sources,
                plan=merge_plan_to_proto(preview.plan, preview.fields, preview.moves, current_principal().can(PII_READ)),
            )
        survivor, sources = self.use_cases.duplicates.merge_accounts(
            commands.MergeAccounts(key=idempotency_key(request), survivor_id=request.survivor_id, merged_id=request.merged_id, reason=request.reason)
        )
        return account_service_pb2.MergeAccountsResponse(account=_shown(survivor), field_sources=sources)

    def UnmergeAccounts(
        self, request: account_service_pb2.UnmergeAccountsRequest, context: grpc.ServicerContext
    ) -> account_service_pb2.UnmergeAccountsResponse:
        restored, survivor = self.use_cases.unmerge.unmerge_accounts(
            commands.UnmergeAccounts(key=idempotency_key(request), merged_id=request.merged_id, reason=request.reason)
        )
        return account_service_pb2.UnmergeAccountsResponse(account=_shown(restored), survivor=_shown(survivor))

    def ScreenAccount(
        self, request: account_service_pb2.ScreenAccountRequest, context: grpc.ServicerContext
    ) -> account_service_pb2.ScreenAccountResponse:
        hits, version = self.use_cases.kyc.screen_account(request.account_id)
        return account_service_pb2.ScreenAccountResponse(hits=[hit_to_proto(h) for h in hits], list_version=version)

    def ListScreeningHits(
        self, request: account_service_pb2.ListScreeningHitsRequest, context: grpc.ServicerContext
    ) -> account_service_pb2.ListScreeningHitsResponse:
        page = parse_page(request.page.page_size, request.page.page_token)
        hits, after = self.use_cases.kyc.screening_queue(review_from_proto(request.review), page)
        return account_service_pb2.ListScreeningHitsResponse(hits=[hit_to_proto(h) for h in hits], page=page_response(after))

    def ReviewScreeningHit(
        self, request: account_service_pb2.ReviewScreeningHitRequest, context: grpc.ServicerContext
    ) -> account_service_pb2.ReviewScreeningHitResponse:
        hit, account = self.use_cases.kyc.review_screening_hit(
            commands.ReviewScreeningHit(
                key=idempotency_key(request), hit_id=request.hit_id, review=review_from_proto(request.review), note=request.note
            )
        )
        return account_service_pb2.ReviewScreeningHitResponse(hit=hit_to_proto(hit), account=_shown(account))

    def _relationship(self, request: Any) -> commands.ChangeRelationship:
        return commands.ChangeRelationship(
            key=idempotency_key(request),
            account_id=request.account_id,
            related_id=request.related_id,
            kind=enum_name(account_pb2.RelationshipKind, request.kind),
            note=getattr(request, "note", ""),
        )

    def AddRelationship(
        self, request: account_service_pb2.AddRelationshipRequest, context: grpc.ServicerContext
    ) -> account_service_pb2.AddRelationshipResponse:
        relationship = self.use_cases.households.add_relationship(self._relationship(request))
        return account_service_pb2.AddRelationshipResponse(relationship=relationship_to_proto(relationship))

    def RemoveRelationship(
        self, request: account_service_pb2.RemoveRelationshipRequest, context: grpc.ServicerContext
    ) -> account_service_pb2.RemoveRelationshipResponse:
        self.use_cases.households.remove_relationship(self._relationship(request))
        return account_service_pb2.RemoveRelationshipResponse()

    def ListRelationships(
        self, request: account_service_pb2.ListRelationshipsRequest, context: grpc.ServicerContext
    ) -> account_service_pb2.ListRelationshipsResponse:
        found = self.use_cases.households.list_relationships(request.account_id)
        return account_service_pb2.ListRelationshipsResponse(relationships=[relationship_to_proto(r) for r in found])

    def CreateHousehold(
        self, request: account_service_pb2.CreateHouseholdRequest, context: grpc.ServicerContext
    ) -> account_service_pb2.CreateHouseholdResponse:
        household, members = self.use_cases.households.create_household(
            commands.CreateHousehold(
                key=idempotency_key(request),
                name=request.name,
                head_account_id=request.head_account_id,
                member_account_ids=tuple(request.member_account_ids),
            )
        )
        return account_service_pb2.CreateHouseholdResponse(household=household_to_proto(household, members))

    def AddHouseholdMember(
        self, request: account_service_pb2.AddHouseholdMemberRequest, context: grpc.ServicerContext
    ) -> account_service_pb2.AddHouseholdMemberResponse:
        household, members = self.use_cases.households.add_household_member(
            commands.ChangeHouseholdMember(key=idempotency_key(request), household_id=request.household_id, account_id=request.account_id)
        )
        return account_service_pb2.AddHouseholdMemberResponse(household=household_to_proto(household, members))

    def RemoveHouseholdMember(
        self, request: account_service_pb2.RemoveHouseholdMemberRequest, context: grpc.ServicerContext
    ) -> account_service_pb2.RemoveHouseholdMemberResponse:
        remaining = self.use_cases.households.remove_household_member(
            commands.ChangeHouseholdMember(key=idempotency_key(request), household_id=request.household_id, account_id=request.account_id)
        )
        if remaining is None:  # the last member left: the household ended
            return account_service_pb2.RemoveHouseholdMemberResponse()
        return account_service_pb2.RemoveHouseholdMemberResponse(household=household_to_proto(*remaining))

    def GetHousehold(
        self, request: account_service_pb2.GetHouseholdRequest, context: grpc.ServicerContext
    ) -> account_service_pb2.GetHouseholdResponse:
        household, members = self.use_cases.households.get_household(request.household_id)
        return account_service_pb2.GetHouseholdResponse(household=household_to_proto(household, members))

    def ExportPersonalData(
        self, request: account_service_pb2.ExportPersonalDataRequest, context: grpc.ServicerContext
    ) -> account_service_pb2.ExportPersonalDataResponse:
        data = self.use_cases.privacy.export_personal_data(request.account_id)

        def plain(messages: Any) -> list[dict[str, Any]]:
            return [json_format.MessageToDict(m, preserving_proto_field_name=True) for m in messages]

        account_section = {
            "account": json_format.MessageToDict(account_to_proto(data.account, show_pii=True), preserving_proto_field_name=True),
            "merged_accounts": plain(account_to_proto(a, show_pii=True) for a in data.merged_accounts),
            "consents_in_force": plain(consent_to_proto(c) for c in data.consents),
            "consent_history": plain(consent_to_proto(c) for c in data.consent_history),
            "holdings": plain(holding_to_proto(h) for h in data.holdings),
            "relationships": plain(relationship_to_proto(r) for r in data.relationships),
            "timeline": plain(change_to_proto(c) for c in data.timeline),
            "screening_hits": plain(hit_to_proto(h) for h in data.screening_hits),
            "erasure": json_format.MessageToDict(erasure_to_proto(data.erasure), preserving_proto_field_name=True) if data.erasure else None,
        }
        # One section per service holding the person's data (docs/account.md, data-subject rights).
        document = {
            "schema": "crm.account.export/v2",
            "export_time": datetime.now(UTC).isoformat(),
            "subject": {"account_id": data.account.account_id, "merged_account_ids": list(data.person.merged_account_ids)},
            "services": {"account": account_section, **data.sections},
        }
        body = json.dumps(document, ensure_ascii=False, indent=2).encode()
        return account_service_pb2.ExportPersonalDataResponse(document=body, content_type="application/json; charset=utf-8")

    def SetLegalHold(
        self, request: account_service_pb2.SetLegalHoldRequest, context: grpc.ServicerContext
    ) -> account_service_pb2.SetLegalHoldResponse:
        account = self.use_cases.privacy.set_legal_hold(
            commands.SetLegalHold(key=idempotency_key(request), account_id=request.account_id, legal_hold=request.legal_hold, reason=request.reason)
        )
        return account_service_pb2.SetLegalHoldResponse(account=_shown(account))

    def RequestErasure(
        self, request: account_service_pb2.RequestErasureRequest, context: grpc.ServicerContext
    ) -> account_service_pb2.RequestErasureResponse:
        erasure = self.use_cases.privacy.request_erasure(
            commands.RequestErasure(key=idempotency_key(request), account_id=request.account_id, reason=request.reason)
        )
        return account_service_pb2.RequestErasureResponse(erasure=erasure_to_proto(erasure))

    def GetErasureRequest(
        self, request: account_service_pb2.GetErasureRequestRequest, context: grpc.ServicerContext
    ) -> account_service_pb2.GetErasureRequestResponse:
        return account_service_pb2.GetErasureRequestResponse(erasure=erasure_to_proto(self.use_cases.privacy.get_erasure(request.erasure_id)))

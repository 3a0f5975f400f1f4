"""The account service's domain events as protobuf messages (crm.account.v1.events).

Accounts in events are masked like responses to a caller without pii.read, and their names too
("N*** V*** A***", which such callers still see in responses, to greet the customer): no
plaintext copy of a name, national id, phone or email sits in the outbox or a queue. A consumer
that needs them calls GetAccount with pii.read.
"""

from __future__ import annotations

from crm.account.v1 import account_pb2, events_pb2
from crm_account.adapters.proto_mapping import account_to_proto, consent_to_proto, holding_to_proto, kyc_to_proto
from crm_account.domain.consent import Consent
from crm_account.domain.holdings import Holding
from crm_account.domain.kyc import KycStatus
from crm_account.domain.model import Account
from crm_account.domain.privacy import ErasureRequest
from crm_common.contact import mask_name
from crm_common.events.envelope import new_event
from crm_common.grpc.enums import enum_number
from crm_common.privacy import PersonIdentifiers

PRODUCER = "account"


def _masked(account: Account) -> account_pb2.Account:
    message = account_to_proto(account, show_pii=False)
    message.full_name = mask_name(message.full_name)
    return message


class ProtoAccountEvents:
    def created(self, account: Account, correlation_id: str) -> events_pb2.AccountCreated:
        return new_event(events_pb2.AccountCreated, PRODUCER, correlation_id, account.created_at, account=_masked(account))

    def updated(self, account: Account, changed_fields: list[str], correlation_id: str) -> events_pb2.AccountUpdated:
        return new_event(
            events_pb2.AccountUpdated,
            PRODUCER,
            correlation_id,
            account.updated_at,
            account=_masked(account),
            changed_fields=changed_fields,
        )

    def consent_changed(self, consent: Consent, correlation_id: str) -> events_pb2.ConsentChanged:
        return new_event(events_pb2.ConsentChanged, PRODUCER, correlation_id, consent.recorded_at, consent=consent_to_proto(consent))

    def kyc_status_changed(self, account: Account, previous: KycStatus, correlation_id: str) -> events_pb2.KycStatusChanged:
        return new_event(
            events_pb2.KycStatusChanged,
            PRODUCER,
            correlation_id,
            account.updated_at,
            account_id=account.account_id,
            kyc=kyc_to_proto(account.kyc),
            previous_status=enum_number(account_pb2.KycStatus, previous),
        )

    def holding_opened(self, holding: Holding, correlation_id: str) -> events_pb2.HoldingOpened:
        return new_event(events_pb2.HoldingOpened, PRODUCER, correlation_id, holding.updated_at, holding=holding_to_proto(holding))

    def holding_closed(self, holding: Holding, correlation_id: str, detail: str = "") -> events_pb2.HoldingClosed:
        message = holding_to_proto(holding)
        return new_event(
            events_pb2.HoldingClosed, PRODUCER, correlation_id, holding.updated_at, holding=message, reason=message.close_reason, detail=detail
        )

    def accounts_merged(self, survivor: Account, merged_id: str, merge_id: str, correlation_id: str) -> events_pb2.AccountsMerged:
        return new_event(
            events_pb2.AccountsMerged,
            PRODUCER,
            correlation_id,
            survivor.updated_at,
            survivor_id=survivor.account_id,
            merged_id=merged_id,
            survivor=_masked(survivor),
            merge_id=merge_id,
        )

    def accounts_unmerged(self, restored: Account, survivor: Account, merge_id: str, correlation_id: str) -> events_pb2.AccountsUnmerged:
        return new_event(
            events_pb2.AccountsUnmerged,
            PRODUCER,
            correlation_id,
            restored.updated_at,
            survivor_id=survivor.account_id,
            merged_id=restored.account_id,
            merge_id=merge_id,
            restored=_masked(restored),
            survivor=_masked(survivor),
        )

    def erasure_requested(self, request: ErasureRequest, person: PersonIdentifiers, correlation_id: str) -> events_pb2.ErasureRequested:
        """Names the person by every identifier (blind indexes, never values)."""
        return new_event(
            events_pb2.ErasureRequested,
            PRODUCER,
            correlation_id,
            request.requested_at,
            erasure_id=request.erasure_id,
            account_id=request.account_id,
            lead_ids=person.lead_ids,
            person=person.to_proto(),
        )

    def erasure_completed(self, request: ErasureRequest, correlation_id: str) -> events_pb2.ErasureCompleted:
        completed_at = request.completed_at or request.requested_at
        return new_event(
            events_pb2.ErasureCompleted, PRODUCER, correlation_id, completed_at, erasure_id=request.erasure_id, account_id=request.account_id
        )

"""The account service's domain events as protobuf messages (crm.account.v1.events).

Events carry the account unmasked: their consumers are the suite's own services, which need
the contact points (to send, to match); masking is for people reading responses.
"""

from __future__ import annotations

from crm.account.v1 import events_pb2
from crm_account.adapters.proto_mapping import account_to_proto
from crm_account.domain.model import PersonAccount
from crm_common.events.envelope import new_event

PRODUCER = "account"


class ProtoAccountEvents:
    def created(self, account: PersonAccount, correlation_id: str) -> events_pb2.AccountCreated:
        return new_event(events_pb2.AccountCreated, PRODUCER, correlation_id, account.created_at, account=account_to_proto(account, show_pii=True))

    def updated(self, account: PersonAccount, correlation_id: str) -> events_pb2.AccountUpdated:
        return new_event(events_pb2.AccountUpdated, PRODUCER, correlation_id, account.updated_at, account=account_to_proto(account, show_pii=True))

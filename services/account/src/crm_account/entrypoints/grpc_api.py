"""The gRPC API: a thin servicer that parses requests, calls a handler and maps the result."""

from __future__ import annotations

import grpc

from crm.account.v1 import account_service_pb2, account_service_pb2_grpc
from crm.common.v1 import common_pb2
from crm_account.adapters.proto_mapping import account_to_proto, match_field_to_proto
from crm_account.domain.person import PersonDraft
from crm_account.service_layer import commands
from crm_account.service_layer.handlers import AccountHandlers
from crm_common.auth import current_principal
from crm_common.auth.roles import ACCOUNT_READ, ACCOUNT_WRITE, PII_READ
from crm_common.grpc.requests import idempotency_key
from crm_common.pagination import next_token, parse_page

PERMISSIONS: dict[str, str | None] = {
    "ResolvePersonAccount": ACCOUNT_WRITE,
    "GetAccount": ACCOUNT_READ,
    "SearchAccounts": ACCOUNT_READ,
}


def _show_pii() -> bool:
    return current_principal().can(PII_READ)


class AccountServicer(account_service_pb2_grpc.AccountServiceServicer):
    def __init__(self, handlers: AccountHandlers) -> None:
        self.handlers = handlers

    def ResolvePersonAccount(
        self, request: account_service_pb2.ResolvePersonAccountRequest, context: grpc.ServicerContext
    ) -> account_service_pb2.ResolvePersonAccountResponse:
        result = self.handlers.resolve_person_account(
            commands.ResolvePersonAccount(
                key=idempotency_key(request),
                person=PersonDraft(
                    full_name=request.full_name,
                    phone=request.phone,
                    email=request.email,
                    national_id=request.national_id,
                    owner_id=request.owner_id,
                    source_lead_id=request.source_lead_id,
                ),
            )
        )
        return account_service_pb2.ResolvePersonAccountResponse(
            account=account_to_proto(result.account, _show_pii()),
            matched=result.matched,
            matched_on=match_field_to_proto(result.matched_on),
        )

    def GetAccount(self, request: account_service_pb2.GetAccountRequest, context: grpc.ServicerContext) -> account_service_pb2.GetAccountResponse:
        account = self.handlers.get_account(request.account_id)
        return account_service_pb2.GetAccountResponse(account=account_to_proto(account, _show_pii()))

    def SearchAccounts(
        self, request: account_service_pb2.SearchAccountsRequest, context: grpc.ServicerContext
    ) -> account_service_pb2.SearchAccountsResponse:
        page = parse_page(request.page.page_size, request.page.page_token)
        found, after = self.handlers.search_accounts(
            commands.SearchAccounts(phone=request.phone, email=request.email, national_id=request.national_id), page
        )
        show_pii = _show_pii()
        return account_service_pb2.SearchAccountsResponse(
            accounts=[account_to_proto(a, show_pii) for a in found],
            page=common_pb2.PageResponse(next_page_token=next_token(after)),
        )

"""gRPC clients of the account and opportunity services, as the conversion ports need them."""

from __future__ import annotations

import grpc

from crm.account.v1 import account_service_pb2, account_service_pb2_grpc
from crm.common.v1 import common_pb2
from crm.opportunity.v1 import opportunity_service_pb2, opportunity_service_pb2_grpc
from crm_common.errors import DomainError, FailedPrecondition, Unavailable
from crm_common.grpc.enums import enum_number
from crm_common.grpc.mapping import timestamp
from crm_common.grpc.status import resource_info
from crm_lead.service_layer.ports import NewOpportunity, ResolvedAccount

# Worth retrying later: the other service is down, slow, or shedding load.
_TRANSIENT = {
    grpc.StatusCode.UNAVAILABLE,
    grpc.StatusCode.DEADLINE_EXCEEDED,
    grpc.StatusCode.RESOURCE_EXHAUSTED,
    grpc.StatusCode.ABORTED,
    grpc.StatusCode.INTERNAL,
    grpc.StatusCode.UNKNOWN,
}


def _domain_error(service: str, exc: grpc.RpcError) -> DomainError:
    code, details = exc.code(), exc.details()  # type: ignore[attr-defined]
    if code in _TRANSIENT:
        return Unavailable(f"{service} service: {code.name}: {details}")
    return FailedPrecondition(f"{service} service: {code.name}: {details}")


class GrpcAccountDirectory:
    def __init__(self, channel: grpc.Channel, timeout: float = 5.0) -> None:
        self.stub = account_service_pb2_grpc.AccountServiceStub(channel)
        self.timeout = timeout

    def resolve_person(
        self, request_id: str, full_name: str, phone: str, email: str, national_id: str, owner_id: str, lead_id: str
    ) -> ResolvedAccount:
        try:
            reply = self.stub.ResolvePersonAccount(
                account_service_pb2.ResolvePersonAccountRequest(
                    request_id=request_id,
                    full_name=full_name,
                    phone=phone,
                    email=email,
                    national_id=national_id,
                    owner_id=owner_id,
                    source_lead_id=lead_id,
                ),
                timeout=self.timeout,
            )
        except grpc.RpcError as exc:
            raise _domain_error("account", exc) from None
        return ResolvedAccount(account_id=reply.account.account_id, matched=reply.matched)


class GrpcOpportunityBook:
    def __init__(self, channel: grpc.Channel, timeout: float = 5.0) -> None:
        self.stub = opportunity_service_pb2_grpc.OpportunityServiceStub(channel)
        self.timeout = timeout

    def create(self, opportunity: NewOpportunity) -> str:
        request = opportunity_service_pb2.CreateOpportunityRequest(
            request_id=opportunity.request_id,
            account_id=opportunity.account_id,
            product=enum_number(common_pb2.ProductType, opportunity.product),
            expected_close_time=timestamp(opportunity.expected_close_at),
            owner_id=opportunity.owner_id,
            team_id=opportunity.team_id,
            source_lead_id=opportunity.lead_id,
            campaign_id=opportunity.campaign_id,
            territory_id=opportunity.territory_id,
        )
        if opportunity.amount_minor is not None:
            request.amount.CopyFrom(common_pb2.Money(currency_code=opportunity.currency or "VND", amount_minor=opportunity.amount_minor))
        try:
            reply = self.stub.CreateOpportunity(request, timeout=self.timeout)
        except grpc.RpcError as exc:
            existing = resource_info(exc) if exc.code() == grpc.StatusCode.ALREADY_EXISTS else None  # type: ignore[attr-defined]
            if existing is not None and existing[0] == "opportunity":
                # The lead already has its open opportunity (e.g. created under another request id).
                return existing[1]
            raise _domain_error("opportunity", exc) from None
        return str(reply.opportunity.opportunity_id)

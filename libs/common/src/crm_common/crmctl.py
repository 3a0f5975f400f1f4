"""`crmctl`: a person's way to drive the suite from a terminal (dev and support use).

    crmctl token --role admin                      # a dev token (dev signing key only)
    crmctl lead capture --name "Nguyễn Văn An" --phone 0912345678 --product CREDIT_CARD
    crmctl lead assign LEAD_ID --owner agent-1
    crmctl lead contact LEAD_ID --outcome REACHED
    crmctl lead qualify LEAD_ID
    crmctl lead convert LEAD_ID
    crmctl lead get LEAD_ID | crmctl lead list [--query nguyen]
    crmctl account get ACCOUNT_ID | crmctl opportunity list --account ACCOUNT_ID

Targets come from LEAD_GRPC_TARGET, ACCOUNT_GRPC_TARGET, OPPORTUNITY_GRPC_TARGET (default: the
`make up` ports); the token from CRM_TOKEN, else one is signed with JWT_KEY (dev key by default).
Replies print as JSON.
"""

from __future__ import annotations

import argparse
import os
import sys
import uuid
from typing import Any

import grpc
from google.protobuf.json_format import MessageToJson

from crm_common.auth import issue_token
from crm_common.devstack import DEFAULT_PORTS
from crm_common.settings import DEV_JWT_KEY


def _target(service: str) -> str:
    return os.environ.get(f"{service.upper()}_GRPC_TARGET", f"127.0.0.1:{DEFAULT_PORTS[service][0]}")


def _token(role: str, subject: str) -> str:
    return issue_token(
        subject,
        [role],
        os.environ.get("JWT_KEY", DEV_JWT_KEY),
        os.environ.get("JWT_ALGORITHM", "HS256"),
        os.environ.get("JWT_ISSUER", "crm-dev"),
        os.environ.get("JWT_AUDIENCE", "crm"),
    )


def _call(args: argparse.Namespace, service: str, stub_cls: Any, method: str, request: Any) -> int:
    token = os.environ.get("CRM_TOKEN") or _token(args.role, args.subject)
    with grpc.insecure_channel(_target(service)) as channel:
        try:
            reply = getattr(stub_cls(channel), method)(request, metadata=[("authorization", f"Bearer {token}")], timeout=args.timeout)
        except grpc.RpcError as exc:
            from crm_common.grpc.status import field_violations

            print(f"{exc.code().name}: {exc.details()}", file=sys.stderr)
            for field, why in field_violations(exc):
                print(f"  {field}: {why}", file=sys.stderr)
            return 1
    print(MessageToJson(reply, ensure_ascii=False, indent=2))
    return 0


def _rid(args: argparse.Namespace) -> str:
    return args.request_id or str(uuid.uuid4())


def _lead(args: argparse.Namespace) -> int:
    from crm.common.v1 import common_pb2
    from crm.lead.v1 import lead_pb2
    from crm.lead.v1 import lead_service_pb2 as svc
    from crm.lead.v1.lead_service_pb2_grpc import LeadServiceStub

    def call(method: str, request: Any) -> int:
        return _call(args, "lead", LeadServiceStub, method, request)

    if args.action == "capture":
        lead = lead_pb2.LeadInput(
            contact=lead_pb2.ContactInput(full_name=args.name, phone=args.phone, email=args.email, national_id=args.national_id),
            product_interest=common_pb2.ProductType.Value(f"PRODUCT_TYPE_{args.product or 'UNSPECIFIED'}"),
            source=lead_pb2.LeadSource(channel=lead_pb2.Channel.Value(f"CHANNEL_{args.channel}"), campaign_id=args.campaign),
            marketing_consent=args.consent,
        )
        return call("CreateLead", svc.CreateLeadRequest(request_id=_rid(args), lead=lead))
    if args.action == "get":
        return call("GetLead", svc.GetLeadRequest(lead_id=args.id))
    if args.action == "list":
        return call("ListLeads", svc.ListLeadsRequest(query=args.query, page=common_pb2.PageRequest(page_size=args.page_size)))
    if args.action == "assign":
        if args.team:
            return call("AssignLead", svc.AssignLeadRequest(request_id=_rid(args), lead_id=args.id, team_id=args.team))
        return call("AssignLead", svc.AssignLeadRequest(request_id=_rid(args), lead_id=args.id, owner_id=args.owner))
    if args.action == "contact":
        return call(
            "RecordContactAttempt",
            svc.RecordContactAttemptRequest(
                request_id=_rid(args),
                lead_id=args.id,
                channel=lead_pb2.CONTACT_CHANNEL_PHONE,
                outcome=lead_pb2.ContactOutcome.Value(f"CONTACT_OUTCOME_{args.outcome}"),
                note=args.note,
            ),
        )
    if args.action == "qualify":
        return call("QualifyLead", svc.QualifyLeadRequest(request_id=_rid(args), lead_id=args.id, note=args.note))
    if args.action == "disqualify":
        reason = lead_pb2.DisqualificationReason.Value(f"DISQUALIFICATION_REASON_{args.reason}")
        return call("DisqualifyLead", svc.DisqualifyLeadRequest(request_id=_rid(args), lead_id=args.id, reason=reason, note=args.note))
    if args.action == "convert":
        return call("ConvertLead", svc.ConvertLeadRequest(request_id=_rid(args), lead_id=args.id))
    raise AssertionError(args.action)


def _account(args: argparse.Namespace) -> int:
    from crm.account.v1 import account_service_pb2 as svc
    from crm.account.v1.account_service_pb2_grpc import AccountServiceStub

    if args.action == "get":
        return _call(args, "account", AccountServiceStub, "GetAccount", svc.GetAccountRequest(account_id=args.id))
    return _call(args, "account", AccountServiceStub, "SearchAccounts", svc.SearchAccountsRequest(phone=args.phone, email=args.email))


def _opportunity(args: argparse.Namespace) -> int:
    from crm.opportunity.v1 import opportunity_service_pb2 as svc
    from crm.opportunity.v1.opportunity_service_pb2_grpc import OpportunityServiceStub

    if args.action == "get":
        return _call(args, "opportunity", OpportunityServiceStub, "GetOpportunity", svc.GetOpportunityRequest(opportunity_id=args.id))
    request = svc.ListOpportunitiesRequest(account_id=args.account, source_lead_id=args.lead)
    return _call(args, "opportunity", OpportunityServiceStub, "ListOpportunities", request)


def main(argv: list[str] | None = None) -> int:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--role", default="admin", help="role of the dev token (when CRM_TOKEN is not set)")
    common.add_argument("--subject", default=os.environ.get("USER", "crmctl"), help="subject of the dev token")
    common.add_argument("--timeout", type=float, default=10.0)
    common.add_argument("--request-id", default="", help="idempotency key (default: a new UUID)")
    parser = argparse.ArgumentParser(prog="crmctl", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="group", required=True)

    token = sub.add_parser("token", help="print a dev-signed bearer token", parents=[common])
    token.add_argument("--ttl", type=int, default=3600)

    lead = sub.add_parser("lead", parents=[common], help="capture, qualify, convert and look at leads")
    lead.add_argument("action", choices=["capture", "get", "list", "assign", "contact", "qualify", "disqualify", "convert"])
    lead.add_argument("id", nargs="?", default="")
    lead.add_argument("--name", default="")
    lead.add_argument("--phone", default="")
    lead.add_argument("--email", default="")
    lead.add_argument("--national-id", default="")
    lead.add_argument("--product", default="", help="CREDIT_CARD, UNSECURED_LOAN, MORTGAGE, TERM_DEPOSIT, CASA, BANCASSURANCE, AUTO_LOAN")
    lead.add_argument("--channel", default="CALL_CENTER")
    lead.add_argument("--campaign", default="")
    lead.add_argument("--consent", action="store_true")
    lead.add_argument("--owner", default="")
    lead.add_argument("--team", default="")
    lead.add_argument("--outcome", default="REACHED")
    lead.add_argument("--reason", default="NOT_INTERESTED")
    lead.add_argument("--note", default="")
    lead.add_argument("--query", default="")
    lead.add_argument("--page-size", type=int, default=20)

    account = sub.add_parser("account", parents=[common], help="look up accounts")
    account.add_argument("action", choices=["get", "search"])
    account.add_argument("id", nargs="?", default="")
    account.add_argument("--phone", default="")
    account.add_argument("--email", default="")

    opportunity = sub.add_parser("opportunity", parents=[common], help="look up opportunities")
    opportunity.add_argument("action", choices=["get", "list"])
    opportunity.add_argument("id", nargs="?", default="")
    opportunity.add_argument("--account", default="")
    opportunity.add_argument("--lead", default="")

    args = parser.parse_args(argv)
    if args.group == "token":
        print(
            issue_token(
                args.subject,
                [args.role],
                os.environ.get("JWT_KEY", DEV_JWT_KEY),
                os.environ.get("JWT_ALGORITHM", "HS256"),
                os.environ.get("JWT_ISSUER", "crm-dev"),
                os.environ.get("JWT_AUDIENCE", "crm"),
                ttl_seconds=args.ttl,
            )
        )
        return 0
    return {"lead": _lead, "account": _account, "opportunity": _opportunity}[args.group](args)


if __name__ == "__main__":
    sys.exit(main())

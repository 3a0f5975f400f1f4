"""`crmctl`: a person's way to drive the suite from a terminal (dev and support use).

    crmctl token --role admin                      # a dev token (dev signing key only)
    crmctl token --role sales_manager --subject sm-1 --team-claim tele-hcm   # with its data scope
    crmctl lead capture --name "Nguyễn Văn An" --phone 0912345678 --product CREDIT_CARD
    crmctl lead assign LEAD_ID --owner agent-1
    crmctl lead contact LEAD_ID --outcome REACHED
    crmctl lead qualify LEAD_ID
    crmctl lead convert LEAD_ID
    crmctl lead get LEAD_ID | crmctl lead list [--query nguyen]
    crmctl lead import leads.csv [--channel IMPORT --campaign c1]   # re-running a file changes nothing
    crmctl account get ACCOUNT_ID | crmctl account search --name ngoc | crmctl opportunity list --account ACCOUNT_ID
    crmctl account create --name "Trần Thị Ngọc" --phone 0912345678 --province 79

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


def _token(args: argparse.Namespace, ttl_seconds: int = 3600) -> str:
    """A dev-signed token for --subject with --role(s) and the --team/--branch/--territory ids,
    in the claims the services read (JWT_TEAMS_CLAIM, JWT_BRANCHES_CLAIM, JWT_TERRITORIES_CLAIM)."""
    return issue_token(
        args.subject,
        [r for r in args.role.split(",") if r],
        os.environ.get("JWT_KEY", DEV_JWT_KEY),
        os.environ.get("JWT_ALGORITHM", "HS256"),
        os.environ.get("JWT_ISSUER", "crm-dev"),
        os.environ.get("JWT_AUDIENCE", "crm"),
        ttl_seconds=ttl_seconds,
        teams=args.team_claim,
        branches=args.branch_claim,
        territories=args.territory_claim,
        claim_names=(
            os.environ.get("JWT_TEAMS_CLAIM", "teams"),
            os.environ.get("JWT_BRANCHES_CLAIM", "branches"),
            os.environ.get("JWT_TERRITORIES_CLAIM", "territories"),
        ),
    )


def _call(
    args: argparse.Namespace, service: str, stub_cls: Any, method: str, request: Any, quiet: bool = False, reply_into: list[Any] | None = None
) -> int:
    token = os.environ.get("CRM_TOKEN") or _token(args)
    with grpc.insecure_channel(_target(service)) as channel:
        try:
            reply = getattr(stub_cls(channel), method)(request, metadata=[("authorization", f"Bearer {token}")], timeout=args.timeout)
        except grpc.RpcError as exc:
            from crm_common.grpc.status import field_violations

            print(f"{exc.code().name}: {exc.details()}", file=sys.stderr)
            for field, why in field_violations(exc):
                print(f"  {field}: {why}", file=sys.stderr)
            return 1
    if reply_into is not None:
        reply_into.append(reply)
    if not quiet:
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

    args.channel = args.channel or ("IMPORT" if args.action == "import" else "CALL_CENTER")
    if args.action == "capture":
        lead = lead_pb2.LeadInput(
            contact=lead_pb2.ContactInput(full_name=args.name, phone=args.phone, email=args.email, national_id=args.national_id),
            product_interest=common_pb2.ProductType.Value(f"PRODUCT_TYPE_{args.product or 'UNSPECIFIED'}"),
            source=lead_pb2.LeadSource(channel=lead_pb2.Channel.Value(f"CHANNEL_{args.channel}"), campaign_id=args.campaign),
            marketing_consent=args.consent,
        )
        return call("CreateLead", svc.CreateLeadRequest(request_id=_rid(args), lead=lead))
    if args.action == "import":
        return _import_leads(args, call)
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


IMPORT_COLUMNS = (
    "full_name",
    "phone",
    "email",
    "national_id",
    "province_code",
    "product",
    "campaign_id",
    "utm_source",
    "utm_medium",
    "utm_campaign",
    "consent",
)
IMPORT_BATCH = 5000


def _import_leads(args: argparse.Namespace, call: Any) -> int:
    """Sends a CSV (header row; columns from IMPORT_COLUMNS) in batches; each batch's request_id
    is derived from the file's content, so importing the same file again changes nothing."""
    import csv
    import hashlib
    from pathlib import Path

    from crm.common.v1 import common_pb2
    from crm.lead.v1 import lead_pb2
    from crm.lead.v1 import lead_service_pb2 as svc

    raw = Path(args.id).read_bytes()
    rows = list(csv.DictReader(raw.decode("utf-8-sig").splitlines()))
    unknown = sorted(set(rows[0]) - set(IMPORT_COLUMNS)) if rows else []
    if unknown:
        print(f"unknown columns {unknown}; expected some of {list(IMPORT_COLUMNS)}", file=sys.stderr)
        return 2
    digest = hashlib.sha256(raw).hexdigest()[:32]
    totals = {"created": 0, "duplicate": 0, "invalid": 0}
    failed = 0
    for start in range(0, len(rows), IMPORT_BATCH):
        batch = rows[start : start + IMPORT_BATCH]
        inputs = []
        for row in batch:
            product = (row.get("product") or "").strip().upper()
            inputs.append(
                lead_pb2.LeadInput(
                    contact=lead_pb2.ContactInput(
                        full_name=row.get("full_name", ""),
                        phone=row.get("phone", ""),
                        email=row.get("email", ""),
                        national_id=row.get("national_id", ""),
                        province_code=row.get("province_code", ""),
                    ),
                    product_interest=common_pb2.ProductType.Value(f"PRODUCT_TYPE_{product if product in _PRODUCTS else 'UNSPECIFIED'}"),
                    source=lead_pb2.LeadSource(
                        channel=lead_pb2.Channel.Value(f"CHANNEL_{args.channel}"),
                        campaign_id=row.get("campaign_id") or args.campaign,
                        utm=lead_pb2.Utm(source=row.get("utm_source", ""), medium=row.get("utm_medium", ""), campaign=row.get("utm_campaign", "")),
                        data_origin=lead_pb2.DataOrigin.Value(f"DATA_ORIGIN_{args.origin}"),
                    ),
                    marketing_consent=(row.get("consent") or "").strip().lower() in ("1", "true", "yes", "y", "x"),
                )
            )
        request = svc.ImportLeadsRequest(request_id=f"import:{digest}:{start // IMPORT_BATCH}", rows=inputs)
        captured: list[Any] = []
        code = _call(args, "lead", _lead_stub(), "ImportLeads", request, quiet=True, reply_into=captured)
        if code != 0:
            failed += 1
            continue
        reply = captured[0]
        totals["created"] += reply.created_count
        totals["duplicate"] += reply.duplicate_count
        totals["invalid"] += reply.invalid_count
        for result in reply.results:
            if result.status == svc.IMPORT_ROW_STATUS_INVALID:
                line = start + result.row_index + 2  # the header is line 1
                why = "; ".join(f"{v.field.split('.', 1)[-1]}: {v.description}" for v in result.violations)
                print(f"line {line}: {why}")
            elif result.status == svc.IMPORT_ROW_STATUS_DUPLICATE:
                print(f"line {start + result.row_index + 2}: duplicate of open lead {result.lead_id}")
    print(f"{len(rows)} rows: {totals['created']} created, {totals['duplicate']} duplicates, {totals['invalid']} invalid", file=sys.stderr)
    return 1 if failed else 0


_PRODUCTS = {"CREDIT_CARD", "UNSECURED_LOAN", "MORTGAGE", "TERM_DEPOSIT", "CASA", "BANCASSURANCE", "AUTO_LOAN"}


def _lead_stub() -> Any:
    from crm.lead.v1.lead_service_pb2_grpc import LeadServiceStub

    return LeadServiceStub


def _account(args: argparse.Namespace) -> int:
    from crm.account.v1 import account_service_pb2 as svc
    from crm.account.v1.account_service_pb2_grpc import AccountServiceStub

    if args.action == "get":
        return _call(args, "account", AccountServiceStub, "GetAccount", svc.GetAccountRequest(account_id=args.id))
    if args.action == "changes":
        return _call(args, "account", AccountServiceStub, "ListAccountChanges", svc.ListAccountChangesRequest(account_id=args.id))
    if args.action == "create":
        from crm.account.v1 import account_pb2

        account = account_pb2.AccountInput(
            full_name=args.name,
            phones=[args.phone] if args.phone else [],
            emails=[args.email] if args.email else [],
            national_id=args.national_id,
            owner_id=args.owner,
            address=account_pb2.Address(province_code=args.province) if args.province else None,
        )
        return _call(args, "account", AccountServiceStub, "CreateAccount", svc.CreateAccountRequest(request_id=_rid(args), account=account))
    query = svc.SearchAccountsRequest(phone=args.phone, email=args.email, national_id=args.national_id, name=args.name)
    return _call(args, "account", AccountServiceStub, "SearchAccounts", query)


def _opportunity(args: argparse.Namespace) -> int:
    from crm.opportunity.v1 import opportunity_service_pb2 as svc
    from crm.opportunity.v1.opportunity_service_pb2_grpc import OpportunityServiceStub

    if args.action == "get":
        return _call(args, "opportunity", OpportunityServiceStub, "GetOpportunity", svc.GetOpportunityRequest(opportunity_id=args.id))
    request = svc.ListOpportunitiesRequest(account_id=args.account, source_lead_id=args.lead)
    return _call(args, "opportunity", OpportunityServiceStub, "ListOpportunities", request)


def main(argv: list[str] | None = None) -> int:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--role", default="admin", help="role(s) of the dev token, comma-separated (when CRM_TOKEN is not set)")
    common.add_argument("--subject", default=os.environ.get("USER", "crmctl"), help="subject of the dev token")
    # Where the caller works: they widen its data scope as far as its roles reach (repeatable).
    common.add_argument("--team-claim", action="append", default=[], metavar="TEAM", help="a team of the dev token's caller")
    common.add_argument("--branch-claim", action="append", default=[], metavar="BRANCH", help="a branch of the dev token's caller")
    common.add_argument("--territory-claim", action="append", default=[], metavar="TERRITORY", help="a territory, e.g. VN.NORTH")
    common.add_argument("--timeout", type=float, default=10.0)
    common.add_argument("--request-id", default="", help="idempotency key (default: a new UUID)")
    parser = argparse.ArgumentParser(prog="crmctl", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="group", required=True)

    token = sub.add_parser("token", help="print a dev-signed bearer token", parents=[common])
    token.add_argument("--ttl", type=int, default=3600)

    lead = sub.add_parser("lead", parents=[common], help="capture, qualify, convert and look at leads")
    lead.add_argument("action", choices=["capture", "import", "get", "list", "assign", "contact", "qualify", "disqualify", "convert"])
    lead.add_argument("id", nargs="?", default="", help="the lead id, or the CSV file for import")
    lead.add_argument("--origin", default="FIRST_PARTY", help="import: FIRST_PARTY, SECOND_PARTY or THIRD_PARTY")
    lead.add_argument("--name", default="")
    lead.add_argument("--phone", default="")
    lead.add_argument("--email", default="")
    lead.add_argument("--national-id", default="")
    lead.add_argument("--product", default="", help="CREDIT_CARD, UNSECURED_LOAN, MORTGAGE, TERM_DEPOSIT, CASA, BANCASSURANCE, AUTO_LOAN")
    lead.add_argument("--channel", default="", help="capture: default CALL_CENTER; import: default IMPORT")
    lead.add_argument("--campaign", default="")
    lead.add_argument("--consent", action="store_true")
    lead.add_argument("--owner", default="")
    lead.add_argument("--team", default="")
    lead.add_argument("--outcome", default="REACHED")
    lead.add_argument("--reason", default="NOT_INTERESTED")
    lead.add_argument("--note", default="")
    lead.add_argument("--query", default="")
    lead.add_argument("--page-size", type=int, default=20)

    account = sub.add_parser("account", parents=[common], help="create and look up accounts")
    account.add_argument("action", choices=["get", "search", "create", "changes"])
    account.add_argument("id", nargs="?", default="")
    account.add_argument("--name", default="", help="create: full name; search: a word prefix, diacritics ignored")
    account.add_argument("--phone", default="")
    account.add_argument("--email", default="")
    account.add_argument("--national-id", default="")
    account.add_argument("--owner", default="")
    account.add_argument("--province", default="", help="GSO province code, e.g. 79")

    opportunity = sub.add_parser("opportunity", parents=[common], help="look up opportunities")
    opportunity.add_argument("action", choices=["get", "list"])
    opportunity.add_argument("id", nargs="?", default="")
    opportunity.add_argument("--account", default="")
    opportunity.add_argument("--lead", default="")

    args = parser.parse_args(argv)
    if args.group == "token":
        print(_token(args, args.ttl))
        return 0
    return {"lead": _lead, "account": _account, "opportunity": _opportunity}[args.group](args)


if __name__ == "__main__":
    sys.exit(main())

"""`crmctl lead ...`: capture, qualify, convert and look at leads from a terminal (dev and support).

crmctl lead capture --name "Nguyễn Văn An" --phone 0912345678 --product CREDIT_CARD
crmctl lead assign LEAD_ID --owner agent-1
crmctl lead contact LEAD_ID --outcome REACHED
crmctl lead qualify LEAD_ID
crmctl lead convert LEAD_ID
crmctl lead get LEAD_ID | crmctl lead list [--query nguyen]
crmctl lead import leads.csv [--channel IMPORT --campaign c1]   # re-running a file changes nothing
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from crm_common.crmctl import Ctl

HELP = "capture, qualify, convert and look at leads"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", choices=["capture", "import", "get", "list", "assign", "contact", "qualify", "disqualify", "convert"])
    parser.add_argument("id", nargs="?", default="", help="the lead id, or the CSV file for import")
    parser.add_argument("--origin", default="FIRST_PARTY", help="import: FIRST_PARTY, SECOND_PARTY or THIRD_PARTY")
    parser.add_argument("--name", default="")
    parser.add_argument("--phone", default="")
    parser.add_argument("--email", default="")
    parser.add_argument("--national-id", default="")
    parser.add_argument("--product", default="", help="CREDIT_CARD, UNSECURED_LOAN, MORTGAGE, TERM_DEPOSIT, CASA, BANCASSURANCE, AUTO_LOAN")
    parser.add_argument("--channel", default="", help="capture: default CALL_CENTER; import: default IMPORT")
    parser.add_argument("--campaign", default="")
    parser.add_argument("--consent", action="store_true")
    parser.add_argument("--owner", default="")
    parser.add_argument("--team", default="")
    parser.add_argument("--outcome", default="REACHED")
    parser.add_argument("--reason", default="NOT_INTERESTED")
    parser.add_argument("--note", default="")
    parser.add_argument("--query", default="")
    parser.add_argument("--page-size", type=int, default=20)


def run(args: argparse.Namespace, ctl: Ctl) -> int:
    from crm.common.v1 import common_pb2
    from crm.lead.v1 import lead_pb2
    from crm.lead.v1 import lead_service_pb2 as svc
    from crm.lead.v1.lead_service_pb2_grpc import LeadServiceStub

    def call(method: str, request: Any) -> int:
        return ctl.call("lead", LeadServiceStub, method, request)

    args.channel = args.channel or ("IMPORT" if args.action == "import" else "CALL_CENTER")
    if args.action == "capture":
        lead = lead_pb2.LeadInput(
            contact=lead_pb2.ContactInput(full_name=args.name, phone=args.phone, email=args.email, national_id=args.national_id),
            product_interest=common_pb2.ProductType.Value(f"PRODUCT_TYPE_{args.product or 'UNSPECIFIED'}"),
            source=lead_pb2.LeadSource(channel=lead_pb2.Channel.Value(f"CHANNEL_{args.channel}"), campaign_id=args.campaign),
            marketing_consent=args.consent,
        )
        return call("CreateLead", svc.CreateLeadRequest(request_id=ctl.request_id(), lead=lead))
    if args.action == "import":
        return _import_leads(args, ctl)
    if args.action == "get":
        return call("GetLead", svc.GetLeadRequest(lead_id=args.id))
    if args.action == "list":
        return call("ListLeads", svc.ListLeadsRequest(query=args.query, page=common_pb2.PageRequest(page_size=args.page_size)))
    if args.action == "assign":
        if args.team:
            return call("AssignLead", svc.AssignLeadRequest(request_id=ctl.request_id(), lead_id=args.id, team_id=args.team))
        return call("AssignLead", svc.AssignLeadRequest(request_id=ctl.request_id(), lead_id=args.id, owner_id=args.owner))
    if args.action == "contact":
        return call(
            "RecordContactAttempt",
            svc.RecordContactAttemptRequest(
                request_id=ctl.request_id(),
                lead_id=args.id,
                channel=lead_pb2.CONTACT_CHANNEL_PHONE,
                outcome=lead_pb2.ContactOutcome.Value(f"CONTACT_OUTCOME_{args.outcome}"),
                note=args.note,
            ),
        )
    if args.action == "qualify":
        return call("QualifyLead", svc.QualifyLeadRequest(request_id=ctl.request_id(), lead_id=args.id, note=args.note))
    if args.action == "disqualify":
        reason = lead_pb2.DisqualificationReason.Value(f"DISQUALIFICATION_REASON_{args.reason}")
        return call("DisqualifyLead", svc.DisqualifyLeadRequest(request_id=ctl.request_id(), lead_id=args.id, reason=reason, note=args.note))
    if args.action == "convert":
        return call("ConvertLead", svc.ConvertLeadRequest(request_id=ctl.request_id(), lead_id=args.id))
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


def _import_leads(args: argparse.Namespace, ctl: Ctl) -> int:
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
        code = ctl.call("lead", _lead_stub(), "ImportLeads", request, quiet=True, reply_into=captured)
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

"""`crmctl opportunity ...`: look up opportunities from a terminal (dev and support).

crmctl opportunity get OPPORTUNITY_ID | crmctl opportunity list --account ACCOUNT_ID [--lead LEAD_ID]
"""

from __future__ import annotations

import argparse

from crm_common.crmctl import Ctl

HELP = "look up opportunities"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", choices=["get", "list"])
    parser.add_argument("id", nargs="?", default="")
    parser.add_argument("--account", default="")
    parser.add_argument("--lead", default="")


def run(args: argparse.Namespace, ctl: Ctl) -> int:
    from crm.opportunity.v1 import opportunity_service_pb2 as svc
    from crm.opportunity.v1.opportunity_service_pb2_grpc import OpportunityServiceStub

    if args.action == "get":
        return ctl.call("opportunity", OpportunityServiceStub, "GetOpportunity", svc.GetOpportunityRequest(opportunity_id=args.id))
    request = svc.ListOpportunitiesRequest(account_id=args.account, source_lead_id=args.lead)
    return ctl.call("opportunity", OpportunityServiceStub, "ListOpportunities", request)

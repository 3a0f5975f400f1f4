"""`crmctl account ...`: create and look up accounts from a terminal (dev and support).

crmctl account get ACCOUNT_ID | crmctl account search --name ngoc | crmctl account changes ACCOUNT_ID
crmctl account create --name "Trần Thị Ngọc" --phone 0912345678 --province 79
"""

from __future__ import annotations

import argparse

from crm_common.crmctl import Ctl

HELP = "create and look up accounts"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", choices=["get", "search", "create", "changes"])
    parser.add_argument("id", nargs="?", default="")
    parser.add_argument("--name", default="", help="create: full name; search: a word prefix, diacritics ignored")
    parser.add_argument("--phone", default="")
    parser.add_argument("--email", default="")
    parser.add_argument("--national-id", default="")
    parser.add_argument("--owner", default="")
    parser.add_argument("--province", default="", help="GSO province code, e.g. 79")


def run(args: argparse.Namespace, ctl: Ctl) -> int:
    from crm.account.v1 import account_service_pb2 as svc
    from crm.account.v1.account_service_pb2_grpc import AccountServiceStub

    if args.action == "get":
        return ctl.call("account", AccountServiceStub, "GetAccount", svc.GetAccountRequest(account_id=args.id))
    if args.action == "changes":
        return ctl.call("account", AccountServiceStub, "ListAccountChanges", svc.ListAccountChangesRequest(account_id=args.id))
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
        return ctl.call("account", AccountServiceStub, "CreateAccount", svc.CreateAccountRequest(request_id=ctl.request_id(), account=account))
    query = svc.SearchAccountsRequest(phone=args.phone, email=args.email, national_id=args.national_id, name=args.name)
    return ctl.call("account", AccountServiceStub, "SearchAccounts", query)

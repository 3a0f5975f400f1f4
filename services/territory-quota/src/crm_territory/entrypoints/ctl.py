"""`crmctl territory-quota ...`: everyday sales-management operations from a terminal.

    crmctl territory-quota load model.json [--date 2027-01-01] [--note "..."]   # plan a model version
    crmctl territory-quota teams teams.json                                      # put teams and members
    crmctl territory-quota preview VERSION | apply VERSION | cancel VERSION | versions
    crmctl territory-quota departure RM_ID --date 2027-01-15 [--apply]

    model.json is a PlanModelVersionRequest in protobuf JSON ({"effectiveDate": {...}, "nodes": [...],
    "rules": [...]}); teams.json a list of PutTeamRequest ({"team": {...}, "members": [...]}).
    Re-running a command with the same --request-id changes nothing.

    crmctl territory-quota quota-seed --period 2026-Q3 --measure LOAN_DISBURSED --root VN.NORTH --growth-bp 1000 [--keep]
    crmctl territory-quota quota-adjust PLAN_ID --scope RM:rm-a --target 1500000000 --note "new mall"
    crmctl territory-quota quota-submit PLAN_ID [--accept-differences]
    crmctl territory-quota quota-approve PLAN_ID            (as a checker: --role head_of_sales --subject ...)
    crmctl territory-quota quota-show PLAN_ID [--version N]
    crmctl territory-quota attainment --scope TERRITORY:VN.NORTH --measure LOAN_DISBURSED --period 2026-Q3

Each half of the service adds its actions as one block (`*_ACTIONS`: name → (adder, runner)).
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

from crm_common.crmctl import Ctl, common_options

HELP = "territories, assignment, quota plans and attainment"

Adder = Callable[[argparse.ArgumentParser], None]
Runner = Callable[[argparse.Namespace, Ctl], int]


def _add_territory_action(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("target", nargs="?", default="", help="the file (load, teams), the version number or the RM's subject id")
    parser.add_argument("--date", default="", help="load: effective date (overrides the file's); departure: the RM's last day")
    parser.add_argument("--note", default="", help="load: the version's note")
    parser.add_argument("--apply", action="store_true", help="departure: apply it (default: preview)")


def _territory_action(args: argparse.Namespace, ctl: Ctl) -> int:
    from google.protobuf import json_format

    from crm.common.v1 import common_pb2
    from crm.territory.v1 import territory_service_pb2 as svc
    from crm.territory.v1.territory_service_pb2_grpc import TerritoryServiceStub

    def call(method: str, request: Any) -> int:
        return ctl.call("territory-quota", TerritoryServiceStub, method, request)

    def day(text: str) -> common_pb2.Date:
        value = date.fromisoformat(text)
        return common_pb2.Date(year=value.year, month=value.month, day=value.day)

    if args.action == "load":
        request = json_format.Parse(Path(args.target).read_text(encoding="utf-8"), svc.PlanModelVersionRequest())
        request.request_id = ctl.request_id()
        if args.date:
            request.effective_date.CopyFrom(day(args.date))
        if args.note:
            request.note = args.note
        return call("PlanModelVersion", request)
    if args.action == "teams":
        status = 0
        for i, entry in enumerate(json.loads(Path(args.target).read_text(encoding="utf-8"))):
            team = json_format.ParseDict(entry, svc.PutTeamRequest())
            team.request_id = f"{ctl.request_id()}:{i}"
            status = call("PutTeam", team) or status
        return status
    if args.action == "versions":
        return call("ListModelVersions", svc.ListModelVersionsRequest())
    if args.action == "departure":
        if args.apply:
            return call(
                "ApplyRmDeparture", svc.ApplyRmDepartureRequest(request_id=ctl.request_id(), rm_id=args.target, effective_date=day(args.date))
            )
        return call("PreviewRmDeparture", svc.PreviewRmDepartureRequest(rm_id=args.target, effective_date=day(args.date)))
    version = int(args.target)
    if args.action == "preview":
        return call("PreviewModelVersion", svc.PreviewModelVersionRequest(version=version))
    if args.action == "apply":
        return call("ApplyModelVersion", svc.ApplyModelVersionRequest(request_id=ctl.request_id(), version=version))
    return call("CancelModelVersion", svc.CancelModelVersionRequest(request_id=ctl.request_id(), version=version))


TERRITORY_ACTIONS: dict[str, tuple[Adder, Runner]] = {
    name: (_add_territory_action, _territory_action) for name in ("load", "teams", "preview", "apply", "cancel", "versions", "departure")
}


# The quota half.
def _period(text: str) -> Any:
    from crm_territory.adapters.quota_mapping import period_to_proto
    from crm_territory.domain.quotas import Period

    return period_to_proto(Period.parse(text))


def _scope(text: str) -> Any:
    from crm.territory.v1 import territory_pb2

    kind, _, scope_id = text.partition(":")
    return territory_pb2.QuotaScope(kind=territory_pb2.QuotaScopeKind.Value(f"QUOTA_SCOPE_KIND_{kind.upper()}"), id=scope_id)


def _measure(name: str) -> Any:
    from crm.territory.v1 import territory_pb2

    return territory_pb2.QuotaMeasure.Value(f"QUOTA_MEASURE_{name.upper()}")


def _quota_call(ctl: Ctl, method: str, request: Any) -> int:
    from crm.territory.v1.territory_service_pb2_grpc import TerritoryServiceStub

    return ctl.call("territory-quota", TerritoryServiceStub, method, request)


def _add_seed(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--period", required=True, help="YYYY, YYYY-Qn or YYYY-MM")
    parser.add_argument("--measure", required=True, choices=["NEW_CARDS", "LOAN_DISBURSED", "DEPOSIT_GROWTH", "INSURANCE_PREMIUM"])
    parser.add_argument("--root", required=True, help="the plan's root territory id")
    parser.add_argument("--growth-bp", type=int, default=0, help="growth over last year in basis points (1250 = +12.5 %%)")
    parser.add_argument("--keep", action="store_true", help="quota stays put when accounts move (default: pro-rated)")


def _seed(args: argparse.Namespace, ctl: Ctl) -> int:
    from crm.territory.v1 import territory_pb2
    from crm.territory.v1 import territory_service_pb2 as svc

    policy = territory_pb2.MOVE_POLICY_KEEP if args.keep else territory_pb2.MOVE_POLICY_PRO_RATE
    request = svc.SeedQuotaPlanRequest(
        request_id=ctl.request_id(),
        period=_period(args.period),
        measure=_measure(args.measure),
        root_territory_id=args.root,
        growth_bp=args.growth_bp,
        move_policy=policy,
    )
    return _quota_call(ctl, "SeedQuotaPlan", request)


def _add_plan_id(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("plan_id")


def _add_adjust(parser: argparse.ArgumentParser) -> None:
    _add_plan_id(parser)
    parser.add_argument("--scope", required=True, help="KIND:id, e.g. RM:rm-a, TEAM:T-HN01, TERRITORY:VN.NORTH")
    parser.add_argument("--target", required=True, type=int, help="a count for NEW_CARDS, integer đồng otherwise")
    parser.add_argument("--count", action="store_true", help="the plan counts new cards")
    parser.add_argument("--note", required=True)


def _adjust(args: argparse.Namespace, ctl: Ctl) -> int:
    from crm.common.v1 import common_pb2
    from crm.territory.v1 import territory_pb2
    from crm.territory.v1 import territory_service_pb2 as svc

    value = (
        territory_pb2.MeasureValue(count=args.target)
        if args.count
        else territory_pb2.MeasureValue(money=common_pb2.Money(currency_code="VND", amount_minor=args.target))
    )
    request = svc.AdjustQuotaRequest(request_id=ctl.request_id(), plan_id=args.plan_id, scope=_scope(args.scope), target=value, note=args.note)
    return _quota_call(ctl, "AdjustQuota", request)


def _add_submit(parser: argparse.ArgumentParser) -> None:
    _add_plan_id(parser)
    parser.add_argument("--accept-differences", action="store_true")


def _submit(args: argparse.Namespace, ctl: Ctl) -> int:
    from crm.territory.v1 import territory_service_pb2 as svc

    request = svc.SubmitQuotaPlanRequest(request_id=ctl.request_id(), plan_id=args.plan_id, accept_differences=args.accept_differences)
    return _quota_call(ctl, "SubmitQuotaPlan", request)


def _approve(args: argparse.Namespace, ctl: Ctl) -> int:
    from crm.territory.v1 import territory_service_pb2 as svc

    return _quota_call(ctl, "ApproveQuotaPlan", svc.ApproveQuotaPlanRequest(request_id=ctl.request_id(), plan_id=args.plan_id))


def _add_show(parser: argparse.ArgumentParser) -> None:
    _add_plan_id(parser)
    parser.add_argument("--version", type=int, default=0, help="0: the latest")


def _show(args: argparse.Namespace, ctl: Ctl) -> int:
    from crm.territory.v1 import territory_service_pb2 as svc

    return _quota_call(ctl, "GetQuotaPlan", svc.GetQuotaPlanRequest(plan_id=args.plan_id, version=args.version))


def _add_attainment(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--scope", required=True, help="KIND:id, e.g. RM:rm-a or TERRITORY:VN.NORTH")
    parser.add_argument("--measure", required=True, choices=["NEW_CARDS", "LOAN_DISBURSED", "DEPOSIT_GROWTH", "INSURANCE_PREMIUM"])
    parser.add_argument("--period", required=True, help="YYYY, YYYY-Qn or YYYY-MM")


def _attainment(args: argparse.Namespace, ctl: Ctl) -> int:
    from crm.territory.v1 import territory_service_pb2 as svc

    request = svc.GetAttainmentRequest(scope=_scope(args.scope), measure=_measure(args.measure), period=_period(args.period))
    status = _quota_call(ctl, "GetAttainment", request)
    coverage = svc.GetCoverageRequest(scope=request.scope, measure=request.measure, period=request.period)
    return status or _quota_call(ctl, "GetCoverage", coverage)


QUOTA_ACTIONS: dict[str, tuple[Adder, Runner]] = {
    "quota-seed": (_add_seed, _seed),
    "quota-adjust": (_add_adjust, _adjust),
    "quota-submit": (_add_submit, _submit),
    "quota-approve": (_add_plan_id, _approve),
    "quota-show": (_add_show, _show),
    "attainment": (_add_attainment, _attainment),
}

ACTIONS: dict[str, tuple[Adder, Runner]] = {**TERRITORY_ACTIONS, **QUOTA_ACTIONS}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="action", required=True)
    for name, (adder, _) in ACTIONS.items():
        adder(actions.add_parser(name, parents=[common_options(nested=True)]))


def run(args: argparse.Namespace, ctl: Ctl) -> int:
    return ACTIONS[args.action][1](args, ctl)

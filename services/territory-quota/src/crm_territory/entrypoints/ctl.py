"""`crmctl territory-quota ...`: the everyday territory operations from a terminal.

crmctl territory-quota load model.json [--date 2027-01-01] [--note "..."]   # plan a model version
crmctl territory-quota teams teams.json                                      # put teams and members
crmctl territory-quota preview VERSION | apply VERSION | cancel VERSION | versions
crmctl territory-quota departure RM_ID --date 2027-01-15 [--apply]

model.json is a PlanModelVersionRequest in protobuf JSON ({"effectiveDate": {...}, "nodes": [...],
"rules": [...]}); teams.json a list of PutTeamRequest ({"team": {...}, "members": [...]}).
Re-running a command with the same --request-id changes nothing.
"""

from __future__ import annotations

import argparse
import json
from datetime import date
from pathlib import Path
from typing import Any

from crm_common.crmctl import Ctl

HELP = "territories: load a model and teams from files, preview and apply a realignment, RM departures"
SERVICE = "territory-quota"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", choices=["load", "teams", "preview", "apply", "cancel", "versions", "departure"])
    parser.add_argument("target", nargs="?", default="", help="the file (load, teams), the version number or the RM's subject id")
    parser.add_argument("--date", default="", help="load: effective date (overrides the file's); departure: the RM's last day")
    parser.add_argument("--note", default="", help="load: the version's note")
    parser.add_argument("--apply", action="store_true", help="departure: apply it (default: preview)")


def run(args: argparse.Namespace, ctl: Ctl) -> int:
    from google.protobuf import json_format

    from crm.common.v1 import common_pb2
    from crm.territory.v1 import territory_service_pb2 as svc
    from crm.territory.v1.territory_service_pb2_grpc import TerritoryServiceStub

    def call(method: str, request: Any) -> int:
        return ctl.call(SERVICE, TerritoryServiceStub, method, request)

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

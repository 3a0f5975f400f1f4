"""`crmctl territory-quota` against a real server: a model and teams loaded from files, previewed,
applied; an RM's departure previewed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from google.protobuf import json_format
from territory_bank import NODES, OPS, RULES, TEAMS, today

from crm.territory.v1 import territory_service_pb2 as pb
from crm.territory.v1.territory_service_pb2_grpc import TerritoryServiceStub
from crm_common import crmctl
from crm_common.testing import LiveService


def test_load_preview_apply_from_files(api: LiveService, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("TERRITORY_QUOTA_GRPC_TARGET", api.target)
    hierarchy = tmp_path / "hierarchy.json"
    hierarchy.write_text(json_format.MessageToJson(pb.PlanModelVersionRequest(nodes=NODES)), encoding="utf-8")
    model = tmp_path / "model.json"
    model.write_text(json_format.MessageToJson(pb.PlanModelVersionRequest(nodes=NODES, rules=RULES)), encoding="utf-8")
    teams = tmp_path / "teams.json"
    teams.write_text(
        json.dumps([json_format.MessageToDict(pb.PutTeamRequest(team=team, members=members)) for team, members in TEAMS]), encoding="utf-8"
    )
    ops = ["--role", "sales_ops"]
    assert crmctl.main(["territory-quota", "load", str(hierarchy), "--date", str(today()), *ops]) == 0
    assert crmctl.main(["territory-quota", "teams", str(teams), *ops]) == 0
    assert crmctl.main(["territory-quota", "load", str(model), "--date", str(today()), "--note", "rules", *ops]) == 0
    capsys.readouterr()
    assert crmctl.main(["territory-quota", "preview", "2", *ops]) == 0
    assert json.loads(capsys.readouterr().out)["version"]["status"] == "MODEL_VERSION_STATUS_PLANNED"
    assert crmctl.main(["territory-quota", "apply", "2", *ops]) == 0
    assert crmctl.main(["territory-quota", "departure", "rm-a", "--date", str(today()), *ops]) == 0
    assert crmctl.main(["territory-quota", "cancel", "1", *ops]) == 0
    versions = TerritoryServiceStub(api.channel).ListModelVersions(pb.ListModelVersionsRequest(), metadata=OPS, timeout=10).versions
    assert [(v.version, v.status, v.note) for v in versions] == [(2, 2, "rules"), (1, 4, "")]
    assert crmctl.main(["territory-quota", "apply", "2", *ops]) == 1  # FAILED_PRECONDITION: applied already

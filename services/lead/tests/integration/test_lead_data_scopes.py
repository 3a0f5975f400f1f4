"""Who reaches which lead: a matrix generated from the servicer's declarations (every RPC declared
Scope.RECORD × every reach × a lead in scope, out of scope, and with the caller's claim missing),
through the real gRPC API on SQLite and PostgreSQL; and the issue's regression cases (OWASP API1)."""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable
from typing import Any

import grpc
import pytest

from crm.lead.v1 import lead_pb2
from crm.lead.v1 import lead_service_pb2 as svc
from crm_common.testing import ScopeCase, bearer, reached, scope_matrix, scoped_rpcs
from crm_lead.entrypoints.grpc_api import PERMISSIONS

ADMIN = bearer("admin-1", ["admin"])
MARKETING = bearer("mkt-1", ["marketing"])
CASES = scope_matrix(PERMISSIONS, {"team", "branch", "territory"})


def rid() -> str:
    return str(uuid.uuid4())


def place(app: Any, placement: dict[str, str]) -> str:
    """An MQL lead, assigned (by an admin) where the case says."""
    phone = f"091{random.randint(1_000_000, 9_999_999)}"
    lead = app.stub.CreateLead(
        svc.CreateLeadRequest(request_id=rid(), lead=app.lead_input(phone=phone, email=f"{phone}@example.com")), metadata=MARKETING
    )
    lead_id = str(lead.lead.lead_id)
    where = {"branch_id": placement.get("branch", ""), "territory_id": placement.get("territory", "")}
    if placement.get("team"):
        app.stub.SetTeamMembers(
            svc.SetTeamMembersRequest(request_id=rid(), team_id=placement["team"], member_ids=[placement["owner"]]), metadata=ADMIN
        )
        app.stub.AssignLead(svc.AssignLeadRequest(request_id=rid(), lead_id=lead_id, team_id=placement["team"], **where), metadata=ADMIN)
    else:
        app.stub.AssignLead(svc.AssignLeadRequest(request_id=rid(), lead_id=lead_id, owner_id=placement["owner"], **where), metadata=ADMIN)
    return lead_id


def answered(call: Callable[[], Any]) -> bool:
    """True when the call reached the lead (any answer but NOT_FOUND: a refused move still saw it)."""
    return reached(call, (grpc.StatusCode.FAILED_PRECONDITION, grpc.StatusCode.PERMISSION_DENIED))


def listed(app: Any, lead_id: str, caller: Any, **where: Any) -> bool:
    found = app.stub.ListLeads(svc.ListLeadsRequest(**where), metadata=caller).leads
    return lead_id in {lead.lead_id for lead in found}


# RPC → does the caller reach the lead? (one probe per RPC declared Scope.RECORD)
PROBES: dict[str, Callable[[Any, str, Any], bool]] = {
    "GetLead": lambda app, lead_id, who: answered(lambda: app.stub.GetLead(svc.GetLeadRequest(lead_id=lead_id), metadata=who)),
    "ListLeads": lambda app, lead_id, who: listed(app, lead_id, who),
    "RecordBehaviour": lambda app, lead_id, who: answered(
        lambda: app.stub.RecordBehaviour(
            svc.RecordBehaviourRequest(request_id=rid(), lead_id=lead_id, behaviour=lead_pb2.BEHAVIOUR_TYPE_PRICING_VIEW), metadata=who
        )
    ),
    "AssignLead": lambda app, lead_id, who: answered(
        lambda: app.stub.AssignLead(svc.AssignLeadRequest(request_id=rid(), lead_id=lead_id, owner_id="scope-caller"), metadata=who)
    ),
    "RecordContactAttempt": lambda app, lead_id, who: answered(
        lambda: app.stub.RecordContactAttempt(
            svc.RecordContactAttemptRequest(
                request_id=rid(), lead_id=lead_id, channel=lead_pb2.CONTACT_CHANNEL_PHONE, outcome=lead_pb2.CONTACT_OUTCOME_REACHED
            ),
            metadata=who,
        )
    ),
    "QualifyLead": lambda app, lead_id, who: answered(
        lambda: app.stub.QualifyLead(svc.QualifyLeadRequest(request_id=rid(), lead_id=lead_id), metadata=who)
    ),
    "DisqualifyLead": lambda app, lead_id, who: answered(
        lambda: app.stub.DisqualifyLead(
            svc.DisqualifyLeadRequest(request_id=rid(), lead_id=lead_id, reason=lead_pb2.DISQUALIFICATION_REASON_NOT_INTERESTED), metadata=who
        )
    ),
    "ReturnToNurture": lambda app, lead_id, who: answered(
        lambda: app.stub.ReturnToNurture(svc.ReturnToNurtureRequest(request_id=rid(), lead_id=lead_id), metadata=who)
    ),
    "ConvertLead": lambda app, lead_id, who: answered(
        lambda: app.stub.ConvertLead(svc.ConvertLeadRequest(request_id=rid(), lead_id=lead_id), metadata=who)
    ),
}


def test_every_rpc_declared_record_scoped_has_a_probe() -> None:
    assert set(PROBES) == set(scoped_rpcs(PERMISSIONS))


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_matrix(app, case: ScopeCase) -> None:
    lead_id = place(app, case.placement)
    assert PROBES[case.rpc](app, lead_id, case.caller(PERMISSIONS[case.rpc].permission)) is case.expect_reached


RM_A, RM_B = bearer("rm-a", ["rm"]), bearer("rm-b", ["rm"])


def test_rm_a_reaches_none_of_rm_b_s_leads(app) -> None:
    """OWASP API1 as the issue found it: rm-a read, listed, qualified and converted rm-b's leads.
    Now each is NOT_FOUND (no existence leak) or an empty list, and nothing is written."""
    lead_id = place(app, {"owner": "rm-b"})
    app.stub.RecordContactAttempt(
        svc.RecordContactAttemptRequest(
            request_id=rid(), lead_id=lead_id, channel=lead_pb2.CONTACT_CHANNEL_PHONE, outcome=lead_pb2.CONTACT_OUTCOME_REACHED
        ),
        metadata=RM_B,
    )
    outbox_before = app.outbox_types()
    calls = [
        lambda: app.stub.GetLead(svc.GetLeadRequest(lead_id=lead_id), metadata=RM_A),
        lambda: app.stub.QualifyLead(svc.QualifyLeadRequest(request_id=rid(), lead_id=lead_id), metadata=RM_A),
        lambda: app.stub.ConvertLead(svc.ConvertLeadRequest(request_id=rid(), lead_id=lead_id), metadata=RM_A),
    ]
    for call in calls:
        with pytest.raises(grpc.RpcError) as err:
            call()
        assert err.value.code() == grpc.StatusCode.NOT_FOUND
        assert err.value.details() == f"lead '{lead_id}' not found"  # the same words as for an id that never existed
    assert app.stub.ListLeads(svc.ListLeadsRequest(owner_id="rm-b"), metadata=RM_A).leads == []
    assert app.outbox_types() == outbox_before and app.opportunities.by_request == {}
    assert [x.lead_id for x in app.stub.ListLeads(svc.ListLeadsRequest(owner_id="rm-b"), metadata=RM_B).leads] == [lead_id]


def test_a_manager_assigns_within_its_scope_only(app) -> None:
    manager = bearer("sm-1", ["sales_manager"], teams=["team-a"])
    queued = app.stub.CreateLead(svc.CreateLeadRequest(request_id=rid(), lead=app.lead_input()), metadata=MARKETING).lead.lead_id
    app.stub.SetTeamMembers(svc.SetTeamMembersRequest(request_id=rid(), team_id="team-a", member_ids=["rm-a"]), metadata=manager)
    app.stub.SetTeamMembers(svc.SetTeamMembersRequest(request_id=rid(), team_id="team-z", member_ids=["rm-z"]), metadata=ADMIN)
    # The unassigned queue is the manager's to distribute; into its own team only.
    with pytest.raises(grpc.RpcError) as err:
        app.stub.AssignLead(svc.AssignLeadRequest(request_id=rid(), lead_id=queued, team_id="team-z"), metadata=manager)
    assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assigned = app.stub.AssignLead(svc.AssignLeadRequest(request_id=rid(), lead_id=queued, team_id="team-a"), metadata=manager).lead
    assert (assigned.assignment.owner_id, assigned.assignment.team_id) == ("rm-a", "team-a")
    # Another team's lead is not there at all.
    theirs = place(app, {"owner": "rm-z", "team": "team-z"})
    with pytest.raises(grpc.RpcError) as err:
        app.stub.AssignLead(svc.AssignLeadRequest(request_id=rid(), lead_id=theirs, owner_id="rm-a"), metadata=manager)
    assert err.value.code() == grpc.StatusCode.NOT_FOUND


def test_territory_scope_takes_the_subtree_and_escapes_like_patterns(app) -> None:
    below = place(app, {"owner": "rm-b", "territory": "VN.NORTH.HN.B01"})
    sibling = place(app, {"owner": "rm-c", "territory": "VN.NORTHWEST"})
    underscore = place(app, {"owner": "rm-d", "territory": "VNXNORTH.HN"})
    head = bearer("head-north", ["regional_head"], territories=["VN.NORTH"])
    seen = {x.lead_id for x in app.stub.ListLeads(svc.ListLeadsRequest(), metadata=head).leads}
    assert below in seen and sibling not in seen and underscore not in seen
    # "_" in a claimed territory is a character, not LIKE's wildcard.
    wildcard = bearer("head-x", ["regional_head"], territories=["VN_NORTH"])
    assert app.stub.ListLeads(svc.ListLeadsRequest(), metadata=wildcard).leads == []

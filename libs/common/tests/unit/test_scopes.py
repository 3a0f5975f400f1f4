"""Data scopes (crm_common.auth.scopes): the reach of roles and claims, the SQL condition and its
in-memory twin `covers`, which must agree on every record."""

from __future__ import annotations

import itertools

import pytest
from sqlalchemy import Column, MetaData, String, Table, create_engine, insert, select

from crm_common.auth import DataScope, Principal, Reach
from crm_common.auth.tokens import TokenVerifier, issue_token
from crm_common.errors import Unauthenticated
from crm_common.settings import DEV_JWT_KEY

IDS = {"owner": ("me", "you"), "team": ("t1", "t2", ""), "branch": ("b1", "b2", ""), "territory": ("VN.N", "VN.N.HN", "VN.NW", "VN_N.X", "")}


def scope_of(roles: tuple[str, ...], **claims: tuple[str, ...]) -> DataScope:
    return DataScope.of(Principal("me", roles, **claims))


def test_roles_reach_as_far_as_their_claims_and_no_further() -> None:
    assert scope_of(("rm",)).reaches == {Reach.OWN}
    assert scope_of(("sales_manager", "branch_manager"), teams=("t1",)).reaches == {Reach.OWN, Reach.TEAM, Reach.BRANCH}
    assert scope_of(("admin",)).everything and scope_of(("service",)).everything
    assert not scope_of(()).everything and scope_of(("unknown-role",)).reaches == {Reach.OWN}
    # A team reach without a team claim: its own book only (fail closed).
    assert not scope_of(("sales_manager",)).covers(team_id="t1")
    # A claim without the reach is ignored.
    assert not scope_of(("rm",), teams=("t1",)).covers(team_id="t1")


@pytest.mark.parametrize(
    "scope",
    [
        scope_of(("rm",)),
        scope_of(("sales_manager",), teams=("t1",)),
        scope_of(("branch_manager",), branches=("b1",)),
        scope_of(("regional_head",), territories=("VN.N",)),
        scope_of(("regional_head",), territories=("VN_N",)),
        scope_of(("sales_manager", "regional_head"), teams=("t2",), territories=("VN.N.HN",)),
        scope_of(("admin",)),
        DataScope("me", frozenset({Reach.OWN}), unassigned=True),
    ],
    ids=lambda s: f"{sorted(s.reaches)}-{s.teams}{s.branches}{s.territories}{'-queue' if s.unassigned else ''}",
)
def test_the_sql_condition_and_covers_agree_on_every_record(scope: DataScope) -> None:
    metadata = MetaData()
    records = Table("records", metadata, *(Column(name, String(20)) for name in ("id", "owner", "team", "branch", "territory")))
    engine = create_engine("sqlite://")
    metadata.create_all(engine)
    rows = [dict(zip(("owner", "team", "branch", "territory"), combo, strict=True)) for combo in itertools.product(*IDS.values())]
    rows += [{"owner": "", "team": "", "branch": "", "territory": ""}]
    with engine.begin() as conn:
        conn.execute(insert(records), [{"id": str(i), **row} for i, row in enumerate(rows)])
        c = records.c
        found = set(conn.scalars(select(c.id).where(scope.condition(owner=c.owner, team=c.team, branch=c.branch, territory=c.territory))))
    expected = {str(i) for i, row in enumerate(rows) if scope.covers(row["owner"], row["team"], row["branch"], row["territory"])}
    assert found == expected


def test_a_territory_includes_its_subtree_only() -> None:
    north = scope_of(("regional_head",), territories=("VN.N",))
    assert north.covers(territory_id="VN.N") and north.covers(territory_id="VN.N.HN.B01")
    assert not north.covers(territory_id="VN.NW") and not north.covers(territory_id="VN")
    assert not scope_of(("regional_head",), territories=("VN_N",)).covers(territory_id="VN.N.HN")


def test_tokens_carry_teams_branches_and_territories_under_configurable_claims() -> None:
    verifier = TokenVerifier(DEV_JWT_KEY, "HS256", "crm-dev", "crm", teams_claim="grp", territories_claim="region")
    token = issue_token("sm-1", ["sales_manager"], DEV_JWT_KEY, teams=["t1"], territories=["VN.N"], claim_names=("grp", "branches", "region"))
    principal = verifier.verify(token)
    assert (principal.teams, principal.branches, principal.territories) == (("t1",), (), ("VN.N",))
    # The default claim names are not read when others are configured.
    assert verifier.verify(issue_token("x", ["sales_manager"], DEV_JWT_KEY, teams=["t1"])).teams == ()
    with pytest.raises(Unauthenticated, match="'teams' must be a list"):
        TokenVerifier(DEV_JWT_KEY, "HS256", "crm-dev", "crm").verify(_token_with(teams={"t": 1}))


def _token_with(**claims: object) -> str:
    import time

    import jwt

    now = int(time.time())
    return jwt.encode(
        {"sub": "x", "roles": [], "iss": "crm-dev", "aud": "crm", "iat": now, "exp": now + 60, **claims}, DEV_JWT_KEY, algorithm="HS256"
    )

"""The opportunity service's grants in the suite's role table (its registry entry, crm_opportunity/service.py)."""

from __future__ import annotations

from crm_common.auth.roles import role_permissions
from crm_opportunity.service import SERVICE

_SALES = {"opportunities.read", "opportunities.write"}
_MANAGER = _SALES | {"opportunities.reassign"}
EXPECTED = {
    "rm": _SALES,
    "sales_manager": _MANAGER,
    "branch_manager": _MANAGER,
    "regional_head": _MANAGER,
    "service": _SALES | {"opportunities.los_decision"},
    "admin": _MANAGER,
}


def test_each_role_gets_these_opportunity_permissions() -> None:
    own = {p.name for p in SERVICE.permissions}
    table = {role: granted & own for role, granted in role_permissions().items() if granted & own}
    assert table == EXPECTED


def test_the_servicer_checks_only_declared_permissions() -> None:
    from crm_opportunity.entrypoints.grpc_api import PERMISSIONS

    assert {a.permission for a in PERMISSIONS.values() if a.permission} <= {p.name for p in SERVICE.permissions}

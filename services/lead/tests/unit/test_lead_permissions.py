"""The lead service's grants in the suite's role table (its registry entry, crm_lead/service.py)."""

from __future__ import annotations

from crm_common.auth.roles import role_permissions
from crm_lead.service import SERVICE

_MANAGER = {
    "leads.read",
    "leads.contact",
    "leads.qualify",
    "leads.convert",
    "leads.assign",
    "teams.manage",
    "leads.write",
    "leads.read_all",
}
EXPECTED = {
    "marketing": {"leads.read", "leads.read_all", "leads.write", "leads.import"},
    "web_capture": {"leads.write"},
    "telesales": {"leads.read", "leads.contact", "leads.qualify"},
    "rm": {"leads.read", "leads.contact", "leads.qualify", "leads.convert"},
    "sales_manager": _MANAGER,
    "branch_manager": _MANAGER,
    "regional_head": _MANAGER,
    "service": {"leads.read", "leads.contact", "leads.qualify", "leads.convert", "leads.write", "leads.assign", "leads.read_all"},
    "admin": {"leads.read", "leads.contact", "leads.qualify", "leads.convert", "leads.write", "leads.import", "leads.assign", "teams.manage"},
}


def test_each_role_gets_these_lead_permissions() -> None:
    own = {p.name for p in SERVICE.permissions}
    table = {role: granted & own for role, granted in role_permissions().items() if granted & own}
    assert table == EXPECTED


def test_the_servicer_checks_only_declared_permissions() -> None:
    from crm_lead.entrypoints.grpc_api import PERMISSIONS

    assert {a.permission for a in PERMISSIONS.values() if a.permission} <= {p.name for p in SERVICE.permissions}

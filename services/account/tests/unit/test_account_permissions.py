"""The account service's grants in the suite's role table (its registry entry, crm_account/service.py)."""

from __future__ import annotations

from crm_account.service import SERVICE
from crm_common.auth.roles import PII_READ, role_permissions

_TELESALES = {"accounts.read", "consents.read", "consents.write"}
_RM = _TELESALES | {"accounts.write"}
EXPECTED = {
    "marketing": {"consents.read"},
    "telesales": _TELESALES,
    "rm": _RM,
    "sales_manager": _RM | {"accounts.tier", "accounts.reassign"},
    "branch_manager": _RM | {"accounts.tier", "accounts.reassign"},
    "regional_head": _RM | {"accounts.tier", "accounts.reassign"},
    "service": _RM | {"kyc.write", "holdings.import"},
    "compliance": {"accounts.read", "kyc.write", "kyc.review", "consents.read"},
    "data_steward": {"accounts.read", "accounts.write", "accounts.merge"},
    "privacy_officer": {"accounts.read", "privacy.manage"},
    "admin": _RM | {"accounts.tier", "holdings.import", "accounts.merge", "accounts.reassign"},
}


def test_each_role_gets_these_account_permissions() -> None:
    own = {p.name for p in SERVICE.permissions}
    table = {role: granted & own for role, granted in role_permissions().items() if granted & own}
    assert table == EXPECTED


def test_the_servicer_checks_only_declared_permissions() -> None:
    from crm_account.entrypoints.grpc_api import PERMISSIONS

    assert {a.permission for a in PERMISSIONS.values() if a.permission} <= {p.name for p in SERVICE.permissions} | {PII_READ}

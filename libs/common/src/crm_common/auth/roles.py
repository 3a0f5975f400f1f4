"""The bank's roles and the permissions each grants: the one table every service reads.

Permissions are `<resource>.<verb>`; each RPC names the one it needs in its servicer's
`PERMISSIONS` map. Each service declares its own permissions, and what each role gets of them,
in its registry entry (`crm_<service>/service.py`); the table is those grants together with the
platform's own below. Tokens may also carry extra permissions in a space-separated `scope`
claim (machine clients such as the web-form backend).

Each role also has a reach (`ROLE_REACH`), a platform concept: how far its data scope extends
beyond the caller's own book, in every service (crm_common.auth.scopes, docs/security.md#data-scopes).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from functools import cache

from crm_common.auth.scopes import Reach
from crm_common.registry import Permission, RegistryError, ServiceDefinition, services

# Seeing national ids, phones and emails unmasked, in any service.
PII_READ = "pii.read"
# A person's data in every service that holds it, for a data-subject export (crm_common.privacy):
# the account service forwards the privacy officer's token to each participant.
PERSONAL_DATA_EXPORT = "personal_data.export"
# Querying the audit log: who touched a customer's data, and when (every service serves
# crm.audit.v1.AuditService over its own log).
AUDIT_READ = "audit.read"
# The role the suite's services act under (recovery loops, event consumers).
SERVICE_ROLE = "service"

PLATFORM_PERMISSIONS = (
    Permission(PII_READ, "see national ids, phones and emails unmasked"),
    Permission(PERSONAL_DATA_EXPORT, "read a person's data in every service, for their data-subject export"),
    Permission(AUDIT_READ, "query the audit log: who called what on a customer's data, and when"),
)
PLATFORM_GRANTS: Mapping[str, frozenset[str]] = {
    **{role: frozenset({PII_READ}) for role in ("rm", "sales_manager", "branch_manager", "regional_head", SERVICE_ROLE, "data_steward", "admin")},
    "privacy_officer": frozenset({PII_READ, PERSONAL_DATA_EXPORT}),
    "compliance": frozenset({PII_READ, AUDIT_READ}),
}

# How far each role sees beyond the caller's own book; several roles: the widest union. A role
# not listed reaches its own book only (web_capture: its captures are declared bank-wide).
# branch_manager and regional_head hold a sales manager's permissions over a wider scope.
ROLE_REACH: Mapping[str, Reach] = {
    "telesales": Reach.OWN,
    "rm": Reach.OWN,
    "web_capture": Reach.OWN,
    "sales_manager": Reach.TEAM,
    "branch_manager": Reach.BRANCH,
    "regional_head": Reach.TERRITORY,
    # Marketing works every lead (its permissions reach leads and consents; PII stays masked).
    "marketing": Reach.ALL,
    "compliance": Reach.ALL,
    "privacy_officer": Reach.ALL,
    "data_steward": Reach.ALL,
    SERVICE_ROLE: Reach.ALL,
    "admin": Reach.ALL,
}


def role_table(definitions: Iterable[ServiceDefinition]) -> dict[str, frozenset[str]]:
    """The platform's grants together with each service's; a service may not redeclare a
    permission another service or the platform already declares."""
    owners = {p.name: "the platform" for p in PLATFORM_PERMISSIONS}
    table: dict[str, set[str]] = {role: set(granted) for role, granted in PLATFORM_GRANTS.items()}
    for definition in definitions:
        for permission in definition.permissions:
            owner = owners.setdefault(permission.name, definition.name)
            if owner != definition.name:
                raise RegistryError(f"permission {permission.name} is declared by {owner} and by {definition.name}")
        for role, granted in definition.grants.items():
            table.setdefault(role, set()).update(granted)
    return {role: frozenset(granted) for role, granted in sorted(table.items())}


@cache
def role_permissions() -> dict[str, frozenset[str]]:
    """Role -> permissions over the installed services (computed once per process)."""
    return role_table(services())


def permissions_for(roles: list[str], scope: str = "") -> frozenset[str]:
    granted: set[str] = set(scope.split()) if scope else set()
    table = role_permissions()
    for role in roles:
        granted |= table.get(role, frozenset())
    return frozenset(granted)


def __getattr__(name: str) -> object:
    # ROLE_PERMISSIONS reads the registry: computed on first use, not at import.
    if name == "ROLE_PERMISSIONS":
        return role_permissions()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

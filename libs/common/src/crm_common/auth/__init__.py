"""Authentication (bearer JWT) and authorisation (role → permission) for every service."""

from crm_common.auth.principal import Principal, current_principal, use_principal
from crm_common.auth.roles import permissions_for, role_permissions
from crm_common.auth.scopes import Access, DataScope, Reach, Scope, current_data_scope, use_data_scope
from crm_common.auth.tokens import TokenVerifier, issue_token

__all__ = [
    "Access",
    "DataScope",
    "Principal",
    "Reach",
    "Scope",
    "TokenVerifier",
    "current_data_scope",
    "current_principal",
    "issue_token",
    "permissions_for",
    "role_permissions",
    "use_data_scope",
    "use_principal",
]

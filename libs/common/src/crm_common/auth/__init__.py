"""Authentication (bearer JWT) and authorisation (role → permission) for every service."""

from crm_common.auth.principal import Principal, current_principal, use_principal
from crm_common.auth.roles import ROLE_PERMISSIONS
from crm_common.auth.scopes import Access, DataScope, Reach, Scope, current_data_scope, use_data_scope
from crm_common.auth.tokens import TokenVerifier, issue_token

__all__ = [
    "ROLE_PERMISSIONS",
    "Access",
    "DataScope",
    "Principal",
    "Reach",
    "Scope",
    "TokenVerifier",
    "current_data_scope",
    "current_principal",
    "issue_token",
    "use_data_scope",
    "use_principal",
]

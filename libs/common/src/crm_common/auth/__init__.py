"""Authentication (bearer JWT) and authorisation (role → permission) for every service."""

from crm_common.auth.principal import Principal, current_principal, use_principal
from crm_common.auth.roles import permissions_for, role_permissions
from crm_common.auth.tokens import TokenVerifier, issue_token

__all__ = ["Principal", "TokenVerifier", "current_principal", "issue_token", "permissions_for", "role_permissions", "use_principal"]

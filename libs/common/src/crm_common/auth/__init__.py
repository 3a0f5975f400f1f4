"""Authentication (bearer JWT) and authorisation (role → permission) for every service."""

from crm_common.auth.principal import Principal, current_principal, use_principal
from crm_common.auth.roles import ROLE_PERMISSIONS
from crm_common.auth.tokens import TokenVerifier, issue_token

__all__ = ["ROLE_PERMISSIONS", "Principal", "TokenVerifier", "current_principal", "issue_token", "use_principal"]

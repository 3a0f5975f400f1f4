"""`crm-account`: the subcommands its registry entry gives it (api|worker|migrate|health|dlq|pii)."""

from __future__ import annotations

from crm_account.service import SERVICE
from crm_common.cli import ServiceCommand

main = ServiceCommand.from_definition(SERVICE).main

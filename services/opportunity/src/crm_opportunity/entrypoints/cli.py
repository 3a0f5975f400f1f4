"""`crm-opportunity`: the subcommands its registry entry gives it (api|worker|migrate|health|dlq|pii)."""

from __future__ import annotations

from crm_common.cli import ServiceCommand
from crm_opportunity.service import SERVICE

main = ServiceCommand.from_definition(SERVICE).main

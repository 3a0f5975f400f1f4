"""`crm-territory-quota`: the subcommands its registry entry gives it (api|migrate|health|...)."""

from __future__ import annotations

from crm_common.cli import ServiceCommand
from crm_territory.service import SERVICE

main = ServiceCommand.from_definition(SERVICE).main

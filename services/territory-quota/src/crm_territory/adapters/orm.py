"""The territory-quota service's tables (SQLAlchemy Core), beside the platform's outbox/inbox/idempotency."""

from __future__ import annotations

from crm_common.db import new_metadata

metadata = new_metadata()

import crm_territory.adapters.territory_tables  # noqa: E402, F401  (the territory half's tables)

# The quota half's tables, on this metadata.
from crm_territory.adapters import quota_tables  # noqa: E402,F401

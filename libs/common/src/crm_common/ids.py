"""Record ids: canonical lower-case UUID strings (crm_common.db.new_id makes them). Light, so a
service's domain layer can check an id without the database plumbing."""

from __future__ import annotations

import uuid


def is_valid_id(value: str) -> bool:
    """Whether `value` is an id as the suite writes them (not merely something uuid would parse)."""
    try:
        return str(uuid.UUID(value)) == value
    except ValueError:
        return False

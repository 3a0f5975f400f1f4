"""The reply every service holding copies of a person's data gives to the account service's
ErasureRequested, once it has anonymised them (docs/account.md, data-subject rights)."""

from __future__ import annotations

from crm.common.v1.common_pb2 import ErasureConfirmed
from crm_common.db import utcnow
from crm_common.events.envelope import new_event

# What every service puts where an erased person's name was.
ERASED_NAME = "(erased)"


def erasure_confirmed(service: str, erasure_id: str, account_id: str, records_anonymised: int, correlation_id: str = "") -> ErasureConfirmed:
    """Published on `service`'s own exchange (routing key ErasureConfirmed)."""
    return new_event(
        ErasureConfirmed,
        service,
        correlation_id,
        utcnow(),
        erasure_id=erasure_id,
        account_id=account_id,
        service=service,
        records_anonymised=records_anonymised,
    )

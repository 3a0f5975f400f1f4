"""The audit record of the call being served, kept in a context variable for the duration of the
call: the interceptor opens it, authentication names the caller, the unit of work commits it
with the call's change."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from crm_common.auth.principal import Principal

# The request metadata header in which a caller states why it calls (a purpose code).
PURPOSE_HEADER = "x-crm-purpose"
# A call naming more objects than this (a bulk import's results) records the first ones only.
MAX_OBJECT_IDS = 1000
# The audit_log columns' sizes: a caller's odd token or id never makes its call fail.
MAX_NAME = 200
# Control characters (NUL cannot be stored in PostgreSQL text or JSONB at all) become U+FFFD.
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _storable(value: str) -> str:
    """A caller's string as the log can always store it: cut to the column, no control characters
    (a request refused for holding them is still recorded)."""
    return _CONTROL.sub("\ufffd", value[:MAX_NAME])


@dataclass
class AuditRecord:
    service: str
    rpc: str
    occurred_at: datetime
    trace_id: str = ""
    purpose: str = ""
    # Ids the request names (crm_common.grpc.audit extracts them).
    object_ids: list[str] = field(default_factory=list)
    # The caller, once its token is verified; empty for an unauthenticated call (not recorded).
    subject: str = ""
    roles: tuple[str, ...] = ()
    client_id: str = ""
    # Set once the row has committed with the call's change.
    written: bool = False

    def row(self, outcome: str, more_ids: Iterable[str] = ()) -> dict[str, Any]:
        """The audit_log row of this call with `outcome` (a gRPC status code name)."""
        ids = list(dict.fromkeys(_storable(i) for i in [*self.object_ids, *more_ids]))[:MAX_OBJECT_IDS]
        return {
            "occurred_at": self.occurred_at,
            "subject": _storable(self.subject),
            "roles": [_storable(r) for r in self.roles],
            "client_id": _storable(self.client_id),
            "service": self.service,
            "rpc": _storable(self.rpc),
            "object_ids": ids,
            "outcome": outcome,
            "trace_id": self.trace_id,
            "purpose": self.purpose,
        }


_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.IGNORECASE)


def generated_ids(*refs: str) -> list[str]:
    """The ids the suite generated (UUIDs) in idempotency results: a mutating call's result names
    what it created or changed, alone ("<lead id>") or with more ("<account id>:CREATED"), or is
    a marker that is no object ("removed")."""
    return [found for ref in refs for found in _UUID.findall(ref)]


_current: ContextVar[AuditRecord | None] = ContextVar("crm_audit_record", default=None)


def current_record() -> AuditRecord | None:
    """The audit record of the call being served, or None (an event, a background job, no audit)."""
    return _current.get()


@contextlib.contextmanager
def recording(record: AuditRecord) -> Iterator[AuditRecord]:
    token = _current.set(record)
    try:
        yield record
    finally:
        _current.reset(token)


def identify(principal: Principal) -> None:
    """Names the verified caller on the call's record (before its permission is checked, so a
    refused call is recorded with who tried)."""
    record = _current.get()
    if record is not None:
        record.subject = principal.subject
        record.roles = principal.roles
        record.client_id = principal.client_id

"""The tamper-evident audit log: who called what on which objects, when, why, with what outcome.

Every authenticated call that reaches a servicer is recorded in the service's `audit_log` table
(a platform table). A call that commits a change records its row in the same transaction
(`crm_common.unit_of_work`); any other call (a read, a refusal, an error) is appended right
after it by a buffered writer. A sealer then hash-chains the committed rows in the order it
sees them, and `crm-<service> audit verify` walks the chain and names the first broken link.
See docs/security.md#audit-log.

`record` imports neither gRPC nor SQLAlchemy: the interceptors (also in the API of a service
without a database) and the unit of work (also in event workers) read the call's record
through it. The chain is in `chain`, the process's writer, sealer and query in `trail`.
"""

from crm_common.audit.record import PURPOSE_HEADER, AuditRecord, current_record, identify, recording

__all__ = ["PURPOSE_HEADER", "AuditRecord", "current_record", "identify", "recording"]

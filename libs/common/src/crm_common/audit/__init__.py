"""The tamper-evident audit log: who called what on which objects, when, why, with what outcome.

Every authenticated call that reaches a servicer is recorded in the service's `audit_log` table
(a platform table). A call that commits a change records its row in the same transaction
(`crm_common.unit_of_work`); any other call (a read, a refusal, an error) is appended right
after it by a buffered writer. A sealer then hash-chains the committed rows in the order it
sees them, and `crm-<service> audit verify` walks the chain and names the first broken link.
See docs/security.md#audit-log.

`record` and `chain` import neither gRPC nor protobuf: the unit of work, which event workers use
too, reads the call's record through `record`.
"""

from crm_common.audit.chain import BrokenLink, Verification, seal, verify
from crm_common.audit.record import PURPOSE_HEADER, AuditRecord, current_record, identify, recording

__all__ = ["PURPOSE_HEADER", "AuditRecord", "BrokenLink", "Verification", "current_record", "identify", "recording", "seal", "verify"]

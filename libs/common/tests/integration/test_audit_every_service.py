"""Every service of the registry that has a database gets the audit log from the platform: its
`migrate` builds the table (platform_0004), its API records calls and serves
crm.audit.v1.AuditService, and `crm-<service> audit verify` walks its chain. On SQLite and
PostgreSQL, with no code of the service's own."""

from __future__ import annotations

from pathlib import Path

import grpc
import pytest

from crm.audit.v1 import audit_service_pb2 as audit_svc
from crm.audit.v1 import audit_service_pb2_grpc
from crm_common.cli import audit_command
from crm_common.db import new_metadata
from crm_common.migrations import current_heads, platform_head
from crm_common.registry import ServiceDefinition, services
from crm_common.testing import BACKENDS, bearer, live_service, schema_of

WITH_DATABASE = [d for d in services() if d.database]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("definition", WITH_DATABASE, ids=[d.name for d in WITH_DATABASE])
def test_the_service_keeps_and_serves_its_audit_log(
    definition: ServiceDefinition, backend: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with live_service(backend, tmp_path, definition, metadata=new_metadata(), prefix=f"audit_{definition.name}") as live:
        assert platform_head() in current_heads(live.database_url)
        # The table as the code declares it (each service's migration tests check its whole schema).
        columns = [c["name"] for c in schema_of(live.database_url)["audit_log"]["columns"]]
        assert columns == [c.name for c in new_metadata().tables["audit_log"].columns]

        stub = audit_service_pb2_grpc.AuditServiceStub(live.channel)
        with pytest.raises(grpc.RpcError) as denied:
            stub.QueryAuditLog(audit_svc.QueryAuditLogRequest(object_id="acc-1"), metadata=bearer("rm-a", ["rm"]))
        assert denied.value.code() == grpc.StatusCode.PERMISSION_DENIED
        assert live.server.audit is not None
        live.server.audit.flush()
        reply = stub.QueryAuditLog(audit_svc.QueryAuditLogRequest(object_id="acc-1"), metadata=bearer("cmp-1", ["compliance"]))
        assert [(e.service, e.subject, e.outcome) for e in reply.entries] == [(definition.name, "rm-a", "PERMISSION_DENIED")]

        live.server.audit.flush()
        assert audit_command(definition.name, live.settings, "verify") == 0
        assert f"{definition.name}: audit log OK: 2 row(s) chained" in capsys.readouterr().out

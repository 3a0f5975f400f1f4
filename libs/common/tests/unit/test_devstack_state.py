"""`make down` and `make status` read the state `make up` wrote, also a state written before the
relay process existed (no relay metrics port): an upgrade must not strand running processes."""

from __future__ import annotations

import json
from pathlib import Path

from crm_common.devstack import RunningProcess, ServiceSpec, Stack


def test_a_state_written_before_the_relay_process_still_loads(tmp_path: Path) -> None:
    older = {
        "amqp_uri": "amqp://guest:guest@127.0.0.1:5672/%2F",
        "specs": [
            {"name": "lead", "grpc_port": 50051, "metrics_port": 9101, "worker_metrics_port": 9201, "database_url": "sqlite:///x.db", "env": {}}
        ],
        "processes": [{"service": "lead", "role": "api", "pid": 4242, "log": "lead-api.log"}],
    }
    (tmp_path / "stack.json").write_text(json.dumps(older))
    stack = Stack.load(tmp_path)
    assert stack is not None
    assert stack.specs == [ServiceSpec("lead", 50051, 9101, 9201, 0, "sqlite:///x.db")]
    assert stack.processes == [RunningProcess("lead", "api", 4242, "lead-api.log")]


def test_the_state_round_trips(tmp_path: Path) -> None:
    spec = ServiceSpec("lead", 50051, 9101, 9201, 9491, "sqlite:///x.db", {"LOG_LEVEL": "INFO"})
    stack = Stack([spec], "amqp://guest:guest@127.0.0.1:5672/%2F", tmp_path)
    stack.processes = [RunningProcess("lead", "relay", 4243, "lead-relay.log")]
    stack.save()
    loaded = Stack.load(tmp_path)
    assert loaded is not None
    assert (loaded.specs, loaded.processes) == ([spec], stack.processes)

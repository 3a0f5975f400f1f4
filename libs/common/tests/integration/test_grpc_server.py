"""The server bootstrap every service uses, through a real grpcio server on loopback:
graceful drain, RED metrics, error mapping, deadline propagation, fail-closed permissions."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from crm_common import errors
from crm_common.auth import Access, Scope
from crm_common.grpc import call_context
from crm_common.grpc.client import PropagatingInterceptor
from crm_common.grpc.server import GrpcServer, ServiceBinding
from crm_common.observability import metrics
from crm_common.settings import ServiceSettings
from crm_common.testing import bearer, wait_until

SERVICE = "crm.test.v1.ProbeService"
METHODS = ["Slow", "Fail", "Boom", "Deadline"]
OPEN = Access(None, Scope.NONE)


class Probe:
    """A tiny service with raw-bytes methods, so the test needs no generated code."""

    def __init__(self) -> None:
        self.started = threading.Event()
        self.seen_deadline: float | None = None

    def slow(self, request: bytes, context: grpc.ServicerContext) -> bytes:
        self.started.set()
        time.sleep(0.5)
        return b"done"

    def fail(self, request: bytes, context: grpc.ServicerContext) -> bytes:
        raise errors.InvalidArgument([errors.FieldViolation("name", "required")])

    def boom(self, request: bytes, context: grpc.ServicerContext) -> bytes:
        raise RuntimeError("secret internals")

    def deadline(self, request: bytes, context: grpc.ServicerContext) -> bytes:
        self.seen_deadline = call_context.remaining_seconds()
        return b"ok"


def add_probe(probe: Probe, server: grpc.Server) -> None:
    identity = (lambda b: b, lambda b: b)
    handlers = {
        name: grpc.unary_unary_rpc_method_handler(getattr(probe, name.lower()), request_deserializer=identity[0], response_serializer=identity[1])
        for name in METHODS
    }
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(SERVICE, handlers),))


@pytest.fixture
def running() -> Iterator[tuple[GrpcServer, Probe, grpc.Channel]]:
    probe = Probe()
    binding = ServiceBinding(SERVICE, probe, add_probe, {m: OPEN for m in METHODS}, METHODS)
    server = GrpcServer(ServiceSettings(service_name="probe", grpc_port=0, grpc_grace_seconds=5), [binding])
    server.start()
    channel = grpc.insecure_channel(f"127.0.0.1:{server.port}")
    yield server, probe, channel
    channel.close()
    server.stop(grace=0)


def call(channel: grpc.Channel, method: str, timeout: float = 5.0) -> bytes:
    stub = channel.unary_unary(f"/{SERVICE}/{method}", request_serializer=lambda b: b, response_deserializer=lambda b: b)
    return stub(b"", metadata=bearer("probe", ["admin"]), timeout=timeout)  # type: ignore[no-any-return]


def test_sigterm_drain_finishes_in_flight_calls_and_refuses_new_ones(running) -> None:
    server, probe, channel = running
    results: list[bytes] = []
    worker = threading.Thread(target=lambda: results.append(call(channel, "Slow")))
    worker.start()
    assert probe.started.wait(5)
    stopper = threading.Thread(target=server.stop)
    stopper.start()
    time.sleep(0.1)
    health = health_pb2_grpc.HealthStub(channel)
    with pytest.raises(grpc.RpcError):  # no new calls once draining (health included)
        health.Check(health_pb2.HealthCheckRequest(), timeout=1)
    worker.join(5)
    stopper.join(10)
    assert results == [b"done"]


def test_sigterm_holds_readiness_not_serving_for_the_drain_while_calls_still_succeed() -> None:
    """The drain window: readiness NOT_SERVING (liveness SERVING) and calls answered for
    GRPC_DRAIN_SECONDS; then new calls are refused and the in-flight one finishes."""
    drain = 1.5
    probe = Probe()
    binding = ServiceBinding(SERVICE, probe, add_probe, {m: OPEN for m in METHODS}, METHODS)
    server = GrpcServer(ServiceSettings(service_name="probe", grpc_port=0, grpc_drain_seconds=drain, grpc_grace_seconds=5), [binding])
    server.start()
    channel = grpc.insecure_channel(f"127.0.0.1:{server.port}")
    health = health_pb2_grpc.HealthStub(channel)

    def status(name: str) -> int:
        return health.Check(health_pb2.HealthCheckRequest(service=name), timeout=1).status

    try:
        assert status(SERVICE) == health_pb2.HealthCheckResponse.SERVING
        began = time.monotonic()
        stopper = threading.Thread(target=server.shutdown)
        stopper.start()
        wait_until(lambda: status(SERVICE) == health_pb2.HealthCheckResponse.NOT_SERVING, timeout=1, what="readiness NOT_SERVING")
        answered = 0
        # Through the drain period (less a margin for the call itself): not ready, yet serving.
        while time.monotonic() - began < drain - 0.3:
            assert status(SERVICE) == health_pb2.HealthCheckResponse.NOT_SERVING
            assert status("") == health_pb2.HealthCheckResponse.SERVING  # alive: not restarted
            assert call(channel, "Deadline", timeout=1) == b"ok"
            answered += 1
            time.sleep(0.05)
        assert answered >= 10
        # The last call of the drain, still in flight when the server stops accepting.
        results: list[bytes] = []
        in_flight = threading.Thread(target=lambda: results.append(call(channel, "Slow")))
        in_flight.start()
        assert probe.started.wait(1) and time.monotonic() - began < drain
        wait_until(lambda: time.monotonic() - began > drain + 0.2, timeout=3, what="the drain to end")
        with pytest.raises(grpc.RpcError):
            call(channel, "Deadline", timeout=1)
        in_flight.join(5)
        stopper.join(10)
        assert results == [b"done"] and not stopper.is_alive()
    finally:
        channel.close()
        server.stop(grace=0)


def test_domain_errors_map_to_status_and_metrics_count_codes(running) -> None:
    _server, _probe, channel = running
    before = metrics.grpc_handled.labels(SERVICE, "Fail", "INVALID_ARGUMENT")._value.get()
    with pytest.raises(grpc.RpcError) as err:
        call(channel, "Fail")
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert metrics.grpc_handled.labels(SERVICE, "Fail", "INVALID_ARGUMENT")._value.get() == before + 1
    assert metrics.grpc_handling_seconds.labels(SERVICE, "Fail")._sum.get() > 0


def test_the_edge_is_composed_once_per_method_while_each_call_keeps_its_own_caller_and_deadline(running) -> None:
    server, probe, channel = running
    (edge,) = server.server._state.interceptor_pipeline.interceptors
    call(channel, "Deadline", timeout=2.0)
    composed = edge._handlers[f"/{SERVICE}/Deadline"]
    call(channel, "Deadline", timeout=8.0)
    assert edge._handlers[f"/{SERVICE}/Deadline"] is composed
    assert probe.seen_deadline is not None and 6.0 < probe.seen_deadline <= 8.1
    # Per call, not per method: a bad token after a good one is still refused.
    stub = channel.unary_unary(f"/{SERVICE}/Deadline", request_serializer=lambda b: b, response_deserializer=lambda b: b)
    with pytest.raises(grpc.RpcError) as err:
        stub(b"", metadata=[("authorization", "Bearer not-a-token")], timeout=5)
    assert err.value.code() == grpc.StatusCode.UNAUTHENTICATED
    # Unknown methods are answered UNIMPLEMENTED and never cached (the cache is bounded by the contract).
    unknown = channel.unary_unary(f"/{SERVICE}/Nope", request_serializer=lambda b: b, response_deserializer=lambda b: b)
    with pytest.raises(grpc.RpcError) as err:
        unknown(b"", metadata=bearer("probe", ["admin"]), timeout=5)
    assert err.value.code() == grpc.StatusCode.UNIMPLEMENTED
    assert f"/{SERVICE}/Nope" not in edge._handlers


def test_unexpected_errors_are_internal_without_leaking_details(running) -> None:
    _server, _probe, channel = running
    with pytest.raises(grpc.RpcError) as err:
        call(channel, "Boom")
    assert err.value.code() == grpc.StatusCode.INTERNAL
    assert "secret" not in (err.value.details() or "")
    assert "trace" in (err.value.details() or "")


def test_the_callers_deadline_reaches_the_handler_and_outgoing_calls(running) -> None:
    _server, probe, channel = running
    call(channel, "Deadline", timeout=2.0)
    assert probe.seen_deadline is not None and 1.0 < probe.seen_deadline <= 2.1  # grpc rounds up a little
    # An outgoing call made inside a call gets at most what is left of it.
    seen: dict[str, float] = {}

    def continuation(details, request):  # type: ignore[no-untyped-def]
        seen["timeout"] = details.timeout
        seen["authorization"] = dict(details.metadata).get("authorization", "")
        return None

    class Details:
        method, timeout, metadata, credentials, wait_for_ready, compression = "/x/Y", 30.0, [], None, None, None

    token = call_context.set_deadline(0.25)
    try:
        PropagatingInterceptor(lambda: "service-token").intercept_unary_unary(continuation, Details(), b"")
    finally:
        call_context.reset_deadline(token)
    assert 0 < seen["timeout"] <= 0.25
    # No caller identity in this context: the service's own token is used.
    assert seen["authorization"] == "Bearer service-token"


def test_a_method_without_a_declared_permission_stops_the_server_from_starting() -> None:
    binding = ServiceBinding(SERVICE, Probe(), add_probe, {"Slow": OPEN}, METHODS)
    with pytest.raises(RuntimeError, match="no permission declared for Boom, Deadline, Fail"):
        GrpcServer(ServiceSettings(service_name="probe", grpc_port=0), [binding])


def test_a_method_without_a_declared_data_scope_stops_the_server_from_starting() -> None:
    # A bare permission (the map's former shape) says nothing of the data the method touches.
    binding = ServiceBinding(SERVICE, Probe(), add_probe, {**{m: OPEN for m in METHODS}, "Fail": "leads.read"}, METHODS)  # type: ignore[dict-item]
    with pytest.raises(RuntimeError, match=r"no Access\(permission, scope=...\) declared for Fail"):
        GrpcServer(ServiceSettings(service_name="probe", grpc_port=0), [binding])
    with pytest.raises(TypeError, match=r"Access\.scope must be a Scope"):
        Access("leads.read", "RECORD")  # type: ignore[arg-type]


def test_tokens_from_another_issuer_or_audience_are_refused(running) -> None:
    from crm_common.auth import issue_token
    from crm_common.settings import DEV_JWT_KEY

    _server, _probe, channel = running
    stub = channel.unary_unary(f"/{SERVICE}/Deadline", request_serializer=lambda b: b, response_deserializer=lambda b: b)
    for token in (
        issue_token("x", ["admin"], DEV_JWT_KEY, issuer="someone-else"),
        issue_token("x", ["admin"], DEV_JWT_KEY, audience="other-app"),
        issue_token("x", ["admin"], "a-different-key-of-enough-length-0123456789abcdef"),
    ):
        with pytest.raises(grpc.RpcError) as err:
            stub(b"", metadata=[("authorization", f"Bearer {token}")], timeout=5)
        assert err.value.code() == grpc.StatusCode.UNAUTHENTICATED


class Toggle:
    """A background item whose readiness the test controls."""

    ready = True

    def start(self) -> None: ...

    def stop(self) -> None: ...


def test_readiness_follows_the_dependencies_while_liveness_stays_up() -> None:
    from crm_common.db import make_engine
    from crm_common.lifecycle import DatabaseHealth

    toggle = Toggle()
    binding = ServiceBinding(SERVICE, Probe(), add_probe, {m: OPEN for m in METHODS}, METHODS)
    server = GrpcServer(ServiceSettings(service_name="probe", grpc_port=0), [binding], [toggle])
    server.start()
    health = health_pb2_grpc.HealthStub(grpc.insecure_channel(f"127.0.0.1:{server.port}"))

    def status(name: str) -> int:
        return health.Check(health_pb2.HealthCheckRequest(service=name), timeout=2).status

    try:
        assert status(SERVICE) == health_pb2.HealthCheckResponse.SERVING
        toggle.ready = False
        wait_until(lambda: status(SERVICE) == health_pb2.HealthCheckResponse.NOT_SERVING, timeout=5, what="not ready")
        assert status("") == health_pb2.HealthCheckResponse.SERVING  # liveness unaffected
        toggle.ready = True
        wait_until(lambda: status(SERVICE) == health_pb2.HealthCheckResponse.SERVING, timeout=5, what="ready again")
    finally:
        server.stop(grace=0)
    unreachable = DatabaseHealth(make_engine("postgresql+psycopg://postgres@127.0.0.1:1/none?connect_timeout=1", pool_size=1))
    assert unreachable.check() is False and unreachable.ready is False
    assert metrics.dependency_up.labels("database")._value.get() == 0

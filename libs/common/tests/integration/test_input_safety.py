"""Bad input is never INTERNAL, through a real server with the interceptors every service gets:
a body that does not decode, a control character, a database refusing a value, a huge echo."""

from __future__ import annotations

from collections.abc import Iterator

import grpc
import psycopg
import pytest
import sqlalchemy.exc

from crm.common.v1 import common_pb2
from crm_common import errors
from crm_common.auth import Access, Scope
from crm_common.grpc.server import GrpcServer, ServiceBinding
from crm_common.grpc.status import field_violations, resource_info
from crm_common.settings import ServiceSettings
from crm_common.testing import bearer

SERVICE = "crm.test.v1.SafetyProbe"
METHODS = ["Echo", "Refuse", "RefuseRaw", "Missing"]


class Probe:
    """FieldViolation in, FieldViolation out: a real message type, so requests are deserialized and checked."""

    def __init__(self) -> None:
        self.calls = 0

    def echo(self, request: common_pb2.FieldViolation, context: grpc.ServicerContext) -> common_pb2.FieldViolation:
        self.calls += 1
        return request

    def refuse(self, request: common_pb2.FieldViolation, context: grpc.ServicerContext) -> common_pb2.FieldViolation:
        raise sqlalchemy.exc.DataError("INSERT ...", {}, psycopg.errors.StringDataRightTruncation("value too long for type character varying(200)"))

    def refuseraw(self, request: common_pb2.FieldViolation, context: grpc.ServicerContext) -> common_pb2.FieldViolation:
        raise psycopg.errors.UntranslatableCharacter("unsupported Unicode escape sequence")

    def missing(self, request: common_pb2.FieldViolation, context: grpc.ServicerContext) -> common_pb2.FieldViolation:
        raise errors.NotFound("lead", request.field)


def add_probe(probe: Probe, server: grpc.Server) -> None:
    handlers = {
        name: grpc.unary_unary_rpc_method_handler(
            getattr(probe, name.lower()),
            request_deserializer=common_pb2.FieldViolation.FromString,
            response_serializer=common_pb2.FieldViolation.SerializeToString,
        )
        for name in METHODS
    }
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(SERVICE, handlers),))


@pytest.fixture(scope="module")
def running() -> Iterator[tuple[Probe, grpc.Channel]]:
    probe = Probe()
    binding = ServiceBinding(SERVICE, probe, add_probe, {m: Access(None, Scope.NONE) for m in METHODS}, METHODS)
    server = GrpcServer(ServiceSettings(service_name="probe", grpc_port=0), [binding])
    server.start()
    channel = grpc.insecure_channel(f"127.0.0.1:{server.port}")
    yield probe, channel
    channel.close()
    server.stop(grace=0)


def call(channel: grpc.Channel, method: str, body: bytes) -> grpc.RpcError | bytes:
    stub = channel.unary_unary(f"/{SERVICE}/{method}")
    try:
        return stub(body, metadata=bearer("probe", ["admin"]), timeout=5)  # type: ignore[no-any-return]
    except grpc.RpcError as exc:
        return exc


def test_a_body_that_does_not_decode_is_invalid_argument_and_never_reaches_the_servicer(running) -> None:
    probe, channel = running
    before = probe.calls
    error = call(channel, "Echo", b"\xff\xff\xff")
    assert isinstance(error, grpc.RpcError) and error.code() == grpc.StatusCode.INVALID_ARGUMENT  # type: ignore[attr-defined]
    assert field_violations(error) == [("", "the body is not a valid crm.common.v1.FieldViolation")]
    assert probe.calls == before


def test_a_control_character_is_invalid_argument_naming_the_field(running) -> None:
    probe, channel = running
    before = probe.calls
    error = call(channel, "Echo", common_pb2.FieldViolation(field="ok", description="a\x00b").SerializeToString())
    assert isinstance(error, grpc.RpcError) and error.code() == grpc.StatusCode.INVALID_ARGUMENT  # type: ignore[attr-defined]
    assert field_violations(error) == [("description", "must not contain NUL or other control characters")]
    assert probe.calls == before
    assert call(channel, "Echo", common_pb2.FieldViolation(description="dòng 1\r\n\tdòng 2").SerializeToString()) != b""


@pytest.mark.parametrize("method", ["Refuse", "RefuseRaw"])
def test_a_value_the_database_refuses_is_invalid_argument_not_internal(running, method: str) -> None:
    _probe, channel = running
    error = call(channel, method, b"")
    assert isinstance(error, grpc.RpcError) and error.code() == grpc.StatusCode.INVALID_ARGUMENT  # type: ignore[attr-defined]
    assert "does not fit its field" in (error.details() or "")  # type: ignore[attr-defined]


def test_a_huge_value_echoed_by_an_error_comes_back_short(running) -> None:
    _probe, channel = running
    error = call(channel, "Missing", common_pb2.FieldViolation(field="x" * 4000).SerializeToString())
    assert isinstance(error, grpc.RpcError) and error.code() == grpc.StatusCode.NOT_FOUND  # type: ignore[attr-defined]
    assert len(error.details() or "") < 100  # type: ignore[attr-defined]
    info = resource_info(error)
    assert info is not None and info[0] == "lead" and len(info[1]) <= 100

"""Every RPC of every service, fed requests generated from its request type's descriptor (and raw
bytes that are no request at all), with a token holding every permission:

- no answer is INTERNAL or UNKNOWN (nor any code outside what bad input may get);
- no database error reaches the safety net (every bad value is caught with its field's path);
- an error writes nothing (the row count of every table is unchanged);
- the server still answers afterwards.

Bounded in time: EXAMPLES per service and backend (CRM_PROPERTY_EXAMPLES, 400 by default: about 5 s each on the 2-core machine).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from seeds import SEEDS, put, seed, string_paths
from sqlalchemy import func, select
from strategies import messages, strings

from crm_common.auth import role_permissions
from crm_common.grpc.status import field_violations
from crm_common.registry import ServiceDefinition, load, services
from crm_common.testing import BACKENDS, LiveService, bearer, live_service

EXAMPLES = int(os.environ.get("CRM_PROPERTY_EXAMPLES", "400"))
EVERYTHING = bearer("prop-admin", sorted(role_permissions()))
# What bad input may be answered; UNAVAILABLE only where a call needs another service (lead's).
ALLOWED = {
    grpc.StatusCode.OK,
    grpc.StatusCode.INVALID_ARGUMENT,
    grpc.StatusCode.NOT_FOUND,
    grpc.StatusCode.ALREADY_EXISTS,
    grpc.StatusCode.FAILED_PRECONDITION,
    grpc.StatusCode.PERMISSION_DENIED,
    grpc.StatusCode.ABORTED,
    grpc.StatusCode.OUT_OF_RANGE,
    grpc.StatusCode.UNAVAILABLE,
}


def _services() -> list[ServiceDefinition]:
    """Every registered service that owns tables (the property "an error writes nothing" is read
    from them; a service without a database has no live_service to run in)."""
    return [definition for definition in services() if definition.database]


def _overrides(definition: ServiceDefinition) -> dict[str, Any]:
    # Calls to peers (lead's conversion): a closed port makes them UNAVAILABLE, never someone else's server.
    nowhere = "127.0.0.1:9"
    return {name: nowhere for name in load(definition.settings).model_fields if name.endswith("_grpc_target")}


SERVICES = _services()


@pytest.fixture(scope="module", params=[(s, b) for s in SERVICES for b in BACKENDS], ids=lambda p: f"{p[0].name}-{p[1]}")
def live(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveService]:
    definition, backend = request.param
    directory: Path = tmp_path_factory.mktemp(definition.name)
    metadata = load(f"{definition.package}.adapters.orm:metadata")
    with live_service(backend, directory, definition, metadata=metadata, prefix=f"prop_{definition.name}", **_overrides(definition)) as running:
        yield running


@dataclass(frozen=True)
class Method:
    path: str
    request: Any  # the request type's descriptor


def _methods(live: LiveService) -> list[Method]:
    from google.protobuf import descriptor_pool

    pool = descriptor_pool.Default()
    found = []
    for binding in live.server.bindings:
        service = pool.FindServiceByName(binding.full_name)
        found.extend(Method(f"/{service.full_name}/{m.name}", m.input_type) for m in service.methods)
    return found


def _row_counts(live: LiveService) -> tuple[int, ...]:
    # Not the audit log: it records every call, refused and failed ones too (docs/security.md#audit-log).
    tables = [t for t in live.metadata.sorted_tables if t.name != "audit_log"]
    with live.engine.connect() as conn:
        row = conn.execute(select(*[select(func.count()).select_from(t).scalar_subquery() for t in tables])).one()
    return tuple(row)


def _call(live: LiveService, method: Method, body: bytes) -> tuple[grpc.StatusCode, str]:
    call = live.channel.unary_unary(method.path)
    try:
        call(body, metadata=EVERYTHING, timeout=15)
    except grpc.RpcError as exc:
        return exc.code(), exc.details() or ""  # type: ignore[attr-defined]
    return grpc.StatusCode.OK, ""


def _mutated_seeds(method: Method) -> st.SearchStrategy[bytes]:
    """The method's seed with one or two of its strings replaced by nasty ones."""

    @st.composite
    def build(draw: st.DrawFn) -> bytes:
        request = seed(method.path, method.request, draw(st.uuids()).hex)
        targets = string_paths(request)
        for _path, holder, name, index in draw(st.lists(st.sampled_from(targets), min_size=1, max_size=2)):
            put(holder, name, index, draw(strings))
        return request.SerializeToString()

    return build()


def _bodies(method: Method) -> st.SearchStrategy[bytes]:
    generated = messages(method.request).map(lambda r: r.SerializeToString())
    if method.path in SEEDS:
        return st.one_of(generated, _mutated_seeds(method), st.binary(max_size=64))
    return st.one_of(generated, st.binary(max_size=64))


def test_no_request_is_answered_internal_and_an_error_writes_nothing(live: LiveService) -> None:
    methods = _methods(live)
    assert len(methods) >= 10, methods
    bodies = st.sampled_from(methods).flatmap(lambda m: st.tuples(st.just(m), _bodies(m)))

    @settings(max_examples=EXAMPLES, deadline=None, database=None, suppress_health_check=list(HealthCheck), print_blob=True)
    @given(bodies)
    def one_call(case: tuple[Method, bytes]) -> None:
        method, body = case
        before = _row_counts(live)
        code, details = _call(live, method, body)
        assert code in ALLOWED, f"{method.path} answered {code.name}: {details[:300]}"
        assert "does not fit its field" not in details, f"{method.path}: the database refused a value no check caught: {details[:300]}"
        if code != grpc.StatusCode.OK:
            assert _row_counts(live) == before, f"{method.path} answered {code.name} but wrote rows"

    one_call()
    health = health_pb2_grpc.HealthStub(live.channel)
    service_name = live.server.bindings[0].full_name
    assert health.Check(health_pb2.HealthCheckRequest(service=service_name), timeout=5).status == health_pb2.HealthCheckResponse.SERVING


def test_every_method_answers_a_body_that_does_not_decode_invalid_argument(live: LiveService) -> None:
    for method in _methods(live):
        code, details = _call(live, method, b"\xff\xff\xff\xff")
        assert code == grpc.StatusCode.INVALID_ARGUMENT, (method.path, code, details)


def _seeded(live: LiveService) -> list[Method]:
    return [m for m in _methods(live) if m.path in SEEDS]


def test_the_seeds_are_valid(live: LiveService) -> None:
    """Else the mutations below would stop at the domain's checks and prove nothing about the database."""
    live.reset()
    for method in _seeded(live):
        code, details = _call(live, method, seed(method.path, method.request, f"seed-{method.path}").SerializeToString())
        assert code == grpc.StatusCode.OK, (method.path, code, details)


@pytest.mark.parametrize(
    ("bad", "description"),
    [
        ("a\x00b", "must not contain NUL or other control characters"),
        ("bell\x07", "must not contain NUL or other control characters"),
        ("x" * 10_000, "at most "),  # the field's own bound, or the generic one
    ],
    ids=["nul", "control", "10k"],
)
def test_a_bad_value_in_any_string_field_is_invalid_argument_naming_it(live: LiveService, bad: str, description: str) -> None:
    live.reset()
    for method in _seeded(live):
        for index, (path, *_rest) in enumerate(string_paths(seed(method.path, method.request, "r"))):
            request = seed(method.path, method.request, f"bad-{index}")
            _path, holder, name, position = string_paths(request)[index]
            put(holder, name, position, bad)
            before = _row_counts(live)
            code, details = _call(live, method, request.SerializeToString())
            assert code == grpc.StatusCode.INVALID_ARGUMENT, (method.path, path, code, details[:300])
            assert len(details) < 1000, (method.path, path, len(details))
            found = _violations(live, method, request)
            assert any(f == path and d.startswith(description) for f, d in found), (method.path, path, found)
            assert _row_counts(live) == before, (method.path, path)


def test_a_value_at_the_generic_bound_fits_or_is_refused_naming_its_field(live: LiveService) -> None:
    """4,096 characters pass the generic check: a field stored in a shorter column must declare its
    bound in the contract (or the domain must check it), never reach the database's refusal."""
    live.reset()
    for method in _seeded(live):
        for index, (path, *_rest) in enumerate(string_paths(seed(method.path, method.request, "r"))):
            request = seed(method.path, method.request, f"long-{index}")
            _path, holder, name, position = string_paths(request)[index]
            put(holder, name, position, "x" * 4096)
            before = _row_counts(live)
            code, details = _call(live, method, request.SerializeToString())
            assert code in ALLOWED and "does not fit its field" not in details, (method.path, path, code, details[:300])
            if code == grpc.StatusCode.INVALID_ARGUMENT:
                assert path in [f for f, _ in _violations(live, method, request)], (method.path, path, details[:300])
            if code != grpc.StatusCode.OK:
                assert _row_counts(live) == before, (method.path, path)
            live.reset()


def _violations(live: LiveService, method: Method, request: Any) -> list[tuple[str, str]]:
    call = live.channel.unary_unary(method.path)
    try:
        call(request.SerializeToString(), metadata=EVERYTHING, timeout=15)
    except grpc.RpcError as exc:
        return field_violations(exc)
    return []

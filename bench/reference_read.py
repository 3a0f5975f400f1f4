"""The reference for the read benchmarks: the least a read RPC can do, as a gRPC server.

A sync `grpc.server` serving one method, `/bench.Reference/Read`: verify the caller's HS256 JWT
(signature, expiry, issuer, audience, on every call, as `reference_capture.py`), decode the
request (the statement's parameters as JSON), run ONE given SQL statement through a psycopg
pool, and reply with its rows as JSON. No data scopes, validation, decryption, domain logic,
metrics or tracing: a read's latency over this is what the service adds to the database's own
work and a gRPC round trip. Each benchmark gives the statement that fetches the rows its answer
needs (bench/README.md) and calls both, in turn, in the same run.

    .venv/bin/python bench/reference_read.py --port 50998 --database-url postgresql://... --sql "SELECT ..."
"""

from __future__ import annotations

import argparse
import contextlib
import json
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent import futures
from typing import Any

import grpc
import jwt
from psycopg_pool import ConnectionPool

from crm_common.devstack import free_port
from crm_common.settings import DEV_JWT_KEY
from crm_common.testing import bearer

METHOD = "/bench.Reference/Read"
Params = list[Any] | dict[str, Any]


def _json(value: Any) -> Any:
    return value.hex() if isinstance(value, bytes | memoryview) else str(value)


def serve(port: int, conninfo: str, sql: str, threads: int) -> None:
    pool = ConnectionPool(conninfo, min_size=threads, max_size=threads, open=True)

    def read(request: bytes, context: grpc.ServicerContext) -> bytes:
        header = dict(context.invocation_metadata()).get("authorization", "")
        try:
            jwt.decode(header.removeprefix("Bearer "), DEV_JWT_KEY, algorithms=["HS256"], issuer="crm-dev", audience="crm")
        except jwt.InvalidTokenError:
            context.abort(grpc.StatusCode.UNAUTHENTICATED, "bad token")
        with pool.connection() as conn:
            rows = conn.execute(sql, json.loads(request)).fetchall()
        return json.dumps(rows, default=_json).encode()

    handler = grpc.method_handlers_generic_handler("bench.Reference", {"Read": grpc.unary_unary_rpc_method_handler(read)})
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=threads))
    server.add_generic_rpc_handlers((handler,))
    server.add_insecure_port(f"127.0.0.1:{port}")
    server.start()
    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    stopped.wait()
    server.stop(2).wait()
    pool.close()


@contextlib.contextmanager
def started(database_url: str, sql: str, threads: int = 4) -> Iterator[Callable[[Params], list[Any]]]:
    """Runs the reference in its own process on `database_url` (a SQLAlchemy or libpq URL) and
    yields a call: parameters in, the statement's rows out (through gRPC, with a dev token)."""
    dsn = database_url.replace("postgresql+psycopg://", "postgresql://")
    port = free_port()
    command = [sys.executable, __file__, "--port", str(port), "--database-url", dsn, "--sql", sql, "--threads", str(threads)]
    process = subprocess.Popen(command)
    channel = grpc.insecure_channel(f"127.0.0.1:{port}")
    try:
        grpc.channel_ready_future(channel).result(timeout=30)
        stub = channel.unary_unary(METHOD)
        metadata = bearer("bench-reference", ["rm"])

        def call(params: Params) -> list[Any]:
            return json.loads(stub(json.dumps(params).encode(), metadata=metadata, timeout=10))  # type: ignore[no-any-return]

        yield call
    finally:
        channel.close()
        process.terminate()
        process.wait(10)


def alternate(calls: int, service: Callable[[int], object], reference: Callable[[int], object]) -> tuple[list[float], list[float]]:
    """Seconds per call of `service(i)` and `reference(i)`, called in turn `calls` times each, so
    that drift on a shared machine hits both alike."""
    timed: tuple[list[float], list[float]] = ([], [])
    for i in range(calls):
        for side, call in zip(timed, (service, reference), strict=True):
            started_at = time.perf_counter()
            call(i)
            side.append(time.perf_counter() - started_at)
    return timed


def percentile(seconds: list[float], pct: float) -> float:
    """In milliseconds."""
    ordered = sorted(seconds)
    return ordered[min(len(ordered) - 1, round(pct / 100 * (len(ordered) - 1)))] * 1000


def summary(service: list[float], reference: list[float]) -> str:
    """The service's p50/p99/max, the reference's p50/p99 and the ratio of the p99s."""
    p50, p99, ref50, ref99 = percentile(service, 50), percentile(service, 99), percentile(reference, 50), percentile(reference, 99)
    return (
        f"p50 {p50:.1f} ms   p99 {p99:.1f} ms   max {max(service) * 1000:.1f} ms;"
        f" reference p50 {ref50:.1f} ms   p99 {ref99:.1f} ms;   ratio (p99) {p99 / ref99:.1f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--database-url", required=True, help="a libpq URL (postgresql://...)")
    parser.add_argument("--sql", required=True, help="the one statement each call runs, with psycopg placeholders")
    parser.add_argument("--threads", type=int, default=4)
    args = parser.parse_args()
    serve(args.port, args.database_url, args.sql, args.threads)


if __name__ == "__main__":
    main()

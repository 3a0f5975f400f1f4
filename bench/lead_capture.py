"""Sustained CreateLead through gRPC into PostgreSQL, with event delivery measured end to end.

Starts the lead service (`crm-lead api`, its own process, with its outbox relay) on a fresh
PostgreSQL database and a fresh RabbitMQ vhost, runs N concurrent clients for a fixed time,
and consumes LeadCaptured from the broker to time accepted → consumed. Prints leads/s,
latency percentiles and event delivery percentiles; cleans up after itself.

    .venv/bin/python bench/lead_capture.py --clients 16 --seconds 30 [--replicas 2]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import threading
import time
import uuid
from pathlib import Path

import grpc
import pika

from crm.common.v1 import common_pb2
from crm.lead.v1 import events_pb2, lead_pb2, lead_service_pb2, lead_service_pb2_grpc
from crm_common.devstack import ServiceSpec, Stack, free_port
from crm_common.testing import bearer, postgres_database, rabbitmq_vhost


def percentile(values: list[float], pct: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(pct / 100 * (len(ordered) - 1)))]


MOBILE_PREFIXES = [
    "090",
    "091",
    "093",
    "094",
    "096",
    "097",
    "098",
    "086",
    "088",
    "032",
    "033",
    "034",
    "035",
    "036",
    "037",
    "038",
    "039",
    "070",
    "079",
    "077",
    "076",
    "078",
    "081",
    "082",
    "083",
    "084",
    "085",
]


def lead_request(n: int, run: str) -> lead_service_pb2.CreateLeadRequest:
    # Distinct, valid Vietnamese mobile numbers: a live operator prefix + 7 digits.
    prefix = MOBILE_PREFIXES[n % len(MOBILE_PREFIXES)]
    phone = f"{prefix}{(n // len(MOBILE_PREFIXES) * 7919 + int(run[:4], 16)) % 10_000_000:07d}"
    return lead_service_pb2.CreateLeadRequest(
        request_id=f"{run}-{n}",
        lead=lead_pb2.LeadInput(
            contact=lead_pb2.ContactInput(full_name=f"Khách hàng {n}", phone=phone, email=f"kh{n}.{run[:6]}@example.vn"),
            product_interest=common_pb2.PRODUCT_TYPE_CREDIT_CARD,
            source=lead_pb2.LeadSource(channel=lead_pb2.CHANNEL_LANDING_PAGE, campaign_id="bench", utm=lead_pb2.Utm(source="google", medium="cpc")),
            marketing_consent=True,
        ),
    )


class DeliveryProbe(threading.Thread):
    """Consumes LeadCaptured and records now − the event's occur time (both on this machine's clock)."""

    def __init__(self, amqp_uri: str) -> None:
        super().__init__(daemon=True)
        self.amqp_uri = amqp_uri
        self.delays: list[float] = []
        self.ready = threading.Event()
        self.stop = threading.Event()

    def run(self) -> None:
        conn = pika.BlockingConnection(pika.URLParameters(self.amqp_uri))
        channel = conn.channel()
        channel.exchange_declare("lead.events", "topic", durable=True)
        queue = channel.queue_declare("", exclusive=True).method.queue
        channel.queue_bind(queue, "lead.events", "LeadCaptured")
        channel.basic_qos(prefetch_count=500)
        self.ready.set()
        for method, _props, body in channel.consume(queue, inactivity_timeout=0.2):
            if method is not None:
                event = events_pb2.LeadCaptured.FromString(body)
                self.delays.append(time.time() - event.metadata.occur_time.ToMicroseconds() / 1e6)
                channel.basic_ack(method.delivery_tag)
            if self.stop.is_set():
                break
        conn.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument("--channels", type=int, default=4, help="gRPC connections the clients spread over")
    parser.add_argument("--replicas", type=int, default=1, help="API processes over one database, as pods of one Deployment")
    args = parser.parse_args()
    run = uuid.uuid4().hex
    with postgres_database("bench_lead") as url, rabbitmq_vhost("bench") as amqp_uri:
        specs = [ServiceSpec("lead", free_port(), free_port(), free_port(), url, env={"LOG_LEVEL": "WARNING"}) for _ in range(args.replicas)]
        spec = specs[0]
        stack = Stack(specs, amqp_uri, Path("var/bench"))
        subprocess.run(
            [str(Path(__import__("sys").executable).with_name("crm-lead")), "migrate"],
            env=spec.environment(amqp_uri, {}),
            check=True,
            capture_output=True,
        )
        # The API only (each replica with its own relay): the bench is the consumer.
        for replica in specs:
            stack.processes.append(stack_api(stack, replica, amqp_uri))
        try:
            for replica in specs:
                stack.wait_healthy(replica, 30)
            probe = DeliveryProbe(amqp_uri)
            probe.start()
            probe.ready.wait(10)
            metadata = bearer("bench", ["marketing"])
            channels = [
                grpc.insecure_channel(specs[i % len(specs)].target, options=[("grpc.use_local_subchannel_pool", 1)])
                for i in range(max(args.channels, len(specs)))
            ]
            stubs = [lead_service_pb2_grpc.LeadServiceStub(c) for c in channels]
            counter = iter(range(10**9))
            lock = threading.Lock()
            latencies: list[float] = []
            errors: dict[str, int] = {}
            measuring = threading.Event()
            finished = threading.Event()

            def client(i: int) -> None:
                stub = stubs[i % len(stubs)]
                while not finished.is_set():
                    with lock:
                        n = next(counter)
                    started = time.perf_counter()
                    try:
                        stub.CreateLead(lead_request(n, run), metadata=metadata, timeout=10)
                        elapsed = time.perf_counter() - started
                        if measuring.is_set():
                            latencies.append(elapsed)
                    except grpc.RpcError as exc:
                        errors[exc.code().name] = errors.get(exc.code().name, 0) + 1

            threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(args.clients)]
            for t in threads:
                t.start()
            time.sleep(args.warmup)
            probe.delays.clear()
            measuring.set()
            start = time.perf_counter()
            time.sleep(args.seconds)
            measuring.clear()
            elapsed = time.perf_counter() - start
            finished.set()
            for t in threads:
                t.join(timeout=15)
            time.sleep(1.0)  # let the last events arrive
            probe.stop.set()
            delays = list(probe.delays)
            print(
                f"lead_capture: {args.replicas} API process(es), {args.clients} clients over {len(channels)} channels,"
                f" {args.seconds:.0f} s measured after {args.warmup:.0f} s warm-up"
            )
            print(f"  creates      {len(latencies)} ok, {sum(errors.values())} errors {errors or ''}")
            print(f"  throughput   {len(latencies) / elapsed:,.0f} leads/s")
            print(
                f"  latency ms   p50 {percentile(latencies, 50) * 1000:.1f}   p99 {percentile(latencies, 99) * 1000:.1f}"
                f"   max {max(latencies, default=0) * 1000:.1f}"
            )
            print(
                f"  event ms     accepted→consumed p50 {percentile(delays, 50) * 1000:.1f}   p99 {percentile(delays, 99) * 1000:.1f}"
                f"   ({len(delays)} LeadCaptured consumed; mean {statistics.fmean(delays) * 1000 if delays else float('nan'):.1f})"
            )
            for c in channels:
                c.close()
        finally:
            stack.stop()


def stack_api(stack: Stack, spec: ServiceSpec, amqp_uri: str):  # type: ignore[no-untyped-def]
    import sys

    from crm_common.devstack import RunningProcess

    stack.run_dir.mkdir(parents=True, exist_ok=True)
    log = stack.run_dir / f"lead-api-{spec.grpc_port}.log"
    proc = subprocess.Popen(
        [str(Path(sys.executable).with_name("crm-lead")), "api"],
        env=spec.environment(amqp_uri, {}),
        stdout=open(log, "ab"),  # noqa: SIM115 - the child owns it
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    return RunningProcess("lead", "api", proc.pid, str(log))


if __name__ == "__main__":
    main()

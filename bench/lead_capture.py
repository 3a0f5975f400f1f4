"""Sustained CreateLead through gRPC into PostgreSQL, against a bare reference in the same run.

Starts the lead service (`crm-lead api`, its own process, and its outbox relay: `crm-lead relay`
beside each API as the chart runs it, or with --relay api on the API's own threads) on a fresh
PostgreSQL database and a fresh RabbitMQ vhost, and reference A (`reference_capture.py`: sync
gRPC server, JWT check, one INSERT through a pool; same database) and reference E (the same with
an outbox row in the INSERT's transaction, published by the lead service's relay and consumed by
the bench: A plus the event path and nothing else). Runs N concurrent clients against each in
alternating rounds, consumes LeadCaptured (and E's events) from the broker, and prints capture
rate ÷ reference A's rate (the goal), E ÷ A and capture ÷ E, the p99s, CPU per create by process
(from /proc) and PostgreSQL's time per statement (pg_stat_statements, when the server loads it).

It checks its own answer and fails on a wrong one: every accepted lead's LeadCaptured (and every
reference E lead's event) must be consumed (none missing; an event for a lead the client did not
see accepted only where a call failed), and event latency is timed from the reply (the commit is
done before the reply is sent) to arrival; from the event's occur time (stamped just before the
commit) it is shown as well.

    .venv/bin/python bench/lead_capture.py --clients 16 --seconds 20 [--replicas 2] [--relay api] [--profile]
"""

from __future__ import annotations

import argparse
import itertools
import os
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import grpc
import pika
import psycopg
from reference_capture import EVENT_TYPE as REFERENCE_EVENT_TYPE  # bench/, beside this script
from sqlalchemy import make_url

from crm.common.v1 import common_pb2
from crm.lead.v1 import events_pb2, lead_pb2, lead_service_pb2, lead_service_pb2_grpc
from crm_common.devstack import RunningProcess, ServiceSpec, Stack, free_port
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
    """Consumes LeadCaptured, and reference E's events apart; records each lead's arrival time
    and the event's occur time."""

    def __init__(self, amqp_uri: str) -> None:
        super().__init__(daemon=True)
        self.amqp_uri = amqp_uri
        self.arrived: dict[str, tuple[float, float]] = {}  # lead_id: (arrival, occur time)
        self.reference_arrived: dict[str, tuple[float, float]] = {}  # reference E's
        self.duplicates = 0
        self.ready = threading.Event()
        self.stop = threading.Event()

    def run(self) -> None:
        conn = pika.BlockingConnection(pika.URLParameters(self.amqp_uri))
        channel = conn.channel()
        channel.exchange_declare("lead.events", "topic", durable=True)
        queue = channel.queue_declare("", exclusive=True).method.queue
        channel.queue_bind(queue, "lead.events", "LeadCaptured")
        channel.queue_bind(queue, "lead.events", REFERENCE_EVENT_TYPE)
        channel.basic_qos(prefetch_count=500)
        self.ready.set()
        for method, _props, body in channel.consume(queue, inactivity_timeout=0.2):
            if method is not None:
                event = events_pb2.LeadCaptured.FromString(body)
                arrived = self.reference_arrived if method.routing_key == REFERENCE_EVENT_TYPE else self.arrived
                if event.lead.lead_id in arrived:
                    self.duplicates += 1
                else:
                    arrived[event.lead.lead_id] = (time.time(), event.metadata.occur_time.ToMicroseconds() / 1e6)
                channel.basic_ack(method.delivery_tag)
            if self.stop.is_set():
                break
        conn.close()


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU of these processes (their threads included), from /proc."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except FileNotFoundError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / os.sysconf("SC_CLK_TCK")


def box_jiffies() -> tuple[int, int]:
    """The whole machine's busy and total CPU time so far (/proc/stat; idle and iowait count as idle)."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]
    return sum(fields) - idle, sum(fields)


def rabbitmq_pids() -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "comm").read_text().strip() == "beam.smp":
                    pids.append(int(entry.name))
            except OSError:
                continue
    return pids


@dataclass
class Load:
    latencies: list[float] = field(default_factory=list)
    errors: dict[str, int] = field(default_factory=dict)
    accepted: dict[str, tuple[float, bool]] = field(default_factory=dict)  # lead_id: (reply time, measured)
    elapsed: float = 0.0
    cpu: dict[str, float] = field(default_factory=dict)
    box: tuple[int, int] = (0, 0)  # the machine's busy and total jiffies over the measured windows

    @property
    def rate(self) -> float:
        return len(self.latencies) / self.elapsed

    def add(self, other: Load) -> None:
        """Another round of the same side."""
        self.latencies += other.latencies
        for code, count in other.errors.items():
            self.errors[code] = self.errors.get(code, 0) + count
        self.accepted.update(other.accepted)
        self.elapsed += other.elapsed
        for name, seconds in other.cpu.items():
            self.cpu[name] = self.cpu.get(name, 0.0) + seconds
        self.box = (self.box[0] + other.box[0], self.box[1] + other.box[1])


def drive(
    targets: list[str],
    args: argparse.Namespace,
    run: str,
    numbers: Iterator[int],
    processes: Callable[[], dict[str, list[int]]],
    warmup: float,
    seconds: float,
    statements: StatementTimes | None = None,
    profile: Callable[[float], None] | None = None,
) -> Load:
    """N client threads calling CreateLead for warm-up + measured seconds; CPU of `processes`
    (read at the start of the measured window) and PostgreSQL's statement times over that window."""
    metadata = bearer("bench", ["marketing"])
    channels = [
        grpc.insecure_channel(targets[i % len(targets)], options=[("grpc.use_local_subchannel_pool", 1)])
        for i in range(max(args.channels, len(targets)))
    ]
    stubs = [lead_service_pb2_grpc.LeadServiceStub(c) for c in channels]
    lock = threading.Lock()
    load = Load()
    measuring = threading.Event()
    finished = threading.Event()

    def client(i: int) -> None:
        stub = stubs[i % len(stubs)]
        while not finished.is_set():
            with lock:
                n = next(numbers)
            started = time.perf_counter()
            try:
                reply = stub.CreateLead(lead_request(n, run), metadata=metadata, timeout=10)
            except grpc.RpcError as exc:
                with lock:
                    load.errors[exc.code().name] = load.errors.get(exc.code().name, 0) + 1
                continue
            elapsed, measured = time.perf_counter() - started, measuring.is_set()
            load.accepted[reply.lead.lead_id] = (time.time(), measured)
            if measured:
                load.latencies.append(elapsed)

    threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(args.clients)]
    for t in threads:
        t.start()
    time.sleep(warmup)
    pids = processes()
    cpu_before = {name: cpu_seconds(p) for name, p in pids.items()}
    box_before = box_jiffies()
    statements_before = statements.snapshot() if statements else {}
    measuring.set()
    start = time.perf_counter()
    if profile is not None:
        profile(seconds)
    time.sleep(seconds)
    measuring.clear()
    load.elapsed = time.perf_counter() - start
    load.cpu = {name: cpu_seconds(p) - cpu_before[name] for name, p in pids.items()}
    load.box = tuple(after - before for after, before in zip(box_jiffies(), box_before, strict=True))  # type: ignore[assignment]
    if statements:
        statements.add(statements_before, statements.snapshot())
    finished.set()
    for t in threads:
        t.join(timeout=15)
    for c in channels:
        c.close()
    return load


def reconcile(load: Load, arrived: dict[str, tuple[float, float]], deadline: float) -> tuple[list[float], list[float]]:
    """Waits for every accepted lead's event and fails on a missing or unexplained one; returns
    the measured leads' delays from the reply and from the event's occur time."""
    until = time.monotonic() + deadline
    while set(load.accepted) - set(arrived) and time.monotonic() < until:
        time.sleep(0.1)
    time.sleep(0.5)  # anything late or doubled
    missing = set(load.accepted) - set(arrived)
    unknown = set(arrived) - set(load.accepted)
    assert not missing, f"{len(missing)} accepted leads' events never consumed (of {len(load.accepted)})"
    assert len(unknown) <= sum(load.errors.values()), f"{len(unknown)} events for leads never created"
    from_reply = [arrived[i][0] - replied for i, (replied, measured) in load.accepted.items() if measured]
    from_occur = [arrived[i][0] - arrived[i][1] for i, (_, measured) in load.accepted.items() if measured]
    return from_reply, from_occur


def database_pids(conninfo: str) -> list[int]:
    with psycopg.connect(conninfo) as conn:
        return [pid for (pid,) in conn.execute("SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()")]


class StatementTimes:
    """PostgreSQL's own time per statement (pg_stat_statements) over the capture rounds, when the
    server loads the module (shared_preload_libraries); the run says so when it does not."""

    def __init__(self, conninfo: str) -> None:
        self.conninfo = conninfo
        self.totals: dict[str, list[float]] = {}  # query: [calls, exec ms]
        with psycopg.connect(conninfo, autocommit=True) as conn:
            loaded = "pg_stat_statements" in str(conn.execute("SHOW shared_preload_libraries").fetchone()[0])  # type: ignore[index]
            if loaded:
                conn.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
        self.available = loaded

    def snapshot(self) -> dict[str, tuple[float, float]]:
        if not self.available:
            return {}
        with psycopg.connect(self.conninfo) as conn:
            rows = conn.execute(
                "SELECT query, calls, total_exec_time FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid"
                " WHERE d.datname = current_database()"
            ).fetchall()
        return {query: (calls, total) for query, calls, total in rows if "pg_stat_statements" not in query}

    def add(self, before: dict[str, tuple[float, float]], after: dict[str, tuple[float, float]]) -> None:
        for query, (calls, total) in after.items():
            then = before.get(query, (0, 0.0))
            if calls > then[0]:
                entry = self.totals.setdefault(query, [0, 0.0])
                entry[0] += calls - then[0]
                entry[1] += total - then[1]

    def report(self, creates: int, top: int = 5) -> None:
        if not self.available:
            print("              PostgreSQL statements: pg_stat_statements is not loaded (shared_preload_libraries), not shown")
            return
        first = sorted(self.totals.items(), key=lambda item: -item[1][1])[:top]
        spent = sum(total for _calls, total in self.totals.values())
        print(f"              PostgreSQL execution {spent / creates:.3f} ms per create (pg_stat_statements), by statement:")
        for query, (calls, total) in first:
            text = " ".join(query.split())[:90]
            print(f"                {total / creates:.3f} ms/create  {calls / creates:5.2f} calls/create  {total / calls:.3f} ms/call  {text}")


class GilProfile:
    """With --profile: py-spy samples the (first) API process over the capture rounds, only the
    thread holding the GIL (`--gil`), and the run prints how much of the wall time the GIL was
    held and where that Python time goes per create. Shows whether the API is bound by its GIL
    and which code to cut (bench/README.md, "Is the API bound by its GIL?")."""

    RATE_HZ = 100
    # Frames every stack has: the thread machinery and grpcio's pool wrapper.
    GENERIC = ("threading.py", "thread.py")

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.spy = str(Path(sys.executable).with_name("py-spy"))
        self.files: list[Path] = []
        self.seconds = 0.0
        self.running: subprocess.Popen[bytes] | None = None

    def start(self, pid: int, seconds: float) -> None:
        out = self.directory / f"gil-{len(self.files)}.txt"
        self.files.append(out)
        self.seconds += seconds
        command = [self.spy, "record", "--gil", "--nonblocking", "--format", "raw", "-r", str(self.RATE_HZ), "-d", f"{seconds:.0f}"]
        self.running = subprocess.Popen([*command, "-o", str(out), "--pid", str(pid)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def stop(self) -> None:
        if self.running is not None:
            self.running.wait(timeout=60)
            self.running = None

    def report(self, creates: int, top: int = 14) -> None:
        inclusive: dict[str, int] = {}
        samples = 0
        for file in self.files:
            if not file.exists():
                print("              GIL profile: py-spy wrote nothing (it needs ptrace: root or CAP_SYS_PTRACE)")
                return
            for line in file.read_text().splitlines():
                stack, _, hits = line.rpartition(" ")
                if not stack:
                    continue
                samples += int(hits)
                frames = {frame.split(" (")[0] + " (" + frame.rsplit("/", 1)[-1].split(":")[0] for frame in stack.split(";") if " (" in frame}
                for frame in frames:
                    if not frame.endswith(self.GENERIC):
                        inclusive[frame] = inclusive.get(frame, 0) + int(hits)
        held = samples / (self.RATE_HZ * self.seconds)
        per_create = samples / self.RATE_HZ / creates * 1000
        print(f"              GIL held {held:.0%} of the wall time (py-spy --gil): {per_create:.2f} ms of Python per create; by frame (inclusive):")
        for frame, count in sorted(inclusive.items(), key=lambda item: -item[1])[:top]:
            print(f"                {count / samples:5.1%}  {count / self.RATE_HZ / creates * 1000:.3f} ms  {frame})")


def ms(values: list[float], pct: float) -> str:
    return f"{percentile(values, pct) * 1000:.1f}"


def report(label: str, load: Load) -> None:
    print(
        f"  {label:<11} {len(load.latencies):,} creates, {load.rate:,.0f}/s, p50 {ms(load.latencies, 50)} ms, p99 {ms(load.latencies, 99)} ms", end=""
    )
    print(f", errors {load.errors}" if load.errors else "")
    per_create = {name: seconds / len(load.latencies) * 1000 for name, seconds in load.cpu.items()}
    print("              CPU ms per create: " + ", ".join(f"{name} {value:.2f}" for name, value in per_create.items()), end="")
    print(f"; the machine {load.box[0] / max(load.box[1], 1):.0%} busy ({os.cpu_count()} cores)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=20.0, help="measured seconds of each side, over all rounds")
    parser.add_argument("--warmup", type=float, default=3.0, help="warm-up seconds before the first round (1 s before each later one)")
    parser.add_argument("--rounds", type=int, default=4, help="capture and reference in alternating rounds: drift on a shared box hits both")
    parser.add_argument("--channels", type=int, default=4, help="gRPC connections the clients spread over")
    parser.add_argument("--replicas", type=int, default=1, help="API processes over one database, as pods of one Deployment")
    parser.add_argument(
        "--relay",
        choices=("separate", "api"),
        default="separate",
        help="the outbox relay, sealer and janitor as `crm-lead relay` beside each API (the chart's default) or on the API's threads",
    )
    parser.add_argument("--profile", action="store_true", help="sample the API's GIL-holding thread with py-spy over the capture rounds")
    args = parser.parse_args()
    run = uuid.uuid4().hex
    with postgres_database("bench_lead") as url, rabbitmq_vhost("bench") as amqp_uri:
        conninfo = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
        separate = args.relay == "separate"
        relay_env = {"RELAY_IN_API": "false" if separate else "true"}
        specs = [
            ServiceSpec("lead", free_port(), free_port(), free_port(), free_port(), url, env={"LOG_LEVEL": "WARNING", **relay_env})
            for _ in range(args.replicas)
        ]
        stack = Stack(specs, amqp_uri, Path("var/bench"))
        stack.run_dir.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [str(Path(sys.executable).with_name("crm-lead")), "migrate"], env=specs[0].environment(amqp_uri, {}), check=True, capture_output=True
        )
        # The API only (each replica with its own relay, on its threads or beside it): the bench is the consumer.
        apis = [
            start(stack, [str(Path(sys.executable).with_name("crm-lead")), "api"], replica.environment(amqp_uri, {}), f"lead-api-{replica.grpc_port}")
            for replica in specs
        ]
        relays = [
            start(
                stack,
                [str(Path(sys.executable).with_name("crm-lead")), "relay"],
                replica.environment(amqp_uri, {}),
                f"lead-relay-{replica.grpc_port}",
            )
            for replica in specs
            if separate
        ]
        port, events_port = free_port(), free_port()
        command = [sys.executable, str(Path(__file__).with_name("reference_capture.py")), "--database-url", conninfo]
        reference = start(stack, [*command, "--port", str(port)], dict(os.environ), "reference-capture")
        try:
            for replica in specs:
                stack.wait_healthy(replica, 30)
            grpc.channel_ready_future(grpc.insecure_channel(f"127.0.0.1:{port}")).result(timeout=30)
            # After A, which creates their table.
            reference_e = start(stack, [*command, "--port", str(events_port), "--events"], dict(os.environ), "reference-capture-events")
            grpc.channel_ready_future(grpc.insecure_channel(f"127.0.0.1:{events_port}")).result(timeout=30)
            probe = DeliveryProbe(amqp_uri)
            probe.start()
            probe.ready.wait(10)

            def capture_processes() -> dict[str, list[int]]:
                return {
                    "API" if len(apis) == 1 else f"API ×{len(apis)}": [p.pid for p in apis],
                    **({"relay" if len(relays) == 1 else f"relay ×{len(relays)}": [p.pid for p in relays]} if relays else {}),
                    "client": [os.getpid()],
                    "PostgreSQL": database_pids(conninfo),
                    "RabbitMQ (shared)": rabbitmq_pids(),
                }

            def reference_processes() -> dict[str, list[int]]:
                return {"reference": [reference.pid], "client": [os.getpid()], "PostgreSQL": database_pids(conninfo)}

            def reference_e_processes() -> dict[str, list[int]]:
                return {
                    "reference E": [reference_e.pid],
                    # The relay that publishes its events (on the API's threads with --relay api).
                    "relay": [p.pid for p in relays or apis],
                    "client": [os.getpid()],
                    "PostgreSQL": database_pids(conninfo),
                    "RabbitMQ (shared)": rabbitmq_pids(),
                }

            capture, baseline, with_events = Load(), Load(), Load()
            statements, reference_statements = StatementTimes(conninfo), StatementTimes(conninfo)
            numbers = itertools.count()  # lead numbers (phones, emails, request ids) unique over all rounds
            slice_seconds = args.seconds / args.rounds
            gil = GilProfile(stack.run_dir) if args.profile else None
            for round_no in range(args.rounds):
                warmup = args.warmup if round_no == 0 else 1.0
                profile = (lambda seconds: gil.start(apis[0].pid, seconds)) if gil else None
                capture.add(drive([s.target for s in specs], args, run, numbers, capture_processes, warmup, slice_seconds, statements, profile))
                if gil:
                    gil.stop()
                baseline.add(drive([f"127.0.0.1:{port}"], args, run, numbers, reference_processes, warmup, slice_seconds, reference_statements))
                with_events.add(drive([f"127.0.0.1:{events_port}"], args, run, numbers, reference_e_processes, warmup, slice_seconds))
            from_reply, from_occur = reconcile(capture, probe.arrived, deadline=30)
            reference_from_reply, _ = reconcile(with_events, probe.reference_arrived, deadline=30)
            probe.stop.set()
            assert not baseline.errors, f"reference failed calls: {baseline.errors}"
            assert not with_events.errors, f"reference E failed calls: {with_events.errors}"
            print(
                f"lead_capture: {args.replicas} API process(es), relay {'in a process beside each' if separate else 'on its threads'},"
                f" {args.clients} clients over {max(args.channels, len(specs))} channels,"
                f" {args.seconds:.0f} s measured each, in {args.rounds} alternating rounds after {args.warmup:.0f} s warm-up"
            )
            report("capture", capture)
            print(
                f"              events: all {len(capture.accepted):,} accepted leads' LeadCaptured consumed ({probe.duplicates} twice);"
                f" reply→consumed p50 {ms(from_reply, 50)} / p99 {ms(from_reply, 99)} ms"
                f" (occur→consumed p99 {ms(from_occur, 99)} ms)"
            )
            statements.report(len(capture.latencies))
            if gil:
                gil.report(len(capture.latencies))
            report("reference A", baseline)
            reference_statements.report(len(baseline.latencies), top=1)
            report("reference E", with_events)
            print(
                f"              events: all {len(with_events.accepted):,} consumed; reply→consumed p50 {ms(reference_from_reply, 50)}"
                f" / p99 {ms(reference_from_reply, 99)} ms"
            )
            print(f"  capture ÷ reference A = {capture.rate / baseline.rate:.2f}   (goal ≥ 0.75, capture p99 < 50 ms, event p99 < 250 ms)")
            print(
                f"  reference E ÷ reference A = {with_events.rate / baseline.rate:.2f} (the event path alone);"
                f" capture ÷ reference E = {capture.rate / with_events.rate:.2f}"
            )
        finally:
            stack.stop()


def start(stack: Stack, command: list[str], env: dict[str, str], name: str) -> RunningProcess:
    """A server process of the run, in its own session, stopped with the stack."""
    log = stack.run_dir / f"{name}.log"
    proc = subprocess.Popen(command, env=env, stdout=open(log, "ab"), stderr=subprocess.STDOUT, start_new_session=True)  # noqa: SIM115 - the child owns it
    running = RunningProcess("lead", name, proc.pid, str(log))
    stack.processes.append(running)
    return running


if __name__ == "__main__":
    main()

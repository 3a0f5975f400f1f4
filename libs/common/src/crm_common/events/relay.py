"""The outbox relay: a thread that moves committed events to RabbitMQ, beside the gRPC server
(RELAY_IN_API=true: commits wake it at once) or in the relay process (`crm-<service> relay`,
crm_common.relay_process: it looks at the outbox every RELAY_IDLE_POLL_MS).

Each cycle locks a batch of the oldest rows (FOR UPDATE SKIP LOCKED, so several replicas can
relay side by side), publishes them with confirms, and deletes them in the same transaction:
a row leaves the outbox only after the broker confirmed it. A crash between the confirm and
the commit republishes the batch, which consumers absorb through their inbox (at-least-once).
Rows are deleted rather than marked, so the table does not fill with dead tuples.
"""

from __future__ import annotations

import logging
import threading
import time

from sqlalchemy import Engine, MetaData, bindparam, delete, func, select

from crm_common.db import utcnow
from crm_common.events.outbox import RelayWakeup
from crm_common.events.publisher import BatchPublisher, OutgoingEvent
from crm_common.lifecycle import Background, RunsElsewhere
from crm_common.observability import metrics
from crm_common.settings import ServiceSettings

log = logging.getLogger("crm.events.relay")


class OutboxRelay(Background):
    def __init__(
        self,
        engine: Engine,
        metadata: MetaData,
        publisher: BatchPublisher,
        wakeup: RelayWakeup | None = None,
        batch_size: int = 500,
        poll_seconds: float = 0.5,
        # Gathers the commits of a few milliseconds into one batch: fewer, fuller cycles leave
        # the API process's GIL to the RPCs (FACTS.md: 25 ms of coalescing paid; 20 ms here).
        coalesce_seconds: float = 0.02,
        stats_every_seconds: float = 1.0,
        # Without a wake-up (the relay process): each poll first asks whether the outbox holds a
        # row at all (the oldest seq, one index probe), and takes a batch only then.
        idle_check: bool = False,
        # stop(): True drains what is committed (the API's relay, whose process stops writing);
        # False finishes the batch in flight and takes no new one (the relay process: the rest
        # waits in the outbox for the next relay, another replica's or the next pod's).
        drain_on_stop: bool = True,
    ) -> None:
        self.engine = engine
        self.table = metadata.tables["outbox"]
        self.publisher = publisher
        self.batch_size = batch_size
        self.poll_seconds = poll_seconds
        self.coalesce_seconds = coalesce_seconds
        self.stats_every_seconds = stats_every_seconds
        self.idle_check = idle_check
        self.drain_on_stop = drain_on_stop
        self._next_stats = 0.0
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        if wakeup is not None:
            wakeup.listeners.append(self._wake.set)
        oldest = select(self.table.c.seq).order_by(self.table.c.seq).limit(bindparam("batch"))
        if engine.dialect.name == "postgresql":
            oldest = oldest.with_for_update(skip_locked=True)
        t = self.table.c
        # Ordered by the primary key: an index probe that skips the dead tuples deletes leave.
        self._peek = select(t.seq).order_by(t.seq).limit(1)
        self._take_batch = (
            delete(self.table).where(t.seq.in_(oldest.scalar_subquery())).returning(t.seq, t.event_id, t.event_type, t.payload, t.headers)
        )

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="outbox-relay", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Drains what is committed (bounded; or only the batch in flight, without
        drain_on_stop), then closes the broker connection."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=15)

    def _run(self) -> None:
        backoff = 0.5
        while True:
            stopping = self._stop.is_set()
            if stopping and not self.drain_on_stop:
                break
            try:
                if not self.idle_check or self.pending():
                    while self.relay_once() == self.batch_size:
                        if self._stop.is_set() and not self.drain_on_stop:
                            break
                else:
                    self._maybe_update_stats()
                backoff = 0.5
            except Exception:
                metrics.relay_errors.inc()
                log.warning("outbox relay cycle failed; retrying in %.1fs", backoff, exc_info=True)
                if self._stop.wait(backoff):
                    break
                backoff = min(backoff * 2, 30.0)
                continue
            if stopping:
                break
            self._wake.wait(self.poll_seconds)
            self._wake.clear()
            if self.coalesce_seconds > 0:
                time.sleep(self.coalesce_seconds)
        self.publisher.close()

    def pending(self) -> bool:
        """Whether the outbox holds a row (committed, maybe locked by another relay)."""
        with self.engine.connect() as conn:
            return conn.execute(self._peek).first() is not None

    def relay_once(self) -> int:
        """Publishes one batch; returns how many events it moved.

        One statement takes the batch out of the outbox (DELETE ... RETURNING over a SKIP LOCKED
        subquery); the transaction stays open while the broker confirms, so a failed publish
        rolls the rows back into the outbox.
        """
        with self.engine.begin() as conn:
            rows = sorted(conn.execute(self._take_batch, {"batch": self.batch_size}).all(), key=lambda r: r.seq)
            if rows:
                self.publisher.publish([OutgoingEvent(r.event_id, r.event_type, r.payload, dict(r.headers or {})) for r in rows])
                for r in rows:
                    metrics.events_published.labels(r.event_type).inc()
        self._maybe_update_stats()
        return len(rows)

    def _maybe_update_stats(self) -> None:
        if time.monotonic() >= self._next_stats:
            self._next_stats = time.monotonic() + self.stats_every_seconds
            self.update_stats()

    def update_stats(self) -> None:
        """Outbox depth and lag for Prometheus; at most once a second, off the hot path."""
        with self.engine.connect() as conn:
            pending, oldest = conn.execute(select(func.count(), func.min(self.table.c.created_at))).one()
        metrics.outbox_pending.set(pending)
        if oldest is not None and oldest.tzinfo is None:
            oldest = oldest.replace(tzinfo=utcnow().tzinfo)
        metrics.outbox_lag_seconds.set((utcnow() - oldest).total_seconds() if oldest else 0.0)


def outbox_relay(settings: ServiceSettings, engine: Engine, metadata: MetaData, producer: str) -> tuple[Background, RelayWakeup]:
    """The relay of a service's API process, and the wake-up its units of work signal on commit.
    With RELAY_IN_API=false the relay process relays instead: a stand-in, and a wake-up nobody
    listens to."""
    wakeup = RelayWakeup()
    if not settings.relay_in_api:
        return RunsElsewhere("outbox relay"), wakeup
    relay = OutboxRelay(
        engine,
        metadata,
        BatchPublisher(settings.amqp_uri, producer),
        wakeup,
        batch_size=settings.relay_batch_size,
        poll_seconds=settings.relay_poll_seconds,
        coalesce_seconds=settings.relay_coalesce_ms / 1000,
    )
    return relay, wakeup


def separate_outbox_relay(settings: ServiceSettings, engine: Engine, metadata: MetaData, producer: str) -> OutboxRelay:
    """The relay of the relay process (`crm-<service> relay`): no commit wakes it, so it looks at
    the outbox every RELAY_IDLE_POLL_MS; on stop it finishes the batch in flight only. Replicas
    relay side by side (SKIP LOCKED)."""
    return OutboxRelay(
        engine,
        metadata,
        BatchPublisher(settings.amqp_uri, producer),
        batch_size=settings.relay_batch_size,
        poll_seconds=settings.relay_idle_poll_ms / 1000,
        coalesce_seconds=0.0,
        idle_check=True,
        drain_on_stop=False,
    )

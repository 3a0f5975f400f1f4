"""What runs beside a server in its process (the outbox relay, periodic jobs)."""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

from crm_common.observability import metrics

if TYPE_CHECKING:
    # Only a service with a database has a DatabaseHealth: sqlalchemy is the `db` extra.
    from sqlalchemy import Engine

log = logging.getLogger("crm.lifecycle")


class Background(Protocol):
    """Started with the server; stopped after it has drained, in reverse order. One that has a
    `ready` attribute takes part in readiness: the API is ready while every such one is."""

    def start(self) -> None: ...

    def stop(self) -> None: ...


class RunsElsewhere:
    """Stands in for a helper that this process does not run (RELAY_IN_API=false: the relay
    process runs the outbox relay, the audit sealer and the janitor); starting it only says so."""

    def __init__(self, name: str) -> None:
        self.name = name

    def start(self) -> None:
        log.info("%s runs in the relay process (RELAY_IN_API=false), not here", self.name)

    def stop(self) -> None:
        pass


class PeriodicTask:
    """Runs `work` every `every_seconds` on a daemon thread of its own until stopped.

    A failing run is logged and the next one happens on time; stop() waits for a run in progress.
    """

    def __init__(self, name: str, every_seconds: float, work: Callable[[], object], join_seconds: float = 10.0) -> None:
        self.name = name
        self.every_seconds = every_seconds
        self.work = work
        self.join_seconds = join_seconds
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=self.join_seconds)

    def _run(self) -> None:
        while not self._stop.wait(self.every_seconds):
            try:
                self.work()
            except Exception:
                log.exception("%s failed; next run in %.0f s", self.name, self.every_seconds)


class DatabaseHealth:
    """Pings the service's database every few seconds; the API reports not-ready while it fails.

    Readiness (the service-name health check Kubernetes probes) goes NOT_SERVING, so traffic
    moves to healthy pods; liveness stays SERVING, so the pod is not restarted for a database
    outage it cannot fix.
    """

    def __init__(self, engine: Engine, every_seconds: float = 5.0) -> None:
        self.engine = engine
        self.ready = True
        self._task = PeriodicTask("database-health", every_seconds, self.check)

    def start(self) -> None:
        self.check()
        self._task.start()

    def stop(self) -> None:
        self._task.stop()

    def check(self) -> bool:
        from sqlalchemy import text

        try:
            with self.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
            ready = True
        except Exception as exc:  # any failure to reach the database means not ready
            if self.ready:
                log.warning("database unreachable: %s", exc)
            ready = False
        if ready and not self.ready:
            log.info("database reachable again")
        self.ready = ready
        metrics.dependency_up.labels("database").set(1 if ready else 0)
        return ready


def stop_on_signals(first: str, second: str, on_second: Callable[[], None]) -> threading.Event:
    """SIGTERM/SIGINT handling of a long-running process (the API, the relay): the first signal
    sets the returned event (the process then drains), a second one calls `on_second` (hurry)."""
    done = threading.Event()

    def on_signal(signum: int, _frame: object) -> None:
        if done.is_set():
            log.info(second, extra={"fields": {"signal": signum}})
            on_second()
            return
        log.info(first, extra={"fields": {"signal": signum}})
        done.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    return done

"""What runs beside a server in its process (the outbox relay, periodic jobs)."""

from __future__ import annotations

import logging
import threading
from typing import Protocol

from sqlalchemy import Engine, text

from crm_common.observability import metrics

log = logging.getLogger("crm.lifecycle")


class Background(Protocol):
    """Started with the server; stopped after it has drained, in reverse order. One that has a
    `ready` attribute takes part in readiness: the API is ready while every such one is."""

    def start(self) -> None: ...

    def stop(self) -> None: ...


class DatabaseHealth:
    """Pings the service's database every few seconds; the API reports not-ready while it fails.

    Readiness (the service-name health check Kubernetes probes) goes NOT_SERVING, so traffic
    moves to healthy pods; liveness stays SERVING, so the pod is not restarted for a database
    outage it cannot fix.
    """

    def __init__(self, engine: Engine, every_seconds: float = 5.0) -> None:
        self.engine = engine
        self.every_seconds = every_seconds
        self.ready = True
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="database-health", daemon=True)

    def start(self) -> None:
        self.check()
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def check(self) -> bool:
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

    def _run(self) -> None:
        while not self._stop.wait(self.every_seconds):
            self.check()

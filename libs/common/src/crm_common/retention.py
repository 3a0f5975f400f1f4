"""Retention of the platform tables: idempotency keys and inbox marks do not live forever.

An idempotency key only needs to outlive the caller's retries (hours); an inbox mark only needs
to outlive redeliveries and dead-letter replays (days). Both tables would otherwise grow by one
row per request and per event. The janitor deletes expired rows in small batches, so it never
holds long locks, from a thread of the API process, or of the relay process (RELAY_IN_API=false).
"""

from __future__ import annotations

import logging
from datetime import timedelta

from sqlalchemy import Engine, MetaData, Table, delete, select, tuple_

from crm_common.db import utcnow
from crm_common.lifecycle import Background, PeriodicTask, RunsElsewhere
from crm_common.settings import ServiceSettings

log = logging.getLogger("crm.retention")


class PlatformJanitor:
    def __init__(
        self,
        engine: Engine,
        metadata: MetaData,
        idempotency_retention: timedelta,
        inbox_retention: timedelta,
        every_seconds: float = 3600.0,
        batch_size: int = 5000,
    ) -> None:
        self.engine = engine
        self.targets: list[tuple[Table, str, timedelta]] = [
            (metadata.tables["idempotency_keys"], "created_at", idempotency_retention),
            (metadata.tables["inbox"], "processed_at", inbox_retention),
        ]
        self.batch_size = batch_size
        self._task = PeriodicTask("platform-janitor", every_seconds, self.purge)

    def start(self) -> None:
        self._task.start()

    def stop(self) -> None:
        self._task.stop()

    def purge(self) -> dict[str, int]:
        """Deletes every expired row, a batch per transaction; returns how many per table."""
        removed: dict[str, int] = {}
        for table, column, keep in self.targets:
            cutoff = utcnow() - keep
            total = 0
            pk = tuple_(*table.primary_key.columns)
            while not self._task.stopping:
                # A bounded batch per transaction (DELETE ... LIMIT is not portable).
                expired = select(*table.primary_key.columns).where(table.c[column] < cutoff).limit(self.batch_size)
                with self.engine.begin() as conn:
                    count = conn.execute(delete(table).where(pk.in_(expired))).rowcount
                total += count
                if count < self.batch_size:
                    break
            removed[table.name] = total
            if total:
                log.info("retention removed %d rows from %s", total, table.name)
        return removed


def platform_janitor(settings: ServiceSettings, engine: Engine, metadata: MetaData) -> Background:
    """The janitor of a service's API process; a stand-in when RELAY_IN_API=false, where the
    relay process runs it (`janitor`)."""
    if not settings.relay_in_api:
        return RunsElsewhere("platform janitor")
    return janitor(settings, engine, metadata)


def janitor(settings: ServiceSettings, engine: Engine, metadata: MetaData) -> PlatformJanitor:
    """The janitor from a service's settings, wherever it runs."""
    return PlatformJanitor(
        engine,
        metadata,
        idempotency_retention=timedelta(hours=settings.idempotency_retention_hours),
        inbox_retention=timedelta(days=settings.inbox_retention_days),
    )

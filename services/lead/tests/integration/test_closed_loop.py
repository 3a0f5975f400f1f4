"""The lead's closed-loop record of the opportunities it became, over SQLite and PostgreSQL."""

from __future__ import annotations

import threading

from sqlalchemy import select

from crm_common.db import new_id, utcnow
from crm_lead.adapters.orm import lead_opportunities
from crm_lead.adapters.repository import LeadRepository


def test_the_conversion_and_the_worker_may_record_one_opportunity_at_once(app) -> None:  # type: ignore[no-untyped-def]
    """The API finishing a conversion and the worker handling OpportunityCreated write the same
    row and neither waits for the other: the second writer must not fail on the first's insert."""
    lead_id, opportunity_id, now = new_id(), new_id(), utcnow()
    failures: list[BaseException] = []

    def worker_records() -> None:
        try:
            with app.engine.begin() as conn:
                LeadRepository(conn, app.pii).record_opportunity(lead_id, opportunity_id, "OPEN", 60_000_000, "VND", now)
        except BaseException as exc:  # reported by the assertion below
            failures.append(exc)

    with app.engine.connect() as conversion:
        transaction = conversion.begin()
        LeadRepository(conversion, app.pii).record_opportunity(lead_id, opportunity_id, "OPEN", 50_000_000, "VND", now)
        worker = threading.Thread(target=worker_records)
        worker.start()
        worker.join(0.5)  # it now waits on the uncommitted row
        transaction.commit()
    worker.join(10)
    assert not worker.is_alive() and failures == []
    with app.engine.connect() as conn:
        rows = conn.execute(select(lead_opportunities.c.lead_id, lead_opportunities.c.amount_minor)).all()
    assert [tuple(r) for r in rows] == [(lead_id, 60_000_000)]

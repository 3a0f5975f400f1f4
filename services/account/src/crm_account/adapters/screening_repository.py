"""Watchlist hits held for compliance review."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, insert, select, update

from crm_account.adapters.orm import screening_hits
from crm_account.domain.screening import ListKind, ReviewStatus, ScreeningHit
from crm_common.db import new_id
from crm_common.errors import NotFound
from crm_common.pagination import Page, newest_first


@dataclass(frozen=True)
class StoredHit:
    hit_id: str
    account_id: str
    entry_id: str
    list_kind: ListKind
    list_source: str
    matched_name: str
    score: float
    reasons: tuple[str, ...]
    list_version: str
    review: ReviewStatus
    review_note: str
    reviewed_by: str
    screened_at: datetime


def _hit(row: Any) -> StoredHit:
    return StoredHit(
        hit_id=row.hit_id,
        account_id=row.account_id,
        entry_id=row.entry_id,
        list_kind=ListKind(row.list_kind),
        list_source=row.list_source,
        matched_name=row.matched_name,
        score=row.score,
        reasons=tuple(json.loads(row.reasons)),
        list_version=row.list_version,
        review=ReviewStatus(row.review),
        review_note=row.review_note,
        reviewed_by=row.reviewed_by,
        screened_at=row.screened_at,
    )


class ScreeningRepository:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def record(self, account_id: str, hits: list[ScreeningHit], list_version: str, now: datetime) -> list[StoredHit]:
        """Holds new hits for review and refreshes pending ones; a reviewed hit keeps its verdict."""
        stored = []
        for hit in hits:
            values = {
                "matched_name": hit.matched_name,
                "score": hit.score,
                "reasons": json.dumps(list(hit.reasons), ensure_ascii=False),
                "list_version": list_version,
                "screened_at": now,
            }
            same = (screening_hits.c.account_id == account_id, screening_hits.c.entry_id == hit.entry.entry_id)
            row = self.conn.execute(select(screening_hits.c.hit_id, screening_hits.c.review).where(*same)).first()
            if row is None:
                kind = {"list_kind": str(hit.entry.kind), "list_source": hit.entry.source}
                review = {"review": str(ReviewStatus.PENDING_REVIEW), "review_note": "", "reviewed_by": ""}
                self.conn.execute(
                    insert(screening_hits).values(hit_id=new_id(), account_id=account_id, entry_id=hit.entry.entry_id, **kind, **review, **values)
                )
            elif row.review == ReviewStatus.PENDING_REVIEW:
                self.conn.execute(update(screening_hits).where(*same).values(**values))
            stored.append(_hit(self.conn.execute(select(screening_hits).where(*same)).one()))
        return stored

    def get(self, hit_id: str, for_update: bool = False) -> StoredHit:
        query = select(screening_hits).where(screening_hits.c.hit_id == hit_id)
        row = self.conn.execute(query.with_for_update() if for_update else query).first()
        if row is None:
            raise NotFound("screening_hit", hit_id)
        return _hit(row)

    def review(self, hit_id: str, verdict: ReviewStatus, note: str, actor: str) -> None:
        self.conn.execute(
            update(screening_hits).where(screening_hits.c.hit_id == hit_id).values(review=str(verdict), review_note=note, reviewed_by=actor)
        )

    def move(self, merged_id: str, survivor_id: str) -> list[str]:
        """A merged account's hits follow it to the survivor (kept, not re-raised); returns the
        ids of those moved (a hit on an entry the survivor has a hit on stays behind)."""
        taken = set(self.conn.scalars(select(screening_hits.c.entry_id).where(screening_hits.c.account_id == survivor_id)))
        moved = []
        for row in self.conn.execute(
            select(screening_hits.c.hit_id, screening_hits.c.entry_id).where(screening_hits.c.account_id == merged_id)
        ).all():
            if row.entry_id not in taken:
                self.conn.execute(update(screening_hits).where(screening_hits.c.hit_id == row.hit_id).values(account_id=survivor_id))
                moved.append(row.hit_id)
        return moved

    def move_back(self, hit_ids: list[str], survivor_id: str, merged_id: str) -> None:
        """Undoes `move` for the hits the survivor still has."""
        for start in range(0, len(hit_ids), 1000):
            part = hit_ids[start : start + 1000]
            c = screening_hits.c
            self.conn.execute(update(screening_hits).where(c.hit_id.in_(part), c.account_id == survivor_id).values(account_id=merged_id))

    def queue_of(self, account_id: str) -> list[StoredHit]:
        """Every hit of one account, reviewed or not."""
        query = select(screening_hits).where(screening_hits.c.account_id == account_id).order_by(screening_hits.c.screened_at)
        return [_hit(r) for r in self.conn.execute(query)]

    def queue(self, review: ReviewStatus, page: Page) -> tuple[list[StoredHit], dict[str, Any] | None]:
        query = select(screening_hits).where(screening_hits.c.review == str(review))
        rows, after = newest_first(self.conn, query, screening_hits.c.screened_at, screening_hits.c.hit_id, page)
        return [_hit(r) for r in rows], after

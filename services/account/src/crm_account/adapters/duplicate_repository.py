"""The stewards' queue of duplicate candidates, and the record of merges."""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, delete, insert, or_, select, update

from crm_account.adapters.orm import account_merges, duplicate_candidates
from crm_account.domain.duplicates import DuplicateCandidate, MergePlan
from crm_account.domain.merges import MergeMoves
from crm_common.db import new_id
from crm_common.errors import NotFound
from crm_common.pagination import Page, newest_first

OPEN, MERGED, DISMISSED = "OPEN", "MERGED", "DISMISSED"


def ordered(a: str, b: str) -> tuple[str, str]:
    """A pair is stored once, smaller id first."""
    return (a, b) if a < b else (b, a)


def pair_id(a: str, b: str) -> str:
    return ":".join(ordered(a, b))


def _pair(a: str, b: str) -> Any:
    return duplicate_candidates.c.pair_id == pair_id(a, b)


@dataclass(frozen=True)
class MergeUndo:
    """What undoing a merge needs: both accounts as stored just before it (AccountRepository.
    snapshot, PII still encrypted) and what moved in this store."""

    survivor_snapshot: str
    merged_snapshot: str
    moves: MergeMoves


@dataclass(frozen=True)
class StoredMerge:
    merge_id: str
    survivor_id: str
    merged_id: str
    merged_at: datetime
    undo: MergeUndo


class StoredCandidate:
    def __init__(self, row: Any) -> None:
        self.candidate = DuplicateCandidate(row.account_id, row.other_id, row.score, tuple(json.loads(row.reasons)))
        self.status: str = row.status
        self.detected_at: datetime = row.detected_at


class DuplicateRepository:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def record(self, found: list[DuplicateCandidate], now: datetime) -> None:
        """Adds new pairs to the queue and refreshes the score of open ones; a dismissed or
        merged pair stays as the steward left it."""
        for candidate in found:
            first, second = ordered(candidate.account_id, candidate.other_id)
            status = self.conn.scalar(select(duplicate_candidates.c.status).where(_pair(first, second)))
            values = {"score": candidate.score, "reasons": json.dumps(list(candidate.reasons), ensure_ascii=False)}
            if status is None:
                row = {
                    "pair_id": pair_id(first, second),
                    "account_id": first,
                    "other_id": second,
                    "status": OPEN,
                    "detected_at": now,
                    "reviewed_by": "",
                    "review_reason": "",
                }
                self.conn.execute(insert(duplicate_candidates).values(**row, **values))
            elif status == OPEN:
                self.conn.execute(update(duplicate_candidates).where(_pair(first, second)).values(**values))

    def get(self, a: str, b: str) -> StoredCandidate:
        row = self.conn.execute(select(duplicate_candidates).where(_pair(a, b))).first()
        if row is None:
            raise NotFound("duplicate_candidate", pair_id(a, b))
        return StoredCandidate(row)

    def review(self, a: str, b: str, status: str, actor: str, reason: str) -> None:
        self.conn.execute(update(duplicate_candidates).where(_pair(a, b)).values(status=status, reviewed_by=actor, review_reason=reason))

    def forget_open(self, account_id: str) -> None:
        """Drops the open pairs of an account that no longer exists on its own (merged away)."""
        involves = or_(duplicate_candidates.c.account_id == account_id, duplicate_candidates.c.other_id == account_id)
        self.conn.execute(delete(duplicate_candidates).where(involves, duplicate_candidates.c.status == OPEN))

    def queue(self, min_score: int, page: Page) -> tuple[list[StoredCandidate], dict[str, Any] | None]:
        query = select(duplicate_candidates).where(duplicate_candidates.c.status == OPEN, duplicate_candidates.c.score >= min_score)
        rows, after = newest_first(self.conn, query, duplicate_candidates.c.detected_at, duplicate_candidates.c.pair_id, page)
        return [StoredCandidate(r) for r in rows], after

    def record_merge(self, plan: MergePlan, actor: str, reason: str, now: datetime, undo: MergeUndo) -> str:
        """Records a merge and what undoing it needs; returns the merge's id."""
        merge_id = new_id()
        self.conn.execute(
            insert(account_merges).values(
                merge_id=merge_id,
                survivor_id=plan.survivor_id,
                merged_id=plan.merged_id,
                merged_at=now,
                merged_by=actor,
                reason=reason,
                field_sources=json.dumps(plan.field_sources),
                survivor_snapshot=undo.survivor_snapshot,
                merged_snapshot=undo.merged_snapshot,
                moves=undo.moves.to_json(),
                unmerged_by="",
                unmerge_reason="",
            )
        )
        return merge_id

    def merge_of(self, merged_id: str, for_update: bool = False) -> StoredMerge | None:
        """The merge in force that took `merged_id` away (None when it is an account of its own)."""
        query = select(account_merges).where(account_merges.c.merged_id == merged_id, account_merges.c.unmerged_at.is_(None))
        row = self.conn.execute(query.with_for_update() if for_update else query).first()
        if row is None:
            return None
        undo = MergeUndo(row.survivor_snapshot, row.merged_snapshot, MergeMoves.from_json(row.moves))
        return StoredMerge(row.merge_id, row.survivor_id, row.merged_id, row.merged_at, undo)

    def mark_unmerged(self, merge_id: str, actor: str, reason: str, now: datetime) -> None:
        """The merge was undone; its snapshots are dropped (nothing will restore from them)."""
        self.conn.execute(
            update(account_merges)
            .where(account_merges.c.merge_id == merge_id)
            .values(unmerged_at=now, unmerged_by=actor, unmerge_reason=reason, survivor_snapshot="", merged_snapshot="")
        )

    def forget_snapshots(self, account_id: str) -> None:
        """Drops the pre-merge snapshots of every merge `account_id` took part in (an erased
        person's data must not linger there; such merges can no longer be undone)."""
        m = account_merges.c
        involved = or_(m.survivor_id == account_id, m.merged_id == account_id)
        self.conn.execute(update(account_merges).where(involved).values(survivor_snapshot="", merged_snapshot=""))
        # The match keys a merge moved are the person's blind indexes: only an unmerge needed them.
        for merge_id, moves in self.conn.execute(select(m.merge_id, m.moves).where(involved)).all():
            kept = replace(MergeMoves.from_json(moves), match_keys=[])
            self.conn.execute(update(account_merges).where(m.merge_id == merge_id).values(moves=kept.to_json()))

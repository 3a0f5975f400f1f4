"""Erasure requests, and what an export gathers beyond the account itself."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Connection, delete, insert, select, update

from crm_account.adapters.orm import consent_history, consents, erasure_requests, screening_hits
from crm_account.domain.privacy import ErasureRequest
from crm_common.errors import NotFound


def _request(row: Any) -> ErasureRequest:
    return ErasureRequest(
        erasure_id=row.erasure_id,
        account_id=row.account_id,
        reason=row.reason,
        requested_at=row.requested_at,
        requested_by=row.requested_by,
        pending=json.loads(row.pending_services),
        confirmed=json.loads(row.confirmed_services),
        completed_at=row.completed_at,
    )


class PrivacyRepository:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def add(self, request: ErasureRequest) -> None:
        self.conn.execute(
            insert(erasure_requests).values(
                erasure_id=request.erasure_id,
                account_id=request.account_id,
                reason=request.reason,
                requested_at=request.requested_at,
                requested_by=request.requested_by,
                pending_services=json.dumps(request.pending),
                confirmed_services=json.dumps(request.confirmed),
                completed_at=request.completed_at,
            )
        )

    def get(self, erasure_id: str, for_update: bool = False) -> ErasureRequest:
        query = select(erasure_requests).where(erasure_requests.c.erasure_id == erasure_id)
        row = self.conn.execute(query.with_for_update() if for_update else query).first()
        if row is None:
            raise NotFound("erasure_request", erasure_id)
        return _request(row)

    def for_account(self, account_id: str) -> ErasureRequest | None:
        row = self.conn.execute(select(erasure_requests).where(erasure_requests.c.account_id == account_id)).first()
        return _request(row) if row is not None else None

    def save(self, request: ErasureRequest) -> None:
        self.conn.execute(
            update(erasure_requests)
            .where(erasure_requests.c.erasure_id == request.erasure_id)
            .values(
                pending_services=json.dumps(request.pending),
                confirmed_services=json.dumps(request.confirmed),
                completed_at=request.completed_at,
            )
        )

    def forget_consents_and_hits(self, account_id: str) -> None:
        """An erased person can be sent nothing and screened no more: their consent records and
        watchlist hits go (the evidence would identify them)."""
        for table in (consents, consent_history, screening_hits):
            self.conn.execute(delete(table).where(table.c.account_id == account_id))

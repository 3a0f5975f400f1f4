"""Reading and writing consent decisions: the one in force per scope, and the full history."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from sqlalchemy import Connection, delete, insert, select, update

from crm_account.adapters.orm import consent_history, consents
from crm_account.domain.consent import Consent, ConsentPurpose, ConsentStatus
from crm_account.domain.model import ContactChannel
from crm_common.pagination import Page, newest_first


def _row(consent: Consent) -> dict[str, Any]:
    return {
        "consent_id": consent.consent_id,
        "account_id": consent.account_id,
        "purpose": str(consent.purpose),
        "channel": str(consent.channel or ""),
        "status": str(consent.status),
        "source": consent.source,
        "evidence_ref": consent.evidence_ref,
        "decided_at": consent.decided_at,
        "expires_at": consent.expires_at,
        "recorded_at": consent.recorded_at,
        "recorded_by": consent.recorded_by,
    }


def _consent(row: Any) -> Consent:
    return Consent(
        consent_id=row.consent_id,
        account_id=row.account_id,
        purpose=ConsentPurpose(row.purpose),
        channel=ContactChannel(row.channel) if row.channel else None,
        status=ConsentStatus(row.status),
        source=row.source,
        evidence_ref=row.evidence_ref,
        decided_at=row.decided_at,
        expires_at=row.expires_at,
        recorded_at=row.recorded_at,
        recorded_by=row.recorded_by,
    )


class ConsentRepository:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def in_force(self, account_id: str, purpose: ConsentPurpose, channel: ContactChannel | None) -> Consent | None:
        row = self.conn.execute(
            select(consents).where(consents.c.account_id == account_id, consents.c.purpose == str(purpose), consents.c.channel == str(channel or ""))
        ).first()
        return _consent(row) if row is not None else None

    def all_in_force(self, account_id: str) -> list[Consent]:
        query = select(consents).where(consents.c.account_id == account_id).order_by(consents.c.purpose, consents.c.channel)
        return [_consent(r) for r in self.conn.execute(query)]

    def record(self, consent: Consent, in_force: bool) -> None:
        """Adds the decision to the history and, when `in_force`, makes it the one in force."""
        row = _row(consent)
        self.conn.execute(insert(consent_history).values(row))
        if in_force:
            self.conn.execute(
                delete(consents).where(
                    consents.c.account_id == consent.account_id, consents.c.purpose == row["purpose"], consents.c.channel == row["channel"]
                )
            )
            self.conn.execute(insert(consents).values(row))

    def get(self, consent_id: str) -> Consent:
        return _consent(self.conn.execute(select(consent_history).where(consent_history.c.consent_id == consent_id)).one())

    def history(self, account_id: str, page: Page) -> tuple[list[Consent], dict[str, Any] | None]:
        query = select(consent_history).where(consent_history.c.account_id == account_id)
        rows, after = newest_first(self.conn, query, consent_history.c.recorded_at, consent_history.c.consent_id, page)
        return [_consent(r) for r in rows], after

    def history_ids(self, account_id: str) -> list[str]:
        """The ids of every decision recorded for the account."""
        return list(self.conn.scalars(select(consent_history.c.consent_id).where(consent_history.c.account_id == account_id)))

    def take_back(self, consent_ids: list[str], survivor_id: str, merged_id: str) -> list[Consent]:
        """Undoes `merge_into`: the decisions moved to the survivor go back to the merged account,
        and each account's decisions in force are decided again from its own history. Returns
        the decisions that came into force."""
        for start in range(0, len(consent_ids), 1000):
            part = consent_ids[start : start + 1000]
            c = consent_history.c
            self.conn.execute(update(consent_history).where(c.consent_id.in_(part), c.account_id == survivor_id).values(account_id=merged_id))
        return self._decide_again(survivor_id) + self._decide_again(merged_id)

    def _decide_again(self, account_id: str) -> list[Consent]:
        """Rebuilds the decisions in force from the history (the latest per scope decides);
        returns those that were not in force before."""
        before = {c.consent_id for c in self.all_in_force(account_id)}
        latest: dict[tuple[str, str], Consent] = {}
        for row in self.conn.execute(select(consent_history).where(consent_history.c.account_id == account_id)):
            decision = _consent(row)
            scope = (str(decision.purpose), str(decision.channel or ""))
            if decision.supersedes(latest.get(scope)):
                latest[scope] = decision
        self.conn.execute(delete(consents).where(consents.c.account_id == account_id))
        if latest:
            self.conn.execute(insert(consents), [_row(c) for c in latest.values()])
        return [c for c in latest.values() if c.consent_id not in before]

    def merge_into(self, merged_id: str, survivor_id: str) -> list[Consent]:
        """Gives the survivor the merged account's decisions: its history, and per scope the
        decision that supersedes the survivor's own. Returns those that now come into force."""
        self.conn.execute(update(consent_history).where(consent_history.c.account_id == merged_id).values(account_id=survivor_id))
        now_in_force = []
        for theirs in self.all_in_force(merged_id):
            moved = replace(theirs, account_id=survivor_id)
            self.conn.execute(
                delete(consents).where(
                    consents.c.account_id == merged_id, consents.c.purpose == str(theirs.purpose), consents.c.channel == str(theirs.channel or "")
                )
            )
            if moved.supersedes(self.in_force(survivor_id, moved.purpose, moved.channel)):
                self.conn.execute(
                    delete(consents).where(
                        consents.c.account_id == survivor_id, consents.c.purpose == str(moved.purpose), consents.c.channel == str(moved.channel or "")
                    )
                )
                self.conn.execute(insert(consents).values(_row(moved)))
                now_in_force.append(moved)
        return now_in_force

"""Activities and the RM's worklist.

Subjects, notes and outcomes are free text that may name the customer or give their phone: they
are stored as AES-GCM tokens bound to the activity and column (`ACTIVITIES_PII`), never in clear.
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Connection, case, false, func, insert, or_, select, true, update

from crm_common.auth.scopes import DataScope
from crm_common.errors import NotFound
from crm_common.events.erasure import ERASED_NAME
from crm_common.pagination import Page, newest_first
from crm_common.pii import PiiCodec
from crm_opportunity.adapters.orm import ACTIVITIES_PII, activities, opportunities
from crm_opportunity.adapters.repository import in_scope as opportunity_in_scope
from crm_opportunity.domain.activities import Activity, ActivityKind, ActivityStatus

# Activity field → the column holding its ciphertext.
_SEALED_FIELDS = {"subject": "subject_enc", "notes": "notes_enc", "outcome": "outcome_enc"}


def _activity(pii: PiiCodec, row: Any) -> Activity:
    data = dict(row._mapping)
    for name, column in _SEALED_FIELDS.items():
        data[name] = pii.decrypt(ACTIVITIES_PII.context(column, data["activity_id"]), data.pop(column))
    return Activity(**{**data, "kind": ActivityKind(data["kind"]), "status": ActivityStatus(data["status"])})


def _row(pii: PiiCodec, activity: Activity) -> dict[str, Any]:
    row = asdict(activity)
    row["kind"], row["status"] = str(activity.kind), str(activity.status)
    for name, column in _SEALED_FIELDS.items():
        row[column] = pii.encrypt(ACTIVITIES_PII.context(column, activity.activity_id), row.pop(name))
    return row


def in_scope(scope: DataScope) -> ColumnElement[bool]:
    """The activities `scope` reaches: its own (by owner), and those on opportunities it reaches."""
    if scope.everything:
        return true()
    a = activities.c
    on_reached = a.opportunity_id.in_(select(opportunities.c.opportunity_id).where(opportunity_in_scope(scope)))
    return or_(scope.condition(owner=a.owner_id), on_reached)


class ActivityRepository:
    def __init__(self, conn: Connection, pii: PiiCodec) -> None:
        self.conn = conn
        self.pii = pii

    def add(self, activity: Activity) -> None:
        self.conn.execute(insert(activities).values(_row(self.pii, activity)))

    def save(self, activity: Activity) -> None:
        row = _row(self.pii, activity)
        self.conn.execute(update(activities).where(activities.c.activity_id == row.pop("activity_id")).values(row))

    def get(self, activity_id: str, scope: DataScope, for_update: bool = False) -> Activity:
        """The activity, if `scope` reaches it; NOT_FOUND otherwise."""
        query = select(activities).where(activities.c.activity_id == activity_id, in_scope(scope))
        row = self.conn.execute(query.with_for_update() if for_update else query).first()
        if row is None:
            raise NotFound("activity", activity_id)
        return _activity(self.pii, row)

    def of(self, opportunity_id: str, account_id: str, page: Page, scope: DataScope) -> tuple[list[Activity], dict[str, Any] | None]:
        where = activities.c.opportunity_id == opportunity_id if opportunity_id else activities.c.account_id == account_id
        rows, after = newest_first(
            self.conn, select(activities).where(where, in_scope(scope)), activities.c.created_at, activities.c.activity_id, page
        )
        return [_activity(self.pii, r) for r in rows], after

    def worklist(self, owner_id: str, now: datetime, limit: int, scope: DataScope) -> tuple[list[Activity], int]:
        """The owner's open activities that `scope` reaches, overdue first, then by due time
        (none last); and how many are overdue."""
        a = activities.c
        mine = (a.owner_id == owner_id, a.status == str(ActivityStatus.OPEN), in_scope(scope))
        no_due_last = case((a.due_at.is_(None), 1), else_=0)
        rows = self.conn.execute(select(activities).where(*mine).order_by(no_due_last, a.due_at, a.activity_id).limit(limit))
        overdue = self.conn.scalar(select(func.count()).select_from(activities).where(*mine, a.due_at < now))
        return [_activity(self.pii, r) for r in rows], int(overdue or 0)

    def met_with(self, opportunity_ids: list[str]) -> set[str]:
        """Opportunities with a meeting held or planned (for next best actions)."""
        a = activities.c
        found: set[str] = set()
        for start in range(0, len(opportunity_ids), 1000):
            part = opportunity_ids[start : start + 1000]
            meetings = (a.opportunity_id.in_(part), a.kind == str(ActivityKind.MEETING), a.status != str(ActivityStatus.CANCELLED))
            found.update(self.conn.scalars(select(a.opportunity_id).where(*meetings).distinct()))
        return found

    def _of_person(self, account_ids: tuple[str, ...], opportunity_ids: list[str]) -> ColumnElement[bool]:
        a = activities.c
        clauses = [column.in_(ids) for column, ids in ((a.account_id, list(account_ids)), (a.opportunity_id, opportunity_ids)) if ids]
        return or_(*clauses) if clauses else false()

    def of_person(self, account_ids: tuple[str, ...], opportunity_ids: list[str]) -> list[Activity]:
        """A person's activities: on their accounts or on their opportunities, oldest first."""
        query = select(activities).where(self._of_person(account_ids, opportunity_ids)).order_by(activities.c.created_at, activities.c.activity_id)
        return [_activity(self.pii, r) for r in self.conn.execute(query)]

    def anonymise_person(self, account_ids: tuple[str, ...], opportunity_ids: list[str]) -> int:
        """Blanks what people wrote about an erased person: subjects, notes, outcomes."""
        ids = list(self.conn.scalars(select(activities.c.activity_id).where(self._of_person(account_ids, opportunity_ids))))
        for activity_id in ids:
            # The erased marker is sealed like any subject (one token per row: contexts differ).
            blank = {
                "subject_enc": self.pii.encrypt(ACTIVITIES_PII.context("subject_enc", activity_id), ERASED_NAME),
                "notes_enc": "",
                "outcome_enc": "",
            }
            self.conn.execute(update(activities).where(activities.c.activity_id == activity_id).values(blank))
        return len(ids)

"""Activities: calls, meetings, tasks and notes on an opportunity or an account, with due dates,
outcomes and an owner; the RM's worklist is their open ones, overdue first."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from crm_common.errors import FailedPrecondition, FieldViolation

MAX_SUBJECT = 200
MAX_NOTES = 4000
MAX_OUTCOME = 500


class ActivityKind(StrEnum):
    CALL = "CALL"
    MEETING = "MEETING"
    TASK = "TASK"
    NOTE = "NOTE"


class ActivityStatus(StrEnum):
    OPEN = "OPEN"
    COMPLETED = "COMPLETED"
    CANCELLED = "CANCELLED"


@dataclass
class Activity:
    activity_id: str
    kind: ActivityKind
    account_id: str
    opportunity_id: str
    owner_id: str
    subject: str
    notes: str
    due_at: datetime | None
    status: ActivityStatus
    outcome: str
    completed_at: datetime | None
    created_at: datetime
    created_by: str
    updated_at: datetime
    updated_by: str

    def overdue(self, now: datetime) -> bool:
        return self.status is ActivityStatus.OPEN and self.due_at is not None and self.due_at < now

    def complete(self, outcome: str, actor: str, now: datetime) -> None:
        if self.status is not ActivityStatus.OPEN:
            raise FailedPrecondition(f"activity {self.activity_id} is {self.status}")
        self.status, self.outcome, self.completed_at = ActivityStatus.COMPLETED, outcome, now
        self.updated_at, self.updated_by = now, actor

    def cancel(self, actor: str, now: datetime) -> None:
        if self.status is not ActivityStatus.OPEN:
            raise FailedPrecondition(f"activity {self.activity_id} is {self.status}")
        self.status, self.updated_at, self.updated_by = ActivityStatus.CANCELLED, now, actor


@dataclass(frozen=True)
class ActivityDraft:
    kind: str
    subject: str
    notes: str = ""
    due_at: datetime | None = None


def clean_activity(draft: ActivityDraft) -> tuple[ActivityKind | None, list[FieldViolation]]:
    """The kind, or every violation (subject, notes, due time rules)."""
    violations: list[FieldViolation] = []
    kind = ActivityKind.__members__.get(draft.kind)
    if kind is None:
        violations.append(FieldViolation("kind", "required" if not draft.kind else "unknown value"))
    if not draft.subject.strip():
        violations.append(FieldViolation("subject", "required"))
    elif len(draft.subject) > MAX_SUBJECT:
        violations.append(FieldViolation("subject", f"at most {MAX_SUBJECT} characters"))
    if len(draft.notes) > MAX_NOTES:
        violations.append(FieldViolation("notes", f"at most {MAX_NOTES} characters"))
    if kind is ActivityKind.NOTE and draft.due_at is not None:
        violations.append(FieldViolation("due_time", "a note has no due time"))
    return kind, violations

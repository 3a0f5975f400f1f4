"""Who gets a lead, and by when they must first contact it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from crm_common.errors import FailedPrecondition, echo


@dataclass(frozen=True)
class FirstContactSla:
    """Hot leads (score at or above `hot_score`) must be contacted sooner."""

    standard_minutes: int = 240
    hot_minutes: int = 30
    hot_score: int = 60

    def due_at(self, assigned_at: datetime, score: int) -> datetime:
        minutes = self.hot_minutes if score >= self.hot_score else self.standard_minutes
        return assigned_at + timedelta(minutes=minutes)


def round_robin_pick(team_id: str, members: list[str], turn: int) -> str:
    """The member whose turn it is; `turn` is the team's ever-increasing assignment counter."""
    if not members:
        raise FailedPrecondition(f"team {echo(team_id)} has no members to assign to")
    return members[turn % len(members)]

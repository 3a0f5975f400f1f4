"""The opportunity, its money and its status."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from crm_common.errors import FailedPrecondition
from crm_common.ids import is_valid_id as is_valid_id  # the domain's callers import it from here
from crm_common.products import ProductType

DEFAULT_CURRENCY = "VND"
_CURRENCY = re.compile(r"[A-Z]{3}")


class Status(StrEnum):
    OPEN = "OPEN"
    WON = "WON"
    LOST = "LOST"


# The stages a closed opportunity sits in, with their certainty.
WON_STAGE, LOST_STAGE = "closed_won", "closed_lost"
# Products that go through the loan origination system, and the stage that hands them over.
CREDIT_PRODUCTS = frozenset({ProductType.CREDIT_CARD, ProductType.UNSECURED_LOAN, ProductType.MORTGAGE, ProductType.AUTO_LOAN})
SUBMITTED_STAGE = "submitted_to_los"
# The lost reason a declining LOS decision records (every credit product's list has it).
LOS_DECLINED_REASON = "NOT_ELIGIBLE"
# What UpdateOpportunity may change on an open opportunity (the domain's names).
UPDATABLE_FIELDS = ("amount", "expected_close_at", "owner_id", "team_id", "territory_id", "probability_percent", "next_step")


@dataclass(frozen=True)
class Money:
    """An amount in integer minor units of an ISO 4217 currency (VND has none: đồng)."""

    amount_minor: int
    currency: str = DEFAULT_CURRENCY

    @staticmethod
    def currency_problem(code: str) -> str | None:
        return None if _CURRENCY.fullmatch(code) else "an ISO 4217 code: three letters, e.g. VND"


@dataclass
class Opportunity:
    opportunity_id: str
    account_id: str
    product: ProductType
    amount: Money
    expected_close_at: datetime | None
    owner_id: str
    team_id: str
    # The lead this opportunity was converted from, if any ('' otherwise).
    source_lead_id: str
    campaign_id: str
    status: Status
    stage: str
    probability_percent: int
    created_at: datetime
    created_by: str
    updated_at: datetime
    updated_by: str
    closed_at: datetime | None = None
    lost_reason: str = ""
    competitor: str = ""
    # The pipeline version it was opened under, the checklist items done, and since when it
    # has been in its stage.
    pipeline_version: int = 1
    checklist: tuple[str, ...] = ()
    stage_entered_at: datetime | None = None
    application_id: str = ""
    decision_note: str = ""
    territory_id: str = ""
    # The forecast category of its stage; CLOSED once won or lost.
    forecast_category: str = "PIPELINE"
    # What the RM will do next, in words.
    next_step: str = ""
    # probability_percent was set by hand (the RM knows better than the stage); the next stage
    # move, close or reopen sets the stage's own again.
    probability_overridden: bool = False

    def present_fields(self) -> set[str]:
        """Which of the fields a stage may require are set."""
        present = {"amount"} if self.amount.amount_minor > 0 else set()
        return present | ({"expected_close_at"} if self.expected_close_at else set()) | ({"owner_id"} if self.owner_id else set())

    def tick(self, items: tuple[str, ...]) -> None:
        self.checklist = tuple(sorted(set(self.checklist) | set(items)))

    def move_to(self, stage: str, probability_percent: int, forecast_category: str, actor: str, now: datetime) -> None:
        if self.status is not Status.OPEN:
            raise FailedPrecondition(f"opportunity {self.opportunity_id} is {self.status}: it no longer moves")
        self.stage, self.probability_percent, self.stage_entered_at = stage, probability_percent, now
        self.forecast_category, self.probability_overridden = forecast_category, False
        self.updated_at, self.updated_by = now, actor

    def amend(self, changes: dict[str, Any], actor: str, now: datetime) -> list[str]:
        """Applies the changes (UPDATABLE_FIELDS → clean value) to an open opportunity; returns
        the names of the fields whose value actually changed, in UPDATABLE_FIELDS order."""
        if self.status is not Status.OPEN:
            raise FailedPrecondition(f"opportunity {self.opportunity_id} is {self.status}: reopen it before changing it")
        # Setting the probability is an override even when it equals the stage's figure today.
        overriding = "probability_percent" in changes and not self.probability_overridden
        changed = [
            name
            for name in UPDATABLE_FIELDS
            if name in changes and (getattr(self, name) != changes[name] or (name == "probability_percent" and overriding))
        ]
        for name in changed:
            setattr(self, name, changes[name])
        if "probability_percent" in changes:
            self.probability_overridden = True
        if changed:
            self.updated_at, self.updated_by = now, actor
        return changed

    def _close(self, status: Status, stage: str, probability: int, actor: str, now: datetime) -> None:
        if self.status is not Status.OPEN:
            raise FailedPrecondition(f"opportunity {self.opportunity_id} is already {self.status}")
        self.status, self.stage, self.probability_percent = status, stage, probability
        self.closed_at, self.updated_at, self.updated_by, self.stage_entered_at = now, now, actor, now
        self.forecast_category, self.probability_overridden = "CLOSED", False

    def win(self, final_amount: Money | None, actor: str, now: datetime) -> None:
        """Won, at the final amount (the opportunity's own when none is given)."""
        self._close(Status.WON, WON_STAGE, 100, actor, now)
        if final_amount is not None:
            self.amount = final_amount

    def lose(self, reason_code: str, competitor: str, actor: str, now: datetime, note: str = "") -> None:
        self._close(Status.LOST, LOST_STAGE, 0, actor, now)
        self.lost_reason, self.competitor, self.decision_note = reason_code, competitor, note

    def reopen(self, stage: str, probability_percent: int, forecast_category: str, reason: str, actor: str, now: datetime) -> Status:
        """Open again at `stage`; returns the status it had (WON means a clawback)."""
        if self.status is Status.OPEN:
            raise FailedPrecondition(f"opportunity {self.opportunity_id} is open")
        previous = self.status
        self.status, self.closed_at, self.lost_reason, self.competitor, self.decision_note = Status.OPEN, None, "", "", reason
        self.stage, self.probability_percent, self.stage_entered_at = stage, probability_percent, now
        self.forecast_category, self.probability_overridden = forecast_category, False
        self.updated_at, self.updated_by = now, actor
        return previous


@dataclass(frozen=True)
class StageVisit:
    """One stay of an opportunity in a stage (left_at None: it is still there)."""

    stage: str
    entered_at: datetime
    left_at: datetime | None
    moved_by: str

"""Events the quota half consumes, synthesized as their producers publish them, and delivered to the
worker's handlers without a broker (crm_common.testing.delivery)."""

from __future__ import annotations

from datetime import UTC, date, datetime

from nameko.testing.services import worker_factory

from crm.account.v1 import account_pb2
from crm.account.v1 import events_pb2 as account_events
from crm.common.v1 import common_pb2
from crm.opportunity.v1 import events_pb2 as opportunity_events
from crm.opportunity.v1 import opportunity_pb2
from crm.territory.v1 import events_pb2 as territory_events
from crm.territory.v1 import territory_pb2
from crm_common.events.envelope import new_event
from crm_common.testing import LiveService, bearer, delivery
from crm_territory.entrypoints.worker import TerritoryWorker

PLANNER = bearer("planner-1", ["sales_ops"])
CHECKER = bearer("head-1", ["head_of_sales"])
BOTH = bearer("planner-1", ["sales_ops", "head_of_sales"])
RM = bearer("rm-a", ["rm"])


def worker(api: LiveService) -> TerritoryWorker:
    made: TerritoryWorker = worker_factory(TerritoryWorker, use_cases=api.app.use_cases)
    return made


def at(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, 10, tzinfo=UTC)


def assign(
    w: TerritoryWorker, account_id: str, territory_id: str, owner_id: str, team_id: str, effective: date, occurred: datetime | None = None
) -> str:
    assignment = territory_pb2.AccountAssignment(account_id=account_id, territory_id=territory_id, owner_id=owner_id, team_id=team_id)
    assignment.effective_time.FromDatetime(at(effective))
    event = new_event(territory_events.AccountTerritoryAssigned, "territory-quota", occurred_at=occurred or at(effective), assignment=assignment)
    return str(w.on_account_territory_assigned(delivery(event, "territory-quota.on_account_territory_assigned")))


def opportunity(
    opportunity_id: str,
    account_id: str,
    product: int,
    amount: int,
    owner_id: str,
    status: int = opportunity_pb2.OPPORTUNITY_STATUS_OPEN,
    probability: int = 0,
    expected_close: date | None = None,
    territory_id: str = "",
    team_id: str = "",
) -> opportunity_pb2.Opportunity:
    o = opportunity_pb2.Opportunity(
        opportunity_id=opportunity_id,
        account_id=account_id,
        product=product,
        amount=common_pb2.Money(currency_code="VND", amount_minor=amount),
        owner_id=owner_id,
        team_id=team_id,
        territory_id=territory_id,
        status=status,
        probability_percent=probability,
    )
    if expected_close is not None:
        o.expected_close_time.FromDatetime(at(expected_close))
    return o


def won(w: TerritoryWorker, o: opportunity_pb2.Opportunity, closed: date, event_id: str = "") -> str:
    o.status = opportunity_pb2.OPPORTUNITY_STATUS_WON
    event = new_event(
        opportunity_events.OpportunityWon, "opportunity", occurred_at=at(closed), opportunity=o, won_amount=o.amount, close_time=_stamp(closed)
    )
    if event_id:
        event.metadata.event_id = event_id
    return str(w.on_opportunity_won(delivery(event, "territory-quota.on_opportunity_won")))


def reopened(w: TerritoryWorker, o: opportunity_pb2.Opportunity, day: date) -> str:
    o.status = opportunity_pb2.OPPORTUNITY_STATUS_OPEN
    event = new_event(
        opportunity_events.OpportunityReopened,
        "opportunity",
        occurred_at=at(day),
        opportunity=o,
        previous_status=opportunity_pb2.OPPORTUNITY_STATUS_WON,
    )
    return str(w.on_opportunity_reopened(delivery(event, "territory-quota.on_opportunity_reopened")))


def created(w: TerritoryWorker, o: opportunity_pb2.Opportunity, day: date) -> str:
    event = new_event(opportunity_events.OpportunityCreated, "opportunity", occurred_at=at(day), opportunity=o)
    return str(w.on_opportunity_created(delivery(event, "territory-quota.on_opportunity_created")))


def holding_opened(w: TerritoryWorker, holding_id: str, account_id: str, product: int, amount: int, opened: date) -> str:
    holding = account_pb2.Holding(
        holding_id=holding_id,
        account_id=account_id,
        product_type=product,
        source=account_pb2.HOLDING_SOURCE_CORE_BANKING,
        open_date=common_pb2.Date(year=opened.year, month=opened.month, day=opened.day),
        balance=common_pb2.Money(currency_code="VND", amount_minor=amount),
        limit=common_pb2.Money(currency_code="VND", amount_minor=amount),
    )
    event = new_event(account_events.HoldingOpened, "account", occurred_at=at(opened), holding=holding)
    return str(w.on_holding_opened(delivery(event, "territory-quota.on_holding_opened")))


def holding_closed(w: TerritoryWorker, holding_id: str, day: date) -> str:
    event = new_event(account_events.HoldingClosed, "account", occurred_at=at(day), holding=account_pb2.Holding(holding_id=holding_id))
    return str(w.on_holding_closed(delivery(event, "territory-quota.on_holding_closed")))


def _stamp(day: date) -> object:
    from google.protobuf.timestamp_pb2 import Timestamp

    stamp = Timestamp()
    stamp.FromDatetime(at(day))
    return stamp

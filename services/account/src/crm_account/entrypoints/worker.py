"""The event worker (nameko, eventlet): the account service's reactions to other services' events."""

from __future__ import annotations

from typing import Any

from crm.account.v1.events_pb2 import KycOutcomeReported
from crm.common.v1 import common_pb2
from crm.common.v1.common_pb2 import ErasureConfirmed
from crm.lead.v1 import events_pb2 as lead_events
from crm.lead.v1 import lead_pb2
from crm.opportunity.v1 import events_pb2 as opportunity_events
from crm.opportunity.v1 import opportunity_pb2
from crm.territory.v1.events_pb2 import AccountTerritoryAssigned
from crm_account.adapters.proto_mapping import kyc_outcome_from_proto
from crm_account.bootstrap import bootstrap, erasure_services
from crm_account.config import AccountSettings
from crm_account.domain.holdings import ProductType
from crm_account.domain.model import Acquisition
from crm_account.service_layer import commands
from crm_common.db import utcnow
from crm_common.events.consumer import Delivery, EventContext, ServiceHandlers, event_handler
from crm_common.grpc.enums import UNKNOWN, enum_name
from crm_common.settings import load_settings


def _channel(value: int) -> str:
    """`CHANNEL_WEB_FORM` → `WEB_FORM`, the way the lead service names channels; a channel this
    build does not know is left blank (attribution is kept, not refused)."""
    name = enum_name(lead_pb2.Channel, value)
    return "" if name == UNKNOWN else name


def acquisition_command(delivery: Delivery) -> commands.RecordAcquisition:
    event: lead_events.LeadConverted = delivery.event
    conversion, source = event.conversion, event.source
    if conversion.HasField("convert_time"):
        acquired_at = conversion.convert_time.ToDatetime(tzinfo=utcnow().tzinfo)
    elif event.metadata.HasField("occur_time"):
        acquired_at = event.metadata.occur_time.ToDatetime(tzinfo=utcnow().tzinfo)
    else:
        acquired_at = utcnow()
    return commands.RecordAcquisition(
        consumer=delivery.consumer,
        event_id=delivery.event_id,
        account_id=conversion.account_id,
        acquisition=Acquisition(
            lead_id=event.lead_id,
            channel=_channel(source.channel),
            campaign_id=source.campaign_id,
            utm_source=source.utm.source,
            utm_medium=source.utm.medium,
            utm_campaign=source.utm.campaign,
            acquired_at=acquired_at,
        ),
        correlation_id=event.metadata.correlation_id,
    )


def won_holding_command(delivery: Delivery) -> commands.OpenWonHolding:
    event: opportunity_events.OpportunityWon = delivery.event
    opportunity = event.opportunity
    won_at = event.close_time.ToDatetime(tzinfo=utcnow().tzinfo) if event.HasField("close_time") else utcnow()
    amount = event.won_amount if event.HasField("won_amount") else opportunity.amount
    return commands.OpenWonHolding(
        consumer=delivery.consumer,
        event_id=delivery.event_id,
        account_id=opportunity.account_id,
        opportunity_id=opportunity.opportunity_id,
        product=ProductType.__members__.get(enum_name(common_pb2.ProductType, opportunity.product)),
        amount=max(amount.amount_minor, 0),
        won_on=won_at.date(),
        correlation_id=event.metadata.correlation_id,
    )


def reversed_holding_command(delivery: Delivery) -> commands.ReverseWonHolding:
    event: opportunity_events.OpportunityReopened = delivery.event
    opportunity = event.opportunity
    reopened_at = event.metadata.occur_time.ToDatetime(tzinfo=utcnow().tzinfo) if event.metadata.HasField("occur_time") else utcnow()
    return commands.ReverseWonHolding(
        consumer=delivery.consumer,
        event_id=delivery.event_id,
        opportunity_id=opportunity.opportunity_id,
        was_won=event.previous_status == opportunity_pb2.OPPORTUNITY_STATUS_WON,
        product=ProductType.__members__.get(enum_name(common_pb2.ProductType, opportunity.product)),
        reopened_on=reopened_at.date(),
        reason=event.reason,
        correlation_id=event.metadata.correlation_id,
    )


class AccountWorker:
    name = "account"
    context = EventContext()
    use_cases = ServiceHandlers(AccountSettings, bootstrap)

    @event_handler("lead", lead_events.LeadConverted)
    def on_lead_converted(self, delivery: Delivery) -> str:
        """First-touch attribution: the converting lead's channel, campaign and UTM, once."""
        return self.use_cases.profile.record_acquisition(acquisition_command(delivery))

    @event_handler("opportunity", opportunity_events.OpportunityWon)
    def on_opportunity_won(self, delivery: Delivery) -> str:
        """A won opportunity opens the product holding (core banking reports it later)."""
        return self.use_cases.holdings.open_won_holding(won_holding_command(delivery))

    @event_handler("opportunity", opportunity_events.OpportunityReopened)
    def on_opportunity_reopened(self, delivery: Delivery) -> str:
        """A won opportunity reopened (a reversal): the holding its win opened closes."""
        return self.use_cases.holdings.reverse_won_holding(reversed_holding_command(delivery))

    def _erasure_confirmed(self, delivery: Delivery) -> str:
        event: ErasureConfirmed = delivery.event
        return self.use_cases.privacy.confirm_erasure(
            commands.ConfirmErasure(consumer=delivery.consumer, event_id=delivery.event_id, erasure_id=event.erasure_id, service=event.service)
        )

    @event_handler("territory-quota", AccountTerritoryAssigned)
    def on_account_territory_assigned(self, delivery: Delivery) -> str:
        """The territory service placed the account: record its territory and RM."""
        assignment = delivery.event.assignment
        return self.use_cases.territory.record_territory(
            delivery.consumer, delivery.event_id, assignment.account_id, assignment.territory_id, assignment.owner_id
        )

    @event_handler("onboarding", KycOutcomeReported)
    def on_kyc_outcome_reported(self, delivery: Delivery) -> str:
        """The onboarding system (eKYC/LOS) reports a KYC outcome on its own exchange."""
        event: KycOutcomeReported = delivery.event
        return self.use_cases.kyc.record_reported_kyc_outcome(
            commands.ReportedKycOutcome(
                consumer=delivery.consumer,
                event_id=delivery.event_id,
                account_id=event.account_id,
                outcome=kyc_outcome_from_proto(event),
                correlation_id=event.metadata.correlation_id,
            )
        )


def _on_erasure_confirmed(service: str) -> Any:
    """The handler of one participant's ErasureConfirmed, on that service's exchange."""

    def handler(self: AccountWorker, delivery: Delivery) -> str:
        return self._erasure_confirmed(delivery)

    handler.__name__ = handler.__qualname__ = f"on_{service.replace('-', '_')}_erasure_confirmed"
    handler.__doc__ = f"The {service} service anonymised its records of an erased person."
    return event_handler(service, ErasureConfirmed)(handler)


# One handler (and queue) per participant the settings name, so a service that joins by its
# registry entry's `pii` flag is heard without a change here (crm_common.privacy).
for _service in erasure_services(load_settings(AccountSettings)):
    _handler = _on_erasure_confirmed(_service)
    setattr(AccountWorker, _handler.__name__, _handler)

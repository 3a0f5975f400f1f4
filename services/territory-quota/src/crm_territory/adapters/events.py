"""The territory-quota service's domain events as protobuf messages (crm.territory.v1.events),
built with crm_common.events.envelope.new_event and published through the unit of work."""

from __future__ import annotations

# The exchange this service publishes on: `territory-quota.events`.
PRODUCER = "territory-quota"

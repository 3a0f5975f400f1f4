"""One composition root: the worker builds its application with the API's `bootstrap`, from the
same settings, so both apply the bank's files (regression: the worker used to ignore
OPPORTUNITY_NBA_RULES_FILE and recompute next best actions with the seeded rules)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from nameko.testing.services import worker_factory
from sqlalchemy import select

from crm.common.v1 import common_pb2
from crm.lead.v1 import events_pb2 as lead_events
from crm.opportunity.v1 import opportunity_service_pb2 as S
from crm.opportunity.v1.opportunity_service_pb2_grpc import OpportunityServiceStub
from crm_common.db import new_id
from crm_common.events.envelope import new_event
from crm_common.testing import LiveService, bearer, delivery
from crm_opportunity.adapters.orm import next_actions
from crm_opportunity.bootstrap import bootstrap
from crm_opportunity.config import OpportunitySettings
from crm_opportunity.entrypoints.worker import OpportunityWorker

RM = bearer("rm-1", ["rm"])
BANK_RULES = {
    "rules": [
        {
            "id": "bank_call_within_the_hour",
            "when": "lead_sla_breached",
            "params": {},
            "action": "CONTACT_NOW",
            "priority": 2,
            "reason": "the bank's rule: call the customer of lead {lead_id} within the hour",
        }
    ]
}


@pytest.fixture
def rules_file(tmp_path: Path) -> Path:
    path = tmp_path / "nba_rules.json"
    path.write_text(json.dumps(BANK_RULES), encoding="utf-8")
    return path


def stored_rules(api: LiveService, opportunity_id: str) -> set[str]:
    with api.engine.connect() as conn:
        return set(conn.execute(select(next_actions.c.rule).where(next_actions.c.opportunity_id == opportunity_id)).scalars())


def test_the_worker_applies_the_nba_rules_file_its_settings_name(
    api: LiveService, stub: OpportunityServiceStub, rules_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    request = S.CreateOpportunityRequest(
        request_id=new_id(), account_id=new_id(), product=common_pb2.PRODUCT_TYPE_CREDIT_CARD, source_lead_id="lead-91"
    )
    deal = stub.CreateOpportunity(request, metadata=RM).opportunity
    assert "bank_call_within_the_hour" not in stored_rules(api, deal.opportunity_id)  # the API runs the seeded rules

    # The worker process: settings from the environment, the application from the worker's provider.
    monkeypatch.setenv("DATABASE_URL", api.database_url)
    monkeypatch.setenv("CRM_ENV", "test")
    monkeypatch.setenv("OPPORTUNITY_NBA_RULES_FILE", str(rules_file))
    provider = OpportunityWorker.use_cases
    provider.setup()
    try:
        worker: OpportunityWorker = worker_factory(OpportunityWorker, use_cases=provider.get_dependency(None))
        contacted = new_event(
            lead_events.LeadContacted, "lead", "", datetime.now(UTC), lead_id="lead-91", minutes_to_first_contact=300, first_contact_sla_breached=True
        )
        assert worker.on_lead_contacted(delivery(contacted, "opportunity.on_lead_contacted")) == "breached"
    finally:
        provider.stop()
    assert stored_rules(api, deal.opportunity_id) == {"bank_call_within_the_hour"}


def test_only_the_api_process_gets_grpc_bindings_and_background_jobs(api: LiveService, rules_file: Path) -> None:
    settings = OpportunitySettings(database_url=api.database_url, crm_env="test", opportunity_nba_rules_file=str(rules_file))
    worker_app, api_app = bootstrap(settings), bootstrap(settings, serve=True)
    try:
        assert worker_app.bindings == [] and worker_app.background == []
        # Its own API and, holding personal data, its section of a person's export (crm_common.privacy).
        assert [b.full_name for b in api_app.bindings] == ["crm.opportunity.v1.OpportunityService", "crm.privacy.v1.PersonalDataService"]
        assert {type(b).__name__ for b in api_app.background} >= {"DatabaseHealth", "PeriodicTask"}
    finally:
        worker_app.close()
        api_app.close()

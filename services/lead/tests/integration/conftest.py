"""A real lead gRPC server on loopback over a real database (SQLite file and PostgreSQL).

The account and opportunity services are replaced by in-process fakes that honour the same
idempotency contract; the real ones meet in tests/e2e.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import grpc
import pytest
from sqlalchemy import func, select

from crm.common.v1 import common_pb2
from crm.lead.v1 import lead_pb2, lead_service_pb2_grpc
from crm_common.audit.trail import AuditTrail
from crm_common.auth import current_principal
from crm_common.errors import Unavailable
from crm_common.grpc.server import GrpcServer
from crm_common.pii import PiiCodec
from crm_common.settings import load_settings
from crm_common.testing import BACKENDS, bearer, migrated_database
from crm_lead.adapters.orm import metadata
from crm_lead.bootstrap import bootstrap
from crm_lead.config import LeadSettings
from crm_lead.service_layer.ports import NewOpportunity, ResolvedAccount
from crm_lead.service_layer.unit_of_work import LeadUnitOfWork


class FakeAccounts:
    def __init__(self) -> None:
        self.by_request: dict[str, ResolvedAccount] = {}
        self.down = False
        self.lock = threading.Lock()
        # Every call as (caller, request_id): the real services scope idempotency to the caller.
        self.calls: list[tuple[str, str]] = []
        # Seconds each call takes (a slow peer widens races).
        self.delay = 0.0

    def resolve_person(
        self, request_id: str, full_name: str, phone: str, email: str, national_id: str, owner_id: str, lead_id: str
    ) -> ResolvedAccount:
        if self.down:
            raise Unavailable("account service: UNAVAILABLE: connection refused")
        self.calls.append((current_principal().subject, request_id))
        time.sleep(self.delay)
        with self.lock:
            return self.by_request.setdefault(request_id, ResolvedAccount(f"acc-{len(self.by_request) + 1}", matched=False))


class FakeOpportunities:
    def __init__(self) -> None:
        self.by_request: dict[str, tuple[str, NewOpportunity]] = {}
        self.down = False
        self.calls: list[tuple[str, str]] = []
        self.delay = 0.0

    def create(self, opportunity: NewOpportunity) -> str:
        if self.down:
            raise Unavailable("opportunity service: UNAVAILABLE: connection refused")
        self.calls.append((current_principal().subject, opportunity.request_id))
        time.sleep(self.delay)
        entry = self.by_request.setdefault(opportunity.request_id, (f"opp-{len(self.by_request) + 1}", opportunity))
        return entry[0]


@pytest.fixture(scope="session", params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with migrated_database(request.param, "crm_lead:migrations", tmp_path_factory.mktemp("db"), "lead") as url:
        yield url


class LeadApp:
    """The lead API as its composition root builds it, with the peers faked."""

    def __init__(self, url: str) -> None:
        self.accounts = FakeAccounts()
        self.opportunities = FakeOpportunities()
        settings = load_settings(LeadSettings, database_url=url, crm_env="test", grpc_port=0, grpc_grace_seconds=1)
        self.app = bootstrap(settings, serve=True, accounts=self.accounts, opportunities=self.opportunities)
        assert self.app.engine is not None
        self.engine = self.app.engine
        self.use_cases = self.app.use_cases
        # For tests that read or write rows themselves, as the service does.
        self.pii = PiiCodec.from_settings(settings.pii_keys, settings.pii_index_key)
        self.uow = lambda **options: LeadUnitOfWork(self.engine, metadata, self.pii, **options)
        # The background helpers (outbox relay, recovery loop) stay stopped: tests read the outbox.
        # The audit log as the API process keeps it; tests flush and seal it when they look.
        self.audit = AuditTrail(self.engine, "lead", flush_seconds=3600, seal_seconds=3600)
        self.server = GrpcServer(settings, self.app.bindings, audit_trail=self.audit)
        self.server.start()
        self.channel = grpc.insecure_channel(f"127.0.0.1:{self.server.port}")
        self.stub = lead_service_pb2_grpc.LeadServiceStub(self.channel)

    def outbox_types(self) -> list[str]:
        table = metadata.tables["outbox"]
        with self.engine.connect() as conn:
            return list(conn.execute(select(table.c.event_type).order_by(table.c.seq)).scalars())

    def count(self, table_name: str) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(metadata.tables[table_name])).scalar_one())

    def reset(self) -> None:
        self.audit.flush()
        with self.engine.begin() as conn:
            for table in reversed(metadata.sorted_tables):
                conn.execute(table.delete())

    def close(self) -> None:
        self.channel.close()
        self.server.stop(grace=0)
        self.app.close()


@pytest.fixture
def app(database_url: str) -> Iterator[LeadApp]:
    running = LeadApp(database_url)
    running.lead_input = _lead_input  # type: ignore[attr-defined]
    running.reset()
    yield running
    running.close()


@pytest.fixture
def admin() -> list[tuple[str, str]]:
    return bearer("admin-1", ["admin"])


def _lead_input(phone: str = "0912 345 678", email: str = "An.Nguyen@Example.com", **overrides: object) -> lead_pb2.LeadInput:
    values: dict[str, object] = dict(
        contact=lead_pb2.ContactInput(full_name="  Nguyễn   Văn An ", phone=phone, email=email, province_code="79"),
        product_interest=common_pb2.PRODUCT_TYPE_CREDIT_CARD,
        source=lead_pb2.LeadSource(
            channel=lead_pb2.CHANNEL_LANDING_PAGE,
            campaign_id="cmp-tet-2027",
            utm=lead_pb2.Utm(source="facebook", medium="cpc", campaign="tet"),
            cookie_id="ck-123",
            data_origin=lead_pb2.DATA_ORIGIN_FIRST_PARTY,
        ),
        marketing_consent=True,
    )
    values.update(overrides)
    return lead_pb2.LeadInput(**values)  # type: ignore[arg-type]


@pytest.fixture
def lead_input():
    """Builds a valid LeadInput (a Vietnamese credit-card prospect); keyword arguments override fields."""
    return _lead_input


@pytest.fixture
def grouped_app(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LeadApp]:
    """The lead API with group commit on, on a fresh PostgreSQL database (SQLite has no group commit)."""
    monkeypatch.setenv("DATABASE_GROUP_COMMIT_MAX", "32")
    with migrated_database("postgresql", "crm_lead:migrations", tmp_path_factory.mktemp("db"), "lead_group") as url:
        running = LeadApp(url)
        running.lead_input = _lead_input  # type: ignore[attr-defined]
        yield running
        running.close()

"""Helpers every service's test suite shares: throwaway databases, a live gRPC API, tokens.

Integration suites run each service on SQLite and on PostgreSQL alike. PostgreSQL is reached at
CRM_TEST_POSTGRES_URL (default: user postgres on 127.0.0.1:5432 with trust auth); each test
session creates its own database, <prefix>_<random>, and drops it at the end.

A service is served whole, through its composition root, from its registry entry. A service's
conftest.py takes the two usual fixtures, `live` (once per backend and session) and `api` (every
table emptied first), from its registry entry:

    live, api = live_fixtures(SERVICE, metadata)

or serves it itself, with fakes or settings of its own:

    with live_service(backend, directory, SERVICE, metadata=metadata, adapters={...}) as service: ...

A database built by a service's former revisions (a frozen copy under its tests/fixtures) is
upgraded in place by `upgrade_in_place`, which records its rows, heads and schema before and after;
`check_upgrade_in_place` runs it and checks what every service's migrations test checks.

Only `live_fixtures` imports pytest (when called), so the other helpers work from scripts too.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import grpc
from google.protobuf.message import Message
from sqlalchemy import ColumnElement, Engine, MetaData, create_engine, func, inspect, make_url, select, text
from sqlalchemy.pool import NullPool

from crm_common.app import Application
from crm_common.auth import issue_token
from crm_common.db import make_engine, new_id, new_metadata
from crm_common.grpc.server import GrpcServer, service_audit_trail
from crm_common.migrations import alembic_config, current_heads, platform_head, script_heads, upgrade
from crm_common.registry import ServiceDefinition, load
from crm_common.settings import DEV_JWT_KEY, ServiceSettings, load_settings

if TYPE_CHECKING:
    # Not at run time: it imports nameko, hence eventlet, which a gRPC test process can do without.
    from crm_common.events.consumer import Delivery

BACKENDS = ("sqlite", "postgresql")
DEFAULT_POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"

M = TypeVar("M", bound=Message)


def postgres_admin_url() -> str:
    """Where test databases are created: any database of the server, reached as a superuser."""
    return os.environ.get("CRM_TEST_POSTGRES_URL", DEFAULT_POSTGRES_URL)


def bearer(
    subject: str,
    roles: list[str],
    scope: str = "",
    key: str = DEV_JWT_KEY,
    teams: tuple[str, ...] | list[str] = (),
    branches: tuple[str, ...] | list[str] = (),
    territories: tuple[str, ...] | list[str] = (),
    client_id: str = "",
) -> list[tuple[str, str]]:
    """Call metadata carrying a dev-signed token for `subject` with `roles` (and extra `scope`,
    the teams, branches and territories that widen its data scope, and the OAuth client)."""
    token = issue_token(subject, roles, key=key, scope=scope, teams=teams, branches=branches, territories=territories, client_id=client_id)
    return [("authorization", f"Bearer {token}")]


@contextmanager
def postgres_database(prefix: str) -> Iterator[str]:
    """A new, empty PostgreSQL database, <prefix>_<random>, for the block; its URL is yielded."""
    admin_url = make_url(postgres_admin_url())
    if admin_url.drivername == "postgresql":
        admin_url = admin_url.set(drivername="postgresql+psycopg")
    database = f"{prefix}_{secrets.token_hex(4)}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{database}"'))
        try:
            yield admin_url.set(database=database).render_as_string(hide_password=False)
        finally:
            with admin.connect() as conn:
                # FORCE: pools left open by the code under test must not keep the database alive.
                conn.execute(text(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
    finally:
        admin.dispose()


@contextmanager
def empty_database(backend: str, directory: str | Path, prefix: str) -> Iterator[str]:
    """An empty database of `backend` ("sqlite": a file in `directory`, or "postgresql")."""
    if backend == "sqlite":
        yield f"sqlite:///{Path(directory) / f'{prefix}.db'}"
    elif backend == "postgresql":
        with postgres_database(prefix) as url:
            yield url
    else:
        raise ValueError(f"unknown test database backend {backend!r}; expected one of {BACKENDS}")


@contextmanager
def migrated_database(backend: str, migrations: str, directory: str | Path, prefix: str) -> Iterator[str]:
    """An empty database of `backend` brought to every head by the service's `migrations`
    (package:dir) and the platform's."""
    with empty_database(backend, directory, prefix) as url:
        upgrade(migrations, url)
        yield url


@contextmanager
def former_database(backend: str, migrations: str, former_versions: str | Path, directory: str | Path, prefix: str) -> Iterator[str]:
    """An empty database of `backend` brought to head by a frozen copy of a service's former
    revisions (`former_versions`, a directory; the service's `migrations` give env.py): a
    database exactly as an earlier release built it, to upgrade in place."""
    from alembic import command

    with empty_database(backend, directory, prefix) as url:
        command.upgrade(alembic_config(migrations, url, [str(former_versions)]), "heads")
        yield url


# What fill_every_table writes into a column of each Python type. Every string is the same short
# value, so each foreign key finds its parent row and every length limit holds.
_SAMPLE_VALUES: dict[type, Any] = {
    str: "1",
    int: 1,
    bool: True,
    float: 1.5,
    bytes: b"\x01",
    dict: {"sample": 1},
    datetime: datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
    date: date(2026, 1, 2),
    Decimal: Decimal("1"),
}


def fill_every_table(database_url: str) -> None:
    """Writes one row into every table of the database (as reflected: every column gets a value of
    its type): data a migration must carry along."""
    engine = make_engine(database_url, pool_size=1)
    try:
        reflected = MetaData()
        reflected.reflect(engine)
        with engine.begin() as conn:
            for table in reflected.sorted_tables:
                if table.name != "alembic_version":
                    conn.execute(table.insert().values({c.name: _SAMPLE_VALUES[c.type.python_type] for c in table.columns}))
    finally:
        engine.dispose()


def table_rows(database_url: str, keys_only: bool = False) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table but Alembic's (or only its primary key), in key order, by table."""
    engine = make_engine(database_url, pool_size=1)
    try:
        reflected = MetaData()
        reflected.reflect(engine)
        rows = {}
        with engine.connect() as conn:
            for table in reflected.sorted_tables:
                if table.name != "alembic_version":
                    key = list(table.primary_key.columns)
                    query = select(*(key if keys_only else table.columns)).order_by(*key)
                    rows[table.name] = [tuple(row) for row in conn.execute(query)]
        return rows
    finally:
        engine.dispose()


@dataclass
class InPlaceUpgrade:
    """A database built by former revisions, given a row in every table, then migrated today."""

    # The platform's tables (in crm_common.db) that the former database had.
    platform_tables: set[str]
    rows_before: dict[str, list[tuple[Any, ...]]]
    rows_after: dict[str, list[tuple[Any, ...]]]
    keys_before: dict[str, list[tuple[Any, ...]]]
    keys_after: dict[str, list[tuple[Any, ...]]]
    # What the database is stamped at (`alembic current`), and the heads of today's history.
    current: set[str]
    heads: set[str]
    # schema_drift against the code's tables; the schema beside a fresh database's.
    drift: list[Any]
    schema: dict[str, dict[str, Any]]
    fresh_schema: dict[str, dict[str, Any]]


def upgrade_in_place(backend: str, migrations: str, former_versions: str | Path, metadata: MetaData, directory: str | Path) -> InPlaceUpgrade:
    """Builds a database of `backend` with the frozen former revisions, fills every table, runs
    today's migrations on it (what `crm-<service> migrate` does), and records what tests check."""
    with former_database(backend, migrations, former_versions, directory, "crm_test_former") as url:
        fill_every_table(url)
        rows_before, keys_before = table_rows(url), table_rows(url, keys_only=True)
        upgrade(migrations, url)
        with migrated_database(backend, migrations, directory, "crm_test_fresh") as fresh:
            fresh_schema = schema_of(fresh)
        return InPlaceUpgrade(
            platform_tables=set(new_metadata().tables) & set(rows_before),
            rows_before=rows_before,
            rows_after=table_rows(url),
            keys_before=keys_before,
            keys_after=table_rows(url, keys_only=True),
            current=current_heads(url),
            heads=script_heads(migrations),
            drift=schema_drift(url, metadata),
            schema=schema_of(url),
            fresh_schema=fresh_schema,
        )


def check_upgrade_in_place(
    backend: str, definition: ServiceDefinition, former_versions: str | Path, metadata: MetaData, directory: str | Path
) -> None:
    """A database built by the service's former revisions (`former_versions`, the frozen copy in
    its tests/fixtures) and given a row in every table upgrades in place with today's migrations:
    the platform tables move to the platform's history with their rows unchanged, every row of the
    service's tables stays (later revisions may rewrite values, say encrypt them), and the result
    is stamped at today's heads with the schema of a fresh database and of the code's tables."""
    done = upgrade_in_place(backend, definition.migrations, former_versions, metadata, directory)
    assert done.platform_tables == {"outbox", "inbox", "idempotency_keys"}
    assert all(len(rows) == 1 for rows in done.rows_before.values())
    assert {t: done.rows_after[t] for t in done.platform_tables} == {t: done.rows_before[t] for t in done.platform_tables}
    # Later service revisions may rewrite values (say, encrypt them); every row stays.
    assert {t: done.keys_after[t] for t in done.keys_before} == done.keys_before
    assert done.current == done.heads and platform_head() in done.current
    assert done.drift == []
    assert done.schema == done.fresh_schema


def schema_of(database_url: str) -> dict[str, dict[str, Any]]:
    """The database's tables as reflected (columns, keys, indexes), to compare two databases."""
    import json

    def by_name(items: list[Any]) -> list[Any]:
        return sorted(items, key=lambda item: str(item["name"]))

    engine = make_engine(database_url, pool_size=1)
    try:
        inspector = inspect(engine)
        schema = {
            name: {
                # repr: str() of a PostgreSQL TIMESTAMP drops "timezone=True".
                "columns": [{**column, "type": repr(column["type"])} for column in inspector.get_columns(name)],
                "primary_key": inspector.get_pk_constraint(name),
                "unique": by_name(inspector.get_unique_constraints(name)),
                "foreign_keys": by_name(inspector.get_foreign_keys(name)),
                "indexes": by_name(inspector.get_indexes(name)),
                "checks": by_name(inspector.get_check_constraints(name)),
            }
            for name in sorted(inspector.get_table_names())
        }
    finally:
        engine.dispose()
    # Plain data: SQLite reflects a partial index's WHERE as a clause object, equal only to itself.
    return dict(json.loads(json.dumps(schema, default=str)))


def truncate_all(database_url: str, metadata: MetaData) -> None:
    """Empties every table of `metadata` (the service's and the platform's), children first."""
    engine = make_engine(database_url, pool_size=1)
    try:
        _delete_all(engine, metadata)
    finally:
        engine.dispose()


def _delete_all(engine: Engine, metadata: MetaData) -> None:
    with engine.begin() as conn:
        for table in reversed(metadata.sorted_tables):
            conn.execute(table.delete())


@dataclass
class LiveService:
    """A service's gRPC API serving on loopback over a migrated database of one backend."""

    backend: str
    database_url: str
    settings: ServiceSettings
    # The test's own engine on the service's database, to inspect and reset it.
    engine: Engine
    metadata: MetaData
    server: GrpcServer
    channel: grpc.Channel
    # What the service's bootstrap built: its use cases serve the API under test.
    app: Application[Any]

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.server.port}"

    def reset(self) -> None:
        if self.server.audit is not None:
            self.server.audit.flush()  # rows of earlier calls must not land after the reset
        _delete_all(self.engine, self.metadata)

    def count(self, table: str, *where: ColumnElement[bool]) -> int:
        with self.engine.connect() as conn:
            query = select(func.count()).select_from(self.metadata.tables[table]).where(*where)
            return int(conn.execute(query).scalar_one())

    def outbox_types(self) -> list[str]:
        """The event types waiting in the outbox, in publication order."""
        outbox = self.metadata.tables["outbox"]
        with self.engine.connect() as conn:
            return list(conn.execute(select(outbox.c.event_type).order_by(outbox.c.seq)).scalars())

    def events(self, message_cls: type[M]) -> list[M]:
        """The outbox's events of one type, decoded, in publication order."""
        outbox = self.metadata.tables["outbox"]
        query = select(outbox.c.payload).where(outbox.c.event_type == message_cls.DESCRIPTOR.name).order_by(outbox.c.seq)
        with self.engine.connect() as conn:
            return [message_cls.FromString(payload) for payload in conn.execute(query).scalars()]


@contextmanager
def live_service(
    backend: str,
    directory: str | Path,
    definition: ServiceDefinition,
    *,
    metadata: MetaData,
    prefix: str = "",
    adapters: dict[str, Any] | None = None,
    **overrides: Any,
) -> Iterator[LiveService]:
    """Creates and migrates a database, then serves the service's API on a free loopback port:
    the application its `bootstrap` builds with serve=True (`adapters`: keyword arguments of
    bootstrap, such as fakes of the peers; `overrides`: settings).

    The background helpers (the outbox relay) are not started: tests read the outbox table
    instead of needing a broker. The audit log is kept, as in the API process.
    """
    with migrated_database(backend, definition.migrations, directory, f"crm_test_{prefix or definition.name}") as url:
        settings = load_settings(load(definition.settings), database_url=url, crm_env="test", grpc_host="127.0.0.1", grpc_port=0, **overrides)
        app = load(definition.bootstrap)(settings, serve=True, **(adapters or {}))
        server = GrpcServer(settings, app.bindings, audit_trail=service_audit_trail(settings, app.engine))
        server.start()
        engine = make_engine(url, pool_size=4)
        channel = grpc.insecure_channel(f"127.0.0.1:{server.port}")
        try:
            yield LiveService(backend, url, settings, engine, metadata, server, channel, app)
        finally:
            channel.close()
            server.stop(grace=0)
            app.close()
            engine.dispose()


def live_fixtures(
    definition: ServiceDefinition, metadata: MetaData, *, adapters: dict[str, Any] | None = None, on_reset: Callable[[], object] | None = None
) -> tuple[Any, Any]:
    """The two fixtures of a service's conftest.py, `live, api = live_fixtures(SERVICE, metadata)`:
    `live`, the service's API on loopback over a migrated database, once per backend and session;
    `api`, the live API with every table emptied first. `adapters` go to the service's bootstrap
    (fakes of its peers, as in `live_service`); `on_reset` also runs before each test (to empty them)."""
    import pytest

    def live(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveService]:
        with live_service(request.param, tmp_path_factory.mktemp(definition.name), definition, metadata=metadata, adapters=adapters) as service:
            yield service

    def api(live: LiveService) -> LiveService:
        live.reset()
        if on_reset is not None:
            on_reset()
        return live

    # Before decorating: `pytest --fixtures` shows the function's docstring.
    live.__doc__ = f"The {definition.name} API on loopback over a migrated database, once per backend and session."
    api.__doc__ = "The live API with every table emptied first."
    return pytest.fixture(scope="session", params=BACKENDS, name="live")(live), pytest.fixture(name="api")(api)


def stub_class(definition: ServiceDefinition) -> Any:
    """The generated client stub of a service's API: `crm.<svc>.v1.<Svc>Service` lives in
    `crm/<svc>/v1/<svc>_service_pb2_grpc.py` (buf's file naming, STYLE.md)."""
    import importlib
    import re

    package, _, name = definition.grpc_service.rpartition(".")
    module = importlib.import_module(f"{package}.{re.sub(r'(?<!^)(?=[A-Z])', '_', name).lower()}_pb2_grpc")
    return getattr(module, f"{name}Stub")


def delivery(event: Message, consumer: str, event_id: str = "", attempt: int = 1) -> Delivery:
    """What a worker's event handler receives from the broker, for tests without one."""
    from crm_common.events.consumer import Delivery

    found_id = event_id or getattr(getattr(event, "metadata", None), "event_id", "") or new_id()
    return Delivery(event=event, event_id=found_id, event_type=event.DESCRIPTOR.name, consumer=consumer, attempt=attempt, headers={})


@contextmanager
def rabbitmq_vhost(prefix: str) -> Iterator[str]:
    """A fresh RabbitMQ virtual host (guest may use it) for the block; its AMQP URI is yielded.

    Needs `rabbitmqctl` on this machine (the broker's own CLI): tests fail with the reason
    when it is missing, they never fall back to the shared default vhost.
    """
    import shutil
    import subprocess

    ctl = shutil.which("rabbitmqctl")
    if ctl is None:
        raise RuntimeError("rabbitmqctl not found: the end-to-end tests create their own RabbitMQ vhost with it")
    vhost = f"crm-test-{prefix}-{secrets.token_hex(4)}"

    def run(*args: str) -> None:
        done = subprocess.run([ctl, "-q", *args], capture_output=True, text=True, timeout=60)
        if done.returncode != 0:
            raise RuntimeError(f"rabbitmqctl {' '.join(args)} failed: {done.stderr.strip() or done.stdout.strip()}")

    run("add_vhost", vhost)
    try:
        run("set_permissions", "-p", vhost, "guest", ".*", ".*", ".*")
        yield f"amqp://guest:guest@127.0.0.1:5672/{vhost}"
    finally:
        run("delete_vhost", vhost)


def wait_until(condition: Callable[[], Any], timeout: float = 15.0, interval: float = 0.1, what: str = "condition") -> Any:
    """Polls until `condition()` is truthy and returns it; fails the test after `timeout`."""
    import time

    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


def scrape_metric(port: int, name: str, **labels: str) -> float:
    """The value of one Prometheus sample on 127.0.0.1:<port>/metrics (0.0 when absent)."""
    import urllib.request

    from prometheus_client.parser import text_string_to_metric_families

    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as reply:
        text = reply.read().decode()
    total = 0.0
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                total += sample.value
    return total


def schema_drift(database_url: str, metadata: MetaData) -> list[Any]:
    """What the migrated database lacks or has beyond `metadata` (alembic's autogenerate diff)."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    engine = make_engine(database_url, pool_size=1)
    try:
        with engine.connect() as conn:
            return list(compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), metadata))
    finally:
        engine.dispose()


# -- Data-scope matrices (crm_common.auth.scopes): who reaches which record, for every RPC a
# servicer declares Scope.RECORD, generated from its PERMISSIONS so a new RPC is covered at once.

# The role whose reach each matrix caller has.
REACH_ROLES = {"OWN": "rm", "TEAM": "sales_manager", "BRANCH": "branch_manager", "TERRITORY": "regional_head", "ALL": "admin"}
SCOPE_CALLER = "scope-caller"
SCOPE_OTHER = "someone-else"
# The caller's team, branch and territory; records are placed in these or in the others. The other
# territory shares the caller's as a string prefix without being below it (a path, not a prefix).
SCOPE_IDS = {"team": ("team-a", "team-b"), "branch": ("BR-01", "BR-02"), "territory": ("VN.SOUTH", "VN.SOUTHERN.Q1")}
_REACH_FIELD = {"TEAM": "team", "BRANCH": "branch", "TERRITORY": "territory"}


@dataclass(frozen=True)
class ScopeCase:
    """One cell of a data-scope matrix: an RPC called by a caller of one reach on a record placed
    in its scope ("in"), outside it ("out"), in it but with the token's claim missing ("no claim"),
    or for a reach the table has no column for ("no column": only its own book counts)."""

    rpc: str
    reach: str
    case: str
    # owner, team, branch, territory of the record the call is about
    placement: dict[str, str]
    expect_reached: bool

    @property
    def id(self) -> str:
        return f"{self.rpc}-{self.reach}-{self.case.replace(' ', '_')}"

    def caller(self, permission: str | None) -> list[tuple[str, str]]:
        """The caller: the reach's role, the RPC's permission (so only the scope decides), and its
        claims unless the case drops them."""
        field = _REACH_FIELD.get(self.reach, "") if self.case != "no claim" else ""
        ids = {f: [SCOPE_IDS[f][0]] if f == field else [] for f in ("team", "branch", "territory")}
        return bearer(
            SCOPE_CALLER, [REACH_ROLES[self.reach]], scope=permission or "", teams=ids["team"], branches=ids["branch"], territories=ids["territory"]
        )


def reached(call: Callable[[], Any], refusals: tuple[grpc.StatusCode, ...]) -> bool:
    """Whether a matrix probe's call reached the record: any answer but NOT_FOUND. An error must be
    one of the service's `refusals` (what it answers a caller who sees the record but may not act)."""
    try:
        call()
    except grpc.RpcError as exc:
        if exc.code() == grpc.StatusCode.NOT_FOUND:
            return False
        assert exc.code() in refusals, exc
    return True


def scoped_rpcs(permissions: Any) -> list[str]:
    """The RPCs declared Scope.RECORD in a servicer's PERMISSIONS."""
    from crm_common.auth import Scope

    return sorted(name for name, access in permissions.items() if access.scope is Scope.RECORD)


def scope_matrix(permissions: Any, columns: set[str]) -> list[ScopeCase]:
    """Every case for every RECORD RPC; `columns`: which of team, branch, territory the service's
    records carry (a reach without its column reaches only the caller's own book)."""
    cases = []
    for rpc in scoped_rpcs(permissions):
        cases.append(ScopeCase(rpc, "OWN", "in", {"owner": SCOPE_CALLER}, True))
        cases.append(ScopeCase(rpc, "OWN", "out", {"owner": SCOPE_OTHER}, False))
        for reach, field in _REACH_FIELD.items():
            if field not in columns:
                cases.append(ScopeCase(rpc, reach, "no column", {"owner": SCOPE_OTHER}, False))
                continue
            inside = SCOPE_IDS[field][0] if field != "territory" else "VN.SOUTH.HCM.Q1"  # below the caller's territory
            cases.append(ScopeCase(rpc, reach, "in", {"owner": SCOPE_OTHER, field: inside}, True))
            cases.append(ScopeCase(rpc, reach, "out", {"owner": SCOPE_OTHER, field: SCOPE_IDS[field][1]}, False))
            cases.append(ScopeCase(rpc, reach, "no claim", {"owner": SCOPE_OTHER, field: inside}, False))
        cases.append(ScopeCase(rpc, "ALL", "in", {"owner": SCOPE_OTHER}, True))
    return cases

"""Database plumbing: one engine per service, and the platform tables every service carries.

SQLite (a file per service) is the embedded default; PostgreSQL (psycopg 3) in production.
Services use SQLAlchemy Core: one round trip per statement matters on the hot paths.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import psycopg
from psycopg import sql
from psycopg.types.json import Json
from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    Connection,
    DateTime,
    Engine,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    create_engine,
    event,
    text,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.types import TypeDecorator

from crm_common.group_commit import GroupCommit
from crm_common.settings import ServiceSettings

# SQLite only autoincrements INTEGER PRIMARY KEY; PostgreSQL gets a real BIGINT identity.
BigIntId = BigInteger().with_variant(Integer(), "sqlite")

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UtcDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on both PostgreSQL and SQLite (which drops the zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: object) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: object) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


# A unique index refused a write: a concurrent request won the race. Raised through SQLAlchemy,
# or straight from psycopg where a hot path runs on the driver's connection.
WRITE_CONFLICTS: tuple[type[Exception], ...] = (IntegrityError, psycopg.IntegrityError)


def utcnow() -> datetime:
    return datetime.now(UTC)


def new_id() -> str:
    return str(uuid.uuid4())


# JSON, as JSONB on PostgreSQL (the audit log's object ids are found through a GIN index).
JsonDocument = JSON().with_variant(postgresql.JSONB(), "postgresql")


def new_metadata() -> MetaData:
    """A service's MetaData, already holding the platform tables (outbox, inbox, idempotency, relinks, audit log)."""
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    Table(
        "outbox",
        metadata,
        # Publication order; rows are deleted once the broker confirmed them.
        Column("seq", BigIntId, primary_key=True, autoincrement=True),
        Column("event_id", String(36), nullable=False, unique=True),
        Column("event_type", String(100), nullable=False),
        Column("payload", LargeBinary, nullable=False),
        # W3C trace context and the caller's identity, carried into AMQP headers.
        Column("headers", JSON, nullable=False),
        Column("created_at", UtcDateTime, nullable=False),
    )
    Table(
        "inbox",
        metadata,
        Column("consumer", String(200), primary_key=True),
        Column("event_id", String(36), primary_key=True),
        Column("processed_at", UtcDateTime, nullable=False),
        # Retention deletes by age (crm_common.retention).
        Index("ix_inbox_processed_at", "processed_at"),
    )
    Table(
        "idempotency_keys",
        metadata,
        Column("method", String(100), primary_key=True),
        Column("request_id", String(100), primary_key=True),
        # A repeat with the same key must carry the same request.
        Column("request_hash", String(64), nullable=False),
        # What the first call produced (e.g. the lead id); a repeat returns that resource.
        Column("result_ref", String(200), nullable=False),
        Column("created_at", UtcDateTime, nullable=False),
        Index("ix_idempotency_keys_created_at", "created_at"),
    )
    Table(
        "audit_log",
        metadata,
        # Append order; the chain's order is seal_seq (crm_common.audit).
        Column("id", BigIntId, primary_key=True, autoincrement=True),
        Column("occurred_at", UtcDateTime, nullable=False),
        # Who: the token's subject, roles and client; ids only, never personal data.
        Column("subject", String(200), nullable=False),
        Column("roles", JsonDocument, nullable=False),
        Column("client_id", String(200), nullable=False),
        # What: the service, the full gRPC method, the ids of the objects it named or made.
        Column("service", String(50), nullable=False),
        Column("rpc", String(200), nullable=False),
        Column("object_ids", JsonDocument, nullable=False),
        # The gRPC status code name (OK, PERMISSION_DENIED...).
        Column("outcome", String(32), nullable=False),
        Column("trace_id", String(32), nullable=False),
        Column("purpose", String(100), nullable=False),
        # The hash chain, set by the sealer: NULL until sealed.
        Column("seal_seq", BigInteger, nullable=True, unique=True),
        Column("prev_hash", String(64), nullable=True),
        Column("row_hash", String(64), nullable=True),
        # What the sealer takes next: small, since rows are sealed within seconds.
        Index("ix_audit_log_unsealed", "id", postgresql_where=text("seal_seq IS NULL"), sqlite_where=text("seal_seq IS NULL")),
        Index("ix_audit_log_object_ids", "object_ids", postgresql_using="gin", postgresql_ops={"object_ids": "jsonb_path_ops"}),
        Index("ix_audit_log_subject", "subject", "id"),
    )
    # Records a consumer moved from one id to another on an upstream change (an account merge),
    # under that change's id, so that undoing it moves back exactly those (crm_common.relinks).
    Table(
        "relinks",
        metadata,
        Column("change_id", String(100), primary_key=True),
        Column("record_type", String(50), primary_key=True),
        Column("record_id", String(100), primary_key=True),
        Column("from_id", String(100), nullable=False),
        Column("to_id", String(100), nullable=False),
        Column("relinked_at", UtcDateTime, nullable=False),
    )
    return metadata


def make_engine(url: str, pool_size: int = 16) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):  # type: ignore[no-untyped-def]
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.close()

        return engine
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    return create_engine(
        url,
        pool_size=pool_size,
        max_overflow=pool_size // 2,
        # No pre-ping: it costs a round trip per checkout on the hot path; broken connections
        # are recycled after an error (pool invalidation) and every 30 minutes.
        pool_recycle=1800,
    )


def is_postgres(engine: Engine) -> bool:
    return engine.dialect.name == "postgresql"


def upsert_insert(conn: Connection) -> Any:
    """The connection's dialect's insert(), whose statements have on_conflict_do_nothing/_update
    (PostgreSQL's and SQLite's share the form): writers that may race settle it in one statement."""
    return postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert


def group_commit(settings: ServiceSettings, engine: Engine, writer: str) -> GroupCommit | None:
    """The process's group commit for `writer`'s single-statement writes on PostgreSQL (None on
    SQLite, or when DATABASE_GROUP_COMMIT_MAX is 0 or 1)."""
    if not is_postgres(engine) or settings.database_group_commit_max <= 1:
        return None
    return GroupCommit(engine, writer, settings.database_group_commit_max)


def service_engine(settings: ServiceSettings) -> Engine:
    """The engine of a service process, from its settings."""
    return make_engine(settings.resolved_database_url(), settings.database_pool_size)


# Below this many rows an INSERT ... VALUES costs less than setting up a COPY.
COPY_FROM_ROWS = 200


def bulk_insert(conn: Connection, table: Table, rows: list[dict[str, Any]]) -> None:
    """Inserts `rows` in the connection's transaction: with COPY on PostgreSQL when there are
    many (a 10,000-row batch costs a fraction of the CPU of multi-row INSERTs, which psycopg
    re-parses page by page), else with an ordinary INSERT."""
    if not rows:
        return
    if len(rows) < COPY_FROM_ROWS or conn.dialect.name != "postgresql":
        conn.execute(table.insert(), rows)
        return
    columns = list(rows[0])
    json_columns = {name for name in columns if isinstance(table.c[name].type, JSON)}
    statement = sql.SQL("COPY {} ({}) FROM STDIN").format(sql.Identifier(table.name), sql.SQL(", ").join(map(sql.Identifier, columns)))
    with conn.connection.driver_connection.cursor() as cursor, cursor.copy(statement) as copy:  # type: ignore[union-attr]
        for row in rows:
            copy.write_row([Json(row[c]) if c in json_columns else row[c] for c in columns])

"""Reading and writing leads and their related rows with SQLAlchemy Core.

Personal data never reaches the database in the clear: names, phones, emails, national ids and
free-text notes are encrypted with their row and column as associated data, and found again
through blind indexes (phone, email, national id) and blind word-prefix tokens (name search).
"""

from __future__ import annotations

import functools
import json
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from psycopg.types.json import Jsonb
from sqlalchemy import ColumnElement, Connection, Text, and_, cast, false, func, literal, literal_column, or_, select, union_all, update
from sqlalchemy.dialects import postgresql

from crm_common.auth.scopes import DataScope
from crm_common.contact import fold
from crm_common.db import upsert_insert
from crm_common.errors import Aborted, NotFound
from crm_common.events.erasure import ERASED_NAME
from crm_common.group_commit import GroupCommit
from crm_common.pagination import Page, newest_first
from crm_common.pii import PiiCodec
from crm_common.privacy import PersonIdentifiers
from crm_lead.adapters.orm import (
    BEHAVIOURS_PII,
    CONTACT_ATTEMPTS_PII,
    LEADS_PII,
    contact_attempts,
    conversions,
    imports,
    lead_behaviours,
    lead_opportunities,
    leads,
    metadata,
    teams,
)
from crm_lead.domain.model import OPEN_STATUSES, ContactAttempt, ContactOutcome, Conversion, Lead, LeadFilter, ScoreReason, Source, Status

_SOURCE_FIELDS = [f for f in Source.__dataclass_fields__]
# Lead fields stored encrypted, by the column holding their token.
_SEALED_FIELDS = {
    "full_name": "full_name_enc",
    "phone_e164": "phone_enc",
    "email": "email_enc",
    "national_id": "national_id_enc",
    "note": "note_enc",
    "status_note": "status_note_enc",
}
_LEAD_FIELDS = [f for f in Lead.__dataclass_fields__ if f not in ("source", "score_reasons", *_SEALED_FIELDS)]
_OPEN = [str(s) for s in OPEN_STATUSES]


def _seal(pii: PiiCodec, lead: Lead) -> dict[str, str]:
    """The lead's encrypted columns and their blind indexes."""
    row = {column: pii.encrypt(LEADS_PII.context(column, lead.lead_id), getattr(lead, name)) for name, column in _SEALED_FIELDS.items()}
    row["name_tokens"] = pii.search_tokens("name", fold(lead.full_name))
    row["phone_bidx"] = pii.index("phone", lead.phone_e164)
    row["email_bidx"] = pii.index("email", lead.email)
    row["national_id_bidx"] = pii.index("national_id", lead.national_id)
    return row


def _to_row(pii: PiiCodec, lead: Lead) -> dict[str, Any]:
    # Shallow on purpose: dataclasses.asdict deep-copies and was a third of a capture's CPU.
    row = {name: getattr(lead, name) for name in _LEAD_FIELDS}
    row.update((name, getattr(lead.source, name)) for name in _SOURCE_FIELDS)
    row.update(_seal(pii, lead))
    row["status"] = str(lead.status)
    row["score_reasons"] = [{"rule": r.rule, "points": r.points, "detail": r.detail} for r in lead.score_reasons]
    return row


def _to_lead(pii: PiiCodec, row: Any) -> Lead:
    data = dict(row._mapping)
    source = Source(**{k: data.pop(k) for k in _SOURCE_FIELDS})
    for name, column in _SEALED_FIELDS.items():
        data[name] = pii.decrypt(LEADS_PII.context(column, data["lead_id"]), data.pop(column))
    for derived in ("name_tokens", "phone_bidx", "email_bidx", "national_id_bidx"):
        data.pop(derived)
    reasons = [ScoreReason(**r) for r in data.pop("score_reasons") or []]
    return Lead(**{**data, "status": Status(data["status"]), "source": source, "score_reasons": reasons})


def _matches_name(lead: Lead, folded_prefix: str) -> bool:
    """What name search means: some word of the name starts with the prefix (folded)."""
    name = fold(lead.full_name)
    return name.startswith(folded_prefix) or f" {folded_prefix}" in name


@dataclass(frozen=True)
class CaptureOutcome:
    """What happened to a captured lead: created, a repeat of an earlier request, or a duplicate."""

    created: bool
    # A repeat: the earlier request's hash and result (the lead id).
    previous_hash: str = ""
    previous_ref: str = ""
    # A duplicate: the open lead with the same phone or email, and which of the two matched.
    duplicate_of: str = ""
    duplicate_on: str = ""


def _dumps(value: Any) -> str:
    return json.dumps(value, default=lambda v: v.isoformat() if isinstance(v, datetime) else str(v), ensure_ascii=False)


_AUDIT_COLUMNS = ("occurred_at", "subject", "roles", "client_id", "service", "rpc", "object_ids", "outcome", "trace_id", "purpose")
_AUDIT_CASTS = {"occurred_at": "timestamptz", "roles": "jsonb", "object_ids": "jsonb"}


@functools.cache
def _capture_sql(event_count: int, audited: bool = False) -> str:
    """The capture statement for PostgreSQL, built once.

    Data-modifying CTEs: look up the idempotency key and an open duplicate; insert the lead only
    when neither exists; insert its events, its idempotency key and the call's audit row only
    when the lead was inserted. One round trip, and nothing compiled per call.

    Plan-stable: the statement is prepared once per connection and its generic plan kept, maybe
    from a first call on an empty table with no statistics. Phone and email are probed as two
    single-equality scans, each of which takes its index even then; one OR of both was planned
    as a sequential scan of an empty table and stayed one as the table grew (11 ms per capture
    at 20,000 leads, bench/README.md).
    """
    open_statuses = ", ".join(f"'{s}'" for s in sorted(OPEN_STATUSES))
    events = ",\n    ".join(
        f"(%(e{i}_event_id)s::varchar, %(e{i}_event_type)s::varchar, %(e{i}_payload)s::bytea,"
        f" %(e{i}_headers)s::json, %(e{i}_created_at)s::timestamptz)"
        for i in range(event_count)
    )
    audit = ""
    if audited:
        values = ", ".join(f"%(a_{c})s" + (f"::{_AUDIT_CASTS[c]}" if c in _AUDIT_CASTS else "") for c in _AUDIT_COLUMNS)
        audit = f""", new_audit AS (
  INSERT INTO audit_log ({", ".join(_AUDIT_COLUMNS)})
  SELECT {values} FROM new_lead
  RETURNING 1
)"""
    return f"""
WITH prior AS (
  SELECT request_hash, result_ref FROM idempotency_keys WHERE method = %(method)s AND request_id = %(request_id)s
), duplicate AS (
  (SELECT lead_id, phone_bidx FROM leads WHERE phone_bidx = %(match_phone)s AND status IN ({open_statuses}) LIMIT 1)
  UNION ALL
  (SELECT lead_id, phone_bidx FROM leads WHERE email_bidx = %(match_email)s AND status IN ({open_statuses}) LIMIT 1)
  LIMIT 1
), new_lead AS (
  INSERT INTO leads SELECT * FROM jsonb_populate_record(NULL::leads, %(lead)s)
  WHERE NOT EXISTS (SELECT 1 FROM prior) AND NOT EXISTS (SELECT 1 FROM duplicate)
  RETURNING lead_id
), new_events AS (
  INSERT INTO outbox (event_id, event_type, payload, headers, created_at)
  SELECT v.* FROM (VALUES
    {events}
  ) AS v WHERE EXISTS (SELECT 1 FROM new_lead)
  RETURNING seq
), new_key AS (
  INSERT INTO idempotency_keys (method, request_id, request_hash, result_ref, created_at)
  SELECT %(method)s, %(request_id)s, %(request_hash)s, lead_id, %(created_at)s FROM new_lead
  RETURNING 1
){audit}
SELECT (SELECT request_hash FROM prior) AS previous_hash, (SELECT result_ref FROM prior) AS previous_ref,
       (SELECT lead_id FROM duplicate) AS duplicate_of, (SELECT phone_bidx FROM duplicate) AS duplicate_phone,
       (SELECT count(*) FROM new_events) AS events_written, (SELECT count(*) FROM new_key) AS keys_written
"""


class LeadRepository:
    def __init__(self, conn: Connection, pii: PiiCodec, group_commit: GroupCommit | None = None) -> None:
        self.conn = conn
        self.pii = pii
        self.group_commit = group_commit

    # -- leads
    def add(self, lead: Lead) -> None:
        self.conn.execute(leads.insert().values(_to_row(self.pii, lead)))

    def add_many(self, many: list[Lead]) -> None:
        if many:
            self.conn.execute(leads.insert(), [_to_row(self.pii, lead) for lead in many])

    def capture(
        self,
        lead: Lead,
        outbox_rows: list[dict[str, Any]],
        method: str,
        request_id: str,
        fingerprint: str,
        audit_row: dict[str, Any] | None = None,
    ) -> CaptureOutcome:
        """Stores a new lead with its events, idempotency key and the call's audit row (when
        audited), unless the request was seen before or an open lead has the same phone or
        email. On PostgreSQL this is ONE statement (data-modifying CTEs): the capture path's cost
        is its round trips (FACTS.md)."""
        if self.conn.dialect.name == "postgresql":
            return self._capture_in_one_statement(lead, outbox_rows, method, request_id, fingerprint, audit_row)
        idempotency = metadata.tables["idempotency_keys"]
        prior = self.conn.execute(
            select(idempotency.c.request_hash, idempotency.c.result_ref).where(idempotency.c.method == method, idempotency.c.request_id == request_id)
        ).first()
        if prior is not None:
            return CaptureOutcome(False, previous_hash=prior.request_hash, previous_ref=prior.result_ref)
        duplicates = self.find_open_duplicates([lead.phone_e164] if lead.phone_e164 else [], [lead.email] if lead.email else [])
        for (kind, _value), lead_id in duplicates.items():
            return CaptureOutcome(False, duplicate_of=lead_id, duplicate_on=kind)
        self.add(lead)
        if outbox_rows:
            self.conn.execute(metadata.tables["outbox"].insert(), outbox_rows)
        self.conn.execute(
            idempotency.insert().values(
                method=method, request_id=request_id, request_hash=fingerprint, result_ref=lead.lead_id, created_at=lead.created_at
            )
        )
        if audit_row is not None:
            self.conn.execute(metadata.tables["audit_log"].insert().values(audit_row))
        return CaptureOutcome(True)

    def _capture_in_one_statement(
        self, lead: Lead, outbox_rows: list[dict[str, Any]], method: str, request_id: str, fingerprint: str, audit_row: dict[str, Any] | None
    ) -> CaptureOutcome:
        row = _to_row(self.pii, lead)
        params: dict[str, Any] = {
            # The whole lead as one JSONB value, expanded by jsonb_populate_record: a short
            # statement psycopg can cache, and one parameter to adapt instead of fifty.
            "lead": Jsonb(row, dumps=_dumps),
            "method": method,
            "request_id": request_id,
            "request_hash": fingerprint,
            "created_at": lead.created_at,
            # NULL never equals anything: an absent phone or email matches no lead.
            "match_phone": row["phone_bidx"] or None,
            "match_email": row["email_bidx"] or None,
        }
        for i, event in enumerate(outbox_rows):
            params.update({f"e{i}_{k}": Jsonb(v) if k == "headers" else v for k, v in event.items()})
        if audit_row is not None:
            params.update({f"a_{k}": Jsonb(v) if k in ("roles", "object_ids") else v for k, v in audit_row.items()})
        sql = _capture_sql(len(outbox_rows), audit_row is not None)
        if self.group_commit is not None:
            # Committed together with the captures that arrive meanwhile (crm_common.group_commit).
            previous_hash, previous_ref, duplicate_of, duplicate_phone, _events, _keys = self.group_commit.execute(sql, params)  # type: ignore[misc]
        else:
            # Straight on the driver's connection: SQLAlchemy's execution context and result
            # objects were a fifth of the API's CPU on this path (bench/README.md).
            with self.conn.connection.driver_connection.cursor() as cursor:  # type: ignore[union-attr]
                cursor.execute(sql, params)
                previous_hash, previous_ref, duplicate_of, duplicate_phone, _events, _keys = cursor.fetchone()
        if previous_ref is not None:
            return CaptureOutcome(False, previous_hash=previous_hash, previous_ref=previous_ref)
        if duplicate_of is not None:
            on = "phone" if row["phone_bidx"] and duplicate_phone == row["phone_bidx"] else "email"
            return CaptureOutcome(False, duplicate_of=duplicate_of, duplicate_on=on)
        return CaptureOutcome(True)

    @staticmethod
    def in_scope(scope: DataScope) -> ColumnElement[bool]:
        """The leads `scope` reaches, by owner, team, branch and territory."""
        c = leads.c
        return scope.condition(owner=c.owner_id, team=c.team_id, branch=c.branch_id, territory=c.territory_id)

    def get(self, lead_id: str, scope: DataScope, for_update: bool = False) -> Lead:
        """The lead, if `scope` reaches it; NOT_FOUND otherwise, as if it did not exist."""
        stmt = select(leads).where(leads.c.lead_id == lead_id, self.in_scope(scope))
        if for_update:
            stmt = stmt.with_for_update()
        row = self.conn.execute(stmt).first()
        if row is None:
            raise NotFound("lead", lead_id)
        return _to_lead(self.pii, row)

    def save(self, lead: Lead) -> None:
        """Writes a changed lead; refuses when someone else saved it since it was read."""
        row = _to_row(self.pii, lead)
        row["version"] = lead.version + 1
        result = self.conn.execute(update(leads).where(leads.c.lead_id == lead.lead_id, leads.c.version == lead.version).values(row))
        if result.rowcount != 1:
            raise Aborted(f"lead {lead.lead_id} was changed concurrently; retry")
        lead.version += 1

    def find_open_duplicates(self, phones: list[str], emails: list[str]) -> dict[tuple[str, str], str]:
        """Open leads having any of these phones or emails: {("phone"|"email", value): lead_id}."""
        by_phone = {self.pii.index("phone", p): p for p in phones}
        by_email = {self.pii.index("email", e): e for e in emails}
        # One lookup per index, not one OR across both columns: the statement is prepared and its
        # generic plan kept, and an OR planned on an empty table is a sequential scan for good
        # (the capture statement's note, _capture_sql).
        probes = [
            select(leads.c.lead_id, leads.c.phone_bidx, leads.c.email_bidx).where(column.in_(list(values)), leads.c.status.in_(_OPEN))
            for column, values in ((leads.c.phone_bidx, by_phone), (leads.c.email_bidx, by_email))
            if values
        ]
        if not probes:
            return {}
        rows = self.conn.execute(probes[0] if len(probes) == 1 else union_all(*probes)).all()
        found: dict[tuple[str, str], str] = {}
        for row in rows:
            if row.phone_bidx in by_phone:
                found[("phone", by_phone[row.phone_bidx])] = row.lead_id
            if row.email_bidx in by_email:
                found[("email", by_email[row.email_bidx])] = row.lead_id
        return found

    def search(self, where: LeadFilter, page: Page, scope: DataScope) -> tuple[list[Lead], dict[str, Any] | None]:
        """Newest first, within `scope`; returns the page and the key to continue after (None on
        the last page)."""
        clauses: list[ColumnElement[bool]] = [self.in_scope(scope)]
        if where.statuses:
            clauses.append(leads.c.status.in_(where.statuses))
        for column, value in (
            (leads.c.owner_id, where.owner_id),
            (leads.c.team_id, where.team_id),
            (leads.c.channel, where.channel),
            (leads.c.campaign_id, where.campaign_id),
            (leads.c.phone_bidx, self.pii.index("phone", where.phone_e164)),
            (leads.c.email_bidx, self.pii.index("email", where.email)),
        ):
            if value:
                clauses.append(column == value)
        if where.created_after:
            clauses.append(leads.c.created_at >= where.created_after)
        if where.created_before:
            clauses.append(leads.c.created_at < where.created_before)
        prefix = fold(where.name_prefix)
        if prefix:
            clauses.append(self._has_name_token(self.pii.search_token("name", prefix)))
        rows, after = newest_first(self.conn, select(leads).where(*clauses), leads.c.created_at, leads.c.lead_id, page)
        found = [_to_lead(self.pii, r) for r in rows]
        # A token stands for a prefix of at most 24 characters (and may collide): the decrypted
        # name decides. The page may then be short; its token still continues after it.
        return ([lead for lead in found if _matches_name(lead, prefix)] if prefix else found), after

    def _has_name_token(self, token: str) -> ColumnElement[bool]:
        if self.conn.dialect.name == "postgresql":
            # The expression of the GIN index ix_leads_name_tokens, so the planner can use it.
            tokens = func.string_to_array(leads.c.name_tokens, literal_column("' '"))
            return tokens.op("@>")(cast(postgresql.array([token]), postgresql.ARRAY(Text)))  # type: ignore[no-any-return]
        return (literal(" ") + leads.c.name_tokens + literal(" ")).like(f"% {token} %")

    # -- behaviour and contact
    def add_behaviour(self, lead_id: str, behaviour: str, occurred_at: datetime, detail: str) -> None:
        sealed = self.pii.encrypt(BEHAVIOURS_PII.context("detail_enc", lead_id), detail)
        self.conn.execute(lead_behaviours.insert().values(lead_id=lead_id, behaviour=behaviour, occurred_at=occurred_at, detail_enc=sealed))

    def behaviours(self, lead_id: str) -> list[str]:
        return list(self.conn.execute(select(lead_behaviours.c.behaviour).where(lead_behaviours.c.lead_id == lead_id)).scalars())

    def add_contact_attempt(self, attempt: ContactAttempt) -> None:
        self.conn.execute(
            contact_attempts.insert().values(
                attempt_id=attempt.attempt_id,
                lead_id=attempt.lead_id,
                channel=attempt.channel,
                outcome=str(attempt.outcome),
                note_enc=self.pii.encrypt(CONTACT_ATTEMPTS_PII.context("note_enc", attempt.attempt_id), attempt.note),
                agent_id=attempt.agent_id,
                contacted_at=attempt.contacted_at,
            )
        )

    def contact_attempts(self, lead_id: str) -> list[ContactAttempt]:
        rows = self.conn.execute(
            select(contact_attempts).where(contact_attempts.c.lead_id == lead_id).order_by(contact_attempts.c.contacted_at)
        ).all()
        return [
            ContactAttempt(
                attempt_id=r.attempt_id,
                lead_id=r.lead_id,
                channel=r.channel,
                outcome=ContactOutcome(r.outcome),
                note=self.pii.decrypt(CONTACT_ATTEMPTS_PII.context("note_enc", r.attempt_id), r.note_enc),
                agent_id=r.agent_id,
                contacted_at=r.contacted_at,
            )
            for r in rows
        ]

    def was_reached(self, lead_id: str) -> bool:
        return bool(
            self.conn.execute(
                select(func.count()).where(contact_attempts.c.lead_id == lead_id, contact_attempts.c.outcome == str(ContactOutcome.REACHED))
            ).scalar()
        )

    # -- teams
    def set_team(self, team_id: str, members: list[str], now: datetime) -> None:
        updated = self.conn.execute(update(teams).where(teams.c.team_id == team_id).values(members=members, updated_at=now))
        if updated.rowcount == 0:
            self.conn.execute(teams.insert().values(team_id=team_id, members=members, turn=0, updated_at=now))

    def take_team_turn(self, team_id: str) -> tuple[list[str], int]:
        """Atomically advances the team's round-robin counter; returns (members, the turn taken)."""
        row = self.conn.execute(
            update(teams).where(teams.c.team_id == team_id).values(turn=teams.c.turn + 1).returning(teams.c.members, teams.c.turn)
        ).first()
        if row is None:
            raise NotFound("team", team_id)
        return list(row.members), int(row.turn) - 1

    # -- conversion saga
    def get_conversion(self, lead_id: str, for_update: bool = False) -> Conversion | None:
        """`for_update`: held until the transaction ends. A no-op UPDATE rather than SELECT FOR
        UPDATE, so SQLite (which has no row locks) takes its write lock and serialises too."""
        if for_update:
            self.conn.execute(update(conversions).where(conversions.c.lead_id == lead_id).values(lead_id=conversions.c.lead_id))
        row = self.conn.execute(select(conversions).where(conversions.c.lead_id == lead_id)).first()
        return Conversion(**row._mapping) if row else None

    def start_conversion(self, conversion: Conversion) -> None:
        self.conn.execute(conversions.insert().values(asdict(conversion)))

    def update_conversion(self, lead_id: str, **values: Any) -> None:
        self.conn.execute(update(conversions).where(conversions.c.lead_id == lead_id).values(**values))

    def claim_stalled_conversions(self, older_than: datetime, now: datetime, limit: int = 50) -> list[str]:
        """Takes unfinished conversions not touched since `older_than`, marking them touched now:
        another replica's recovery loop skips them (locked or fresh) instead of racing this one."""
        stalled = (
            select(conversions.c.lead_id)
            .where(conversions.c.state != "COMPLETED", conversions.c.updated_at < older_than)
            .order_by(conversions.c.updated_at)
            .limit(limit)
        )
        if self.conn.dialect.name == "postgresql":
            stalled = stalled.with_for_update(skip_locked=True)
        claimed = self.conn.execute(
            update(conversions).where(conversions.c.lead_id.in_(stalled.scalar_subquery())).values(updated_at=now).returning(conversions.c.lead_id)
        )
        return list(claimed.scalars())

    # -- imports and closed loop
    def save_import(self, import_id: str, results: list[dict[str, Any]], now: datetime) -> None:
        self.conn.execute(imports.insert().values(import_id=import_id, results=results, created_at=now))

    def get_import(self, import_id: str) -> list[dict[str, Any]]:
        row = self.conn.execute(select(imports.c.results).where(imports.c.import_id == import_id)).first()
        if row is None:
            raise NotFound("import", import_id)
        return list(row.results)

    def _of_person(self, person: PersonIdentifiers) -> ColumnElement[bool]:
        """A person's leads: those converted into their accounts (merged-away ones included) or
        named as theirs, and unconverted ones with their national id, phone or email. A lead
        converted into another account is that customer's record, whatever it shares."""
        clauses: list[ColumnElement[bool]] = []
        if person.account_ids:
            clauses.append(leads.c.account_id.in_(person.account_ids))
        if person.lead_ids:
            clauses.append(leads.c.lead_id.in_(person.lead_ids))
        contact = [leads.c[f"{kind}_bidx"].in_(indexes) for kind, indexes in person.contact_indexes.items() if indexes]
        if contact:
            clauses.append(and_(leads.c.account_id == "", or_(*contact)))
        return or_(*clauses) if clauses else false()

    def lead_ids_of(self, person: PersonIdentifiers) -> list[str]:
        """The ids of a person's leads, oldest first."""
        return list(self.conn.scalars(select(leads.c.lead_id).where(self._of_person(person)).order_by(leads.c.created_at, leads.c.lead_id)))

    def behaviour_log(self, lead_id: str) -> list[tuple[str, datetime, str]]:
        """(behaviour, when, detail) of a lead, oldest first."""
        rows = self.conn.execute(select(lead_behaviours).where(lead_behaviours.c.lead_id == lead_id).order_by(lead_behaviours.c.occurred_at))
        return [(r.behaviour, r.occurred_at, self.pii.decrypt(BEHAVIOURS_PII.context("detail_enc", lead_id), r.detail_enc)) for r in rows]

    def anonymise_person(self, person: PersonIdentifiers) -> int:
        """Blanks every personal field of a person's leads (`_of_person`); returns how many
        leads were touched. Ids, statuses, dates and campaign attribution stay, so reports still
        count them."""
        touched = self.lead_ids_of(person)
        if not touched:
            return 0
        blank = {"name_tokens": "", "phone_enc": "", "phone_bidx": "", "email_enc": "", "email_bidx": "", "province_code": ""}
        blank |= {"national_id_enc": "", "national_id_bidx": "", "note_enc": "", "status_note_enc": ""}
        blank |= {"cookie_id": "", "landing_page_url": "", "referrer_url": ""}
        self.conn.execute(update(leads).where(leads.c.lead_id.in_(touched)).values(blank))
        # The placeholder name is encrypted like any name: each token is bound to its lead.
        for lead_id in touched:
            erased = self.pii.encrypt(LEADS_PII.context("full_name_enc", lead_id), ERASED_NAME)
            self.conn.execute(update(leads).where(leads.c.lead_id == lead_id).values(full_name_enc=erased))
        self.conn.execute(update(contact_attempts).where(contact_attempts.c.lead_id.in_(touched)).values(note_enc=""))
        self.conn.execute(update(lead_behaviours).where(lead_behaviours.c.lead_id.in_(touched)).values(detail_enc=""))
        return len(touched)

    def record_opportunity(self, lead_id: str, opportunity_id: str, status: str, amount_minor: int | None, currency: str, now: datetime) -> None:
        """Upserts: the conversion and the worker's OpportunityCreated may record it at once."""
        values = {"status": status, "amount_minor": amount_minor, "currency": currency, "updated_at": now}
        stmt = upsert_insert(self.conn)(lead_opportunities).values(opportunity_id=opportunity_id, lead_id=lead_id, **values)
        self.conn.execute(stmt.on_conflict_do_update(index_elements=[lead_opportunities.c.opportunity_id], set_=values))

    def opportunities_of(self, lead_id: str) -> list[dict[str, Any]]:
        rows = self.conn.execute(select(lead_opportunities).where(lead_opportunities.c.lead_id == lead_id)).all()
        return [dict(r._mapping) for r in rows]

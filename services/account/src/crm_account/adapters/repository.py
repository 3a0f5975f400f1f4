"""Reading and writing accounts with SQLAlchemy Core.

PII never reaches the database in the clear: names, national ids, phones and emails are encrypted with
the row and column as associated data (a ciphertext moved elsewhere does not decrypt), and found
again through their blind indexes (names through blind word-prefix tokens).
"""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import date, datetime
from types import SimpleNamespace
from typing import Any

from sqlalchemy import ColumnElement, Connection, Date, Text, cast, delete, func, insert, literal, literal_column, or_, select, union, update
from sqlalchemy.dialects import postgresql

from crm_account.adapters.orm import (
    ACCOUNTS_PII,
    account_changes,
    account_contact_points,
    account_match_keys,
    account_merges,
    accounts,
    household_members,
)
from crm_account.domain.duplicates import name_dob_key
from crm_account.domain.kyc import Kyc, KycStatus, RiskRating
from crm_account.domain.model import (
    Account,
    AccountChange,
    AccountType,
    Acquisition,
    Address,
    BusinessProfile,
    ChangeKind,
    ContactChannel,
    ContactKeys,
    ContactWindow,
    DayOfWeek,
    Gender,
    IncomeBand,
    LifecycleStage,
    Profile,
    Totals,
    ValueTier,
)
from crm_common.auth.scopes import DataScope
from crm_common.contact import fold
from crm_common.db import UtcDateTime
from crm_common.errors import Aborted, NotFound
from crm_common.pagination import Page, newest_first

# Re-exported: callers (tests, tools) build an AccountRepository with the suite's one codec.
from crm_common.pii import PiiCodec as PiiCodec
from crm_common.privacy import PersonIdentifiers

PHONE, EMAIL, NATIONAL_ID = "phone", "email", "national_id"
# The blind index kind of duplicate detection's name + date of birth blocking key.
NAME_DOB = "name_dob"
# Merged accounts can be merged again; a chain longer than this is a loop, not history.
MAX_MERGE_HOPS = 10


def _matches_name(full_name: str, folded_prefix: str) -> bool:
    """What name search means: some word of the name starts with the prefix (folded)."""
    name = fold(full_name)
    return name.startswith(folded_prefix) or f" {folded_prefix}" in name


def _seal(pii: PiiCodec, kind: str, value: str, account_id: str) -> tuple[str, str]:
    """(ciphertext, blind index) of a normalised value; ('', '') for ''."""
    return pii.encrypt(_context(kind, account_id), value), pii.index(kind, value)


def _context(kind: str, account_id: str) -> str:
    """What an account's token is bound to: "<kind>:<account id>" (ACCOUNTS_PII, CONTACT_POINTS_PII)."""
    return f"{kind}:{account_id}"


def key_indexes(pii: PiiCodec, keys: ContactKeys) -> dict[str, str]:
    """Blind index of each known key, by kind."""
    return {kind: pii.index(kind, value) for kind, value in ((NATIONAL_ID, keys.national_id), (PHONE, keys.phone_e164), (EMAIL, keys.email)) if value}


def _acquisition_row(acquisition: Acquisition | None) -> dict[str, Any]:
    if acquisition is None:
        return {
            "acquisition_lead_id": "",
            "acquisition_channel": "",
            "acquisition_campaign_id": "",
            "acquisition_utm_source": "",
            "acquisition_utm_medium": "",
            "acquisition_utm_campaign": "",
            "acquired_at": None,
        }
    return {
        "acquisition_lead_id": acquisition.lead_id,
        "acquisition_channel": acquisition.channel,
        "acquisition_campaign_id": acquisition.campaign_id,
        "acquisition_utm_source": acquisition.utm_source,
        "acquisition_utm_medium": acquisition.utm_medium,
        "acquisition_utm_campaign": acquisition.utm_campaign,
        "acquired_at": acquisition.acquired_at,
    }


def _json_value(value: Any) -> Any:
    return value.isoformat() if isinstance(value, date | datetime) else value


def _windows_json(windows: tuple[ContactWindow, ...]) -> str:
    return json.dumps([{"days": [int(d) for d in w.days], "start": w.start_minute, "end": w.end_minute} for w in windows])


def _windows(text: str) -> tuple[ContactWindow, ...]:
    return tuple(ContactWindow(tuple(DayOfWeek(d) for d in w["days"]), w["start"], w["end"]) for w in json.loads(text))


BANK_WIDE = DataScope.bank_wide()


def in_scope(scope: DataScope) -> ColumnElement[bool]:
    """The accounts `scope` reaches, by owner, branch and territory (accounts have no team)."""
    c = accounts.c
    return scope.condition(owner=c.owner_id, branch=c.branch_id, territory=c.territory_id)


class AccountRepository:
    def __init__(self, conn: Connection, pii: PiiCodec) -> None:
        self.conn = conn
        self.pii = pii

    # --- writing -------------------------------------------------------------------------

    def _row(self, account: Account) -> dict[str, Any]:
        p = account.profile
        national_id_enc, national_id_bidx = _seal(self.pii, NATIONAL_ID, p.national_id, account.account_id)
        business = p.business or BusinessProfile()
        return {
            "account_id": account.account_id,
            "account_type": str(p.account_type),
            "lifecycle_stage": str(p.lifecycle_stage),
            "full_name_enc": self.pii.encrypt(ACCOUNTS_PII.context("full_name_enc", account.account_id), p.full_name),
            "name_tokens": self.pii.search_tokens("name", fold(p.full_name)),
            "gender": str(p.gender or ""),
            "date_of_birth": p.date_of_birth,
            "national_id_enc": national_id_enc,
            "national_id_bidx": national_id_bidx,
            "national_id_legacy": p.national_id_legacy,
            "address_line": p.address.line,
            "ward_code": p.address.ward_code,
            "district_code": p.address.district_code,
            "province_code": p.address.province_code,
            "occupation": p.occupation,
            "income_band": str(p.income_band or ""),
            "preferred_language": p.preferred_language,
            "preferred_channel": str(p.preferred_channel or ""),
            "best_contact_times": _windows_json(p.best_contact_times),
            "derived_tier": str(account.derived_tier),
            "tier_override": str(account.tier_override or ""),
            "tier_override_reason": account.tier_override_reason,
            "customer_since": account.customer_since,
            "owner_id": p.owner_id,
            "branch_id": p.branch_id,
            "territory_id": p.territory_id,
            "tax_code": business.tax_code,
            "industry": business.industry,
            "source_lead_id": account.source_lead_id,
            **_acquisition_row(account.acquisition),
            "created_at": account.created_at,
            "created_by": account.created_by,
            "updated_at": account.updated_at,
            "updated_by": account.updated_by,
            "version": account.version,
            "kyc_status": str(account.kyc.status),
            "kyc_reason": account.kyc.reason,
            "kyc_risk_rating": str(account.kyc.risk_rating or ""),
            "kyc_verified_at": account.kyc.verified_at,
            "kyc_expires_at": account.kyc.expires_at,
            "kyc_reference": account.kyc.reference,
            "kyc_source_system": account.kyc.source_system,
            "kyc_updated_at": account.kyc.updated_at,
            "total_deposits": account.totals.deposits,
            "total_loans": account.totals.loans,
            "total_aum": account.totals.aum,
            "open_holdings": account.totals.open_holdings,
            "name_dob_bidx": self.pii.index(NAME_DOB, name_dob_key(p.full_name, p.date_of_birth)),
            "merged_into": account.merged_into,
            "legal_hold": account.legal_hold,
            "legal_hold_reason": account.legal_hold_reason,
            "erased_at": account.erased_at,
        }

    def _write_contact_points(self, account: Account) -> None:
        self.conn.execute(delete(account_contact_points).where(account_contact_points.c.account_id == account.account_id))
        rows = []
        for kind, values in ((PHONE, account.profile.phones), (EMAIL, account.profile.emails)):
            for position, value in enumerate(values):
                value_enc, value_bidx = _seal(self.pii, kind, value, account.account_id)
                rows.append({"account_id": account.account_id, "kind": kind, "position": position, "value_enc": value_enc, "value_bidx": value_bidx})
        if rows:
            self.conn.execute(insert(account_contact_points), rows)

    def add(self, account: Account) -> None:
        """Raises IntegrityError when another account holds its national id."""
        self.conn.execute(insert(accounts).values(self._row(account)))
        self._write_contact_points(account)

    def save(self, account: Account, read_version: int) -> None:
        """Writes the whole account; Aborted when someone else changed it since `read_version`."""
        result = self.conn.execute(
            update(accounts)
            .where(accounts.c.account_id == account.account_id, accounts.c.version == read_version)
            .values({k: v for k, v in self._row(account).items() if k != "account_id"})
        )
        if result.rowcount != 1:
            raise Aborted("the account was changed by another request; read it again and retry")
        self._write_contact_points(account)

    def claim_match_keys(self, account: Account, strict: bool) -> None:
        """Records `account` as the first holder of each of its keys not yet held.

        `strict`: a key another account already claimed raises IntegrityError (the loser of a
        resolve race retries and then matches the winner's account).
        """
        indexes = list(key_indexes(self.pii, account.keys).values())
        if strict:
            for key_bidx in indexes:
                self.conn.execute(insert(account_match_keys).values(key_bidx=key_bidx, account_id=account.account_id))
            return
        taken = set(self.conn.scalars(select(account_match_keys.c.key_bidx).where(account_match_keys.c.key_bidx.in_(indexes))))
        for key_bidx in indexes:
            if key_bidx not in taken:
                self.conn.execute(insert(account_match_keys).values(key_bidx=key_bidx, account_id=account.account_id))

    def add_change(self, *changes: AccountChange) -> None:
        rows = [
            {
                "change_id": change.change_id,
                "account_id": change.account_id,
                "kind": str(change.kind),
                "changed_at": change.changed_at,
                "actor": change.actor,
                "changed_fields": json.dumps(list(change.changed_fields)),
                "reason": change.reason,
            }
            for change in changes
        ]
        if rows:
            self.conn.execute(insert(account_changes), rows)

    # --- reading -------------------------------------------------------------------------

    def _load(self, rows: list[Any]) -> list[Account]:
        if not rows:
            return []
        points: dict[tuple[str, str], list[str]] = defaultdict(list)
        ids = [row.account_id for row in rows]
        query = (
            select(account_contact_points)
            .where(account_contact_points.c.account_id.in_(ids))
            .order_by(account_contact_points.c.account_id, account_contact_points.c.kind, account_contact_points.c.position)
        )
        for point in self.conn.execute(query):
            points[(point.account_id, point.kind)].append(self.pii.decrypt(_context(point.kind, point.account_id), point.value_enc))
        homes = select(household_members.c.account_id, household_members.c.household_id).where(household_members.c.account_id.in_(ids))
        household_of = {account_id: household_id for account_id, household_id in self.conn.execute(homes)}
        loaded = [self._to_account(row, points) for row in rows]
        for account in loaded:
            account.household_id = household_of.get(account.account_id, "")
        return loaded

    def _to_account(self, row: Any, points: dict[tuple[str, str], list[str]]) -> Account:
        acquisition = None
        if row.acquired_at is not None:
            acquisition = Acquisition(
                lead_id=row.acquisition_lead_id,
                channel=row.acquisition_channel,
                campaign_id=row.acquisition_campaign_id,
                utm_source=row.acquisition_utm_source,
                utm_medium=row.acquisition_utm_medium,
                utm_campaign=row.acquisition_utm_campaign,
                acquired_at=row.acquired_at,
            )
        account_type = AccountType(row.account_type)
        profile = Profile(
            account_type=account_type,
            full_name=self.pii.decrypt(ACCOUNTS_PII.context("full_name_enc", row.account_id), row.full_name_enc),
            gender=Gender(row.gender) if row.gender else None,
            date_of_birth=row.date_of_birth if isinstance(row.date_of_birth, date) else None,
            national_id=self.pii.decrypt(_context(NATIONAL_ID, row.account_id), row.national_id_enc),
            national_id_legacy=row.national_id_legacy,
            phones=tuple(points[(row.account_id, PHONE)]),
            emails=tuple(points[(row.account_id, EMAIL)]),
            address=Address(row.address_line, row.ward_code, row.district_code, row.province_code),
            occupation=row.occupation,
            income_band=IncomeBand(row.income_band) if row.income_band else None,
            preferred_language=row.preferred_language,
            preferred_channel=ContactChannel(row.preferred_channel) if row.preferred_channel else None,
            best_contact_times=_windows(row.best_contact_times),
            lifecycle_stage=LifecycleStage(row.lifecycle_stage),
            owner_id=row.owner_id,
            branch_id=row.branch_id,
            territory_id=row.territory_id,
            business=BusinessProfile(row.tax_code, row.industry) if account_type is AccountType.BUSINESS else None,
        )
        return Account(
            account_id=row.account_id,
            profile=profile,
            source_lead_id=row.source_lead_id,
            acquisition=acquisition,
            created_at=row.created_at,
            created_by=row.created_by,
            updated_at=row.updated_at,
            updated_by=row.updated_by,
            derived_tier=ValueTier(row.derived_tier),
            tier_override=ValueTier(row.tier_override) if row.tier_override else None,
            tier_override_reason=row.tier_override_reason,
            customer_since=row.customer_since,
            version=row.version,
            kyc=Kyc(
                status=KycStatus(row.kyc_status),
                reason=row.kyc_reason,
                risk_rating=RiskRating(row.kyc_risk_rating) if row.kyc_risk_rating else None,
                verified_at=row.kyc_verified_at,
                expires_at=row.kyc_expires_at,
                reference=row.kyc_reference,
                source_system=row.kyc_source_system,
                updated_at=row.kyc_updated_at,
            ),
            totals=Totals(row.total_deposits, row.total_loans, row.total_aum, row.open_holdings),
            merged_into=row.merged_into,
            legal_hold=row.legal_hold,
            legal_hold_reason=row.legal_hold_reason,
            erased_at=row.erased_at,
        )

    def get(self, account_id: str, scope: DataScope, for_update: bool = False, follow_merges: bool = True) -> Account:
        """The account, if `scope` reaches it (NOT_FOUND otherwise, as if it did not exist); for an
        id merged into another, the survivor (unless `follow_merges` is off)."""
        wanted = account_id
        for _hop in range(MAX_MERGE_HOPS):
            # A merged-away id only points at its survivor, which must be in scope in turn.
            reached = or_(accounts.c.merged_into != "", in_scope(scope)) if follow_merges else in_scope(scope)
            query = select(accounts).where(accounts.c.account_id == wanted, reached)
            if for_update:
                query = query.with_for_update()
            row = self.conn.execute(query).first()
            if row is None:
                raise NotFound("account", account_id)
            if not (follow_merges and row.merged_into):
                return self._load([row])[0]
            wanted = row.merged_into
        raise NotFound("account", account_id)

    def resolve_id(self, account_id: str, scope: DataScope) -> str:
        """The id of the account `account_id` is now (itself, or the survivor it was merged into),
        if `scope` reaches it; NOT_FOUND otherwise."""
        wanted = account_id
        for _hop in range(MAX_MERGE_HOPS):
            reached = or_(accounts.c.merged_into != "", in_scope(scope))
            merged_into = self.conn.scalar(select(accounts.c.merged_into).where(accounts.c.account_id == wanted, reached))
            if merged_into is None:
                raise NotFound("account", account_id)
            if not merged_into:
                return wanted
            wanted = merged_into
        raise NotFound("account", account_id)

    def candidates_for(self, keys: dict[str, str], exclude_id: str, limit: int = 50, scope: DataScope = BANK_WIDE) -> list[Account]:
        """Live accounts sharing any of duplicate detection's blocking `keys` (candidate_keys),
        among those `scope` reaches (detection itself compares against every account).

        One UNION of single-index lookups, not one query with an OR across them: PostgreSQL
        cannot combine an OR over a subquery with the other indexes and would scan the table.
        """
        lookups = []
        contact_indexes = []
        for name, value in keys.items():
            if name == "national_id":
                lookups.append(select(accounts.c.account_id).where(accounts.c.national_id_bidx == self.pii.index(NATIONAL_ID, value)))
            elif name == "business.tax_code":
                lookups.append(select(accounts.c.account_id).where(accounts.c.tax_code == value).limit(limit))
            elif name == "name+dob":
                lookups.append(select(accounts.c.account_id).where(accounts.c.name_dob_bidx == self.pii.index(NAME_DOB, value)).limit(limit))
            else:
                contact_indexes.append(self.pii.index(PHONE if name.startswith("phones") else EMAIL, value))
        if contact_indexes:
            points = account_contact_points.c
            lookups.append(select(points.account_id).where(points.value_bidx.in_(contact_indexes)).limit(limit))
        if not lookups:
            return []
        ids = {account_id for account_id in self.conn.scalars(union(*[q.subquery().select() for q in lookups])) if account_id != exclude_id}
        if not ids:
            return []
        query = select(accounts).where(accounts.c.account_id.in_(sorted(ids)), accounts.c.merged_into == "", in_scope(scope)).limit(limit)
        return self._load(list(self.conn.execute(query).all()))

    def forget(self, account_id: str) -> None:
        """Drops what would still point at an erased person: match keys (blind indexes of their
        contact points) and open duplicate pairs."""
        self.conn.execute(delete(account_match_keys).where(account_match_keys.c.account_id == account_id))

    def merged_away(self, account_id: str) -> list[Account]:
        """Every account merged into this one, directly or through a chain (their tombstones)."""
        found: list[Account] = []
        seen, frontier = {account_id}, [account_id]
        for _ in range(MAX_MERGE_HOPS):
            # Through the merge log (indexed by survivor); merged_into confirms it still holds.
            merged_ids = select(account_merges.c.merged_id).where(account_merges.c.survivor_id.in_(frontier))
            rows = self.conn.execute(select(accounts).where(accounts.c.account_id.in_(merged_ids), accounts.c.merged_into.in_(frontier))).all()
            batch = [a for a in self._load(list(rows)) if a.account_id not in seen]
            if not batch:
                break
            seen.update(a.account_id for a in batch)
            found.extend(batch)
            frontier = [a.account_id for a in batch]
        return found

    def person(self, account: Account, merged: list[Account]) -> PersonIdentifiers:
        """Every identifier of the person behind `account` and the accounts merged into it: ids,
        converting leads, and blind indexes of national ids, phones and emails."""
        every = [account, *merged]
        ids = [a.account_id for a in every]
        indexes: dict[str, list[str]] = {NATIONAL_ID: [], PHONE: [], EMAIL: []}
        for a in every:
            indexes[NATIONAL_ID].append(self.pii.index(NATIONAL_ID, a.profile.national_id))
            indexes[PHONE].extend(self.pii.index(PHONE, phone) for phone in a.profile.phones)
            indexes[EMAIL].extend(self.pii.index(EMAIL, email) for email in a.profile.emails)
        # Keys the accounts claimed that no profile holds any more (a merge dropped a phone beyond
        # the cap): the table keeps no kind, so they go under each; the kind is hashed into every
        # index, so a key can only ever match its own kind.
        known = {key for keys in indexes.values() for key in keys}
        for key in self.conn.scalars(select(account_match_keys.c.key_bidx).where(account_match_keys.c.account_id.in_(ids))):
            if key not in known:
                for keys in indexes.values():
                    keys.append(key)
        leads = [lead for a in every for lead in (a.source_lead_id, a.acquisition.lead_id if a.acquisition else "")]
        return PersonIdentifiers(tuple(ids), tuple(leads), tuple(indexes[NATIONAL_ID]), tuple(indexes[PHONE]), tuple(indexes[EMAIL]))

    def absorb(self, merged_id: str, survivor_id: str) -> tuple[list[str], list[str]]:
        """Moves what hangs off the merged account (match keys, timeline) to the survivor;
        returns the keys and the timeline entries moved."""
        moved = []
        for table, key in ((account_match_keys, account_match_keys.c.key_bidx), (account_changes, account_changes.c.change_id)):
            moved.append(list(self.conn.scalars(update(table).where(table.c.account_id == merged_id).values(account_id=survivor_id).returning(key))))
        return moved[0], moved[1]

    def give_back(self, survivor_id: str, merged_id: str, match_keys: list[str], change_ids: list[str]) -> None:
        """Undoes `absorb`: the keys and timeline entries it moved that the survivor still has."""
        for table, key, ids in (
            (account_match_keys, account_match_keys.c.key_bidx, match_keys),
            (account_changes, account_changes.c.change_id, change_ids),
        ):
            for start in range(0, len(ids), 1000):
                part = ids[start : start + 1000]
                self.conn.execute(update(table).where(key.in_(part), table.c.account_id == survivor_id).values(account_id=merged_id))

    def count_changes(self, account_id: str) -> int:
        return int(self.conn.scalar(select(func.count()).select_from(account_changes).where(account_changes.c.account_id == account_id)) or 0)

    def snapshot(self, account_id: str) -> str:
        """The account's stored row and contact points as JSON, PII as stored (ciphertext bound to
        the account): what an unmerge restores (`from_snapshot`)."""
        row = self.conn.execute(select(accounts).where(accounts.c.account_id == account_id)).one()
        points = self.conn.execute(select(account_contact_points).where(account_contact_points.c.account_id == account_id)).all()
        return json.dumps(
            {"account": {k: _json_value(v) for k, v in row._mapping.items()}, "contact_points": [dict(p._mapping) for p in points]},
            sort_keys=True,
        )

    def from_snapshot(self, text: str) -> Account:
        """The account a `snapshot` recorded (decrypted with the keys in force: a key rotated
        since still decrypts while it is in PII_KEYS)."""
        data = json.loads(text)
        values = {}
        for name, value in data["account"].items():
            kind = accounts.c[name].type
            if value is not None and isinstance(kind, UtcDateTime):
                value = datetime.fromisoformat(value)
            elif value is not None and isinstance(kind, Date):
                value = date.fromisoformat(value)
            values[name] = value
        row = SimpleNamespace(**values)
        points: dict[tuple[str, str], list[str]] = defaultdict(list)
        for point in sorted(data["contact_points"], key=lambda p: (p["kind"], p["position"])):
            points[(point["account_id"], point["kind"])].append(self.pii.decrypt(_context(point["kind"], point["account_id"]), point["value_enc"]))
        return self._to_account(row, points)

    def get_many(self, account_ids: list[str], scope: DataScope) -> list[Account]:
        """The accounts with these ids that exist and `scope` reaches, in no particular order."""
        found: list[Account] = []
        for start in range(0, len(account_ids), 1000):
            part = account_ids[start : start + 1000]
            query = select(accounts).where(accounts.c.account_id.in_(part), in_scope(scope))
            found.extend(self._load(list(self.conn.execute(query).all())))
        return found

    def kyc_reviews_due(self, now: datetime, limit: int) -> list[Account]:
        """VERIFIED accounts whose review is due, locked; rows another replica holds are skipped."""
        query = (
            select(accounts)
            .where(accounts.c.kyc_status == str(KycStatus.VERIFIED), accounts.c.kyc_expires_at <= now)
            .order_by(accounts.c.kyc_expires_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        return self._load(list(self.conn.execute(query).all()))

    def find_by_national_id(self, national_id: str) -> Account | None:
        row = self.conn.execute(select(accounts).where(accounts.c.national_id_bidx == self.pii.index(NATIONAL_ID, national_id))).first()
        return self._load([row])[0] if row is not None else None

    def _holding(self, indexes: dict[str, str]) -> Any:
        """A condition: the account holds every one of `indexes` (kind → blind index)."""
        clauses = []
        for kind, bidx in indexes.items():
            if kind == NATIONAL_ID:
                clauses.append(accounts.c.national_id_bidx == bidx)
            else:
                clauses.append(
                    accounts.c.account_id.in_(select(account_contact_points.c.account_id).where(account_contact_points.c.value_bidx == bidx))
                )
        return clauses

    def sharing_keys(self, keys: ContactKeys) -> list[Account]:
        """Every account holding any of `keys` (its national id, or one of its phones or emails)."""
        clauses = self._holding(key_indexes(self.pii, keys))
        if not clauses:
            return []
        query = select(accounts).where(or_(*clauses), accounts.c.merged_into == "").order_by(accounts.c.created_at)
        return self._load(list(self.conn.execute(query).all()))

    def search(self, keys: ContactKeys, name: str, page: Page, scope: DataScope) -> tuple[list[Account], dict[str, Any] | None]:
        """Accounts `scope` reaches holding all of `keys` and with a name word starting with
        `name`, newest first."""
        clauses = self._holding(key_indexes(self.pii, keys))
        prefix = fold(name)
        if prefix:
            clauses.append(self._has_name_token(self.pii.search_token("name", prefix)))
        query = select(accounts).where(*clauses, accounts.c.merged_into == "", in_scope(scope))
        rows, after = newest_first(self.conn, query, accounts.c.created_at, accounts.c.account_id, page)
        found = self._load(rows)
        # A token stands for a prefix of at most 24 characters (and may collide): the decrypted
        # name decides. The page may then be short; its token still continues after it.
        return ([a for a in found if _matches_name(a.profile.full_name, prefix)] if prefix else found), after

    def _has_name_token(self, token: str) -> ColumnElement[bool]:
        if self.conn.dialect.name == "postgresql":
            # The expression of the GIN index ix_accounts_name_tokens, so the planner can use it.
            tokens = func.string_to_array(accounts.c.name_tokens, literal_column("' '"))
            return tokens.op("@>")(cast(postgresql.array([token]), postgresql.ARRAY(Text)))  # type: ignore[no-any-return]
        return (literal(" ") + accounts.c.name_tokens + literal(" ")).like(f"% {token} %")

    def changes(self, account_id: str, page: Page) -> tuple[list[AccountChange], dict[str, Any] | None]:
        query = select(account_changes).where(account_changes.c.account_id == account_id)
        rows, after = newest_first(self.conn, query, account_changes.c.changed_at, account_changes.c.change_id, page)
        return [
            AccountChange(
                change_id=r.change_id,
                account_id=r.account_id,
                kind=ChangeKind(r.kind),
                changed_at=r.changed_at,
                actor=r.actor,
                changed_fields=tuple(json.loads(r.changed_fields)),
                reason=r.reason,
            )
            for r in rows
        ], after

"""Relationships and households."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, and_, case, delete, insert, select, update

from crm_account.adapters.orm import ACCOUNTS_PII, accounts, household_members, households, relationships
from crm_account.domain.households import Household, HouseholdRole, Member, Relationship, RelationshipKind
from crm_common.errors import NotFound
from crm_common.pii import PiiCodec


def _relationship(row: Any) -> Relationship:
    return Relationship(row.account_id, row.related_id, RelationshipKind(row.kind), row.note, row.created_at, row.created_by)


def _one(relationship: Relationship) -> Any:
    r = relationships.c
    return and_(r.account_id == relationship.account_id, r.related_id == relationship.related_id, r.kind == str(relationship.kind))


class HouseholdRepository:
    def __init__(self, conn: Connection, pii: PiiCodec) -> None:
        self.conn = conn
        # Members' names are read from the accounts, where they are encrypted.
        self.pii = pii

    # --- relationships -------------------------------------------------------------------

    def relationships_of(self, account_id: str) -> list[Relationship]:
        query = select(relationships).where(relationships.c.account_id == account_id).order_by(relationships.c.kind, relationships.c.related_id)
        return [_relationship(r) for r in self.conn.execute(query)]

    def has(self, relationship: Relationship) -> bool:
        return self.conn.execute(select(relationships.c.kind).where(_one(relationship))).first() is not None

    def add_relationship(self, relationship: Relationship) -> None:
        """Both directions; IntegrityError when it exists."""
        for side in (relationship, relationship.inverse()):
            self.conn.execute(
                insert(relationships).values(
                    account_id=side.account_id,
                    related_id=side.related_id,
                    kind=str(side.kind),
                    note=side.note,
                    created_at=side.created_at,
                    created_by=side.created_by,
                )
            )

    def remove_relationship(self, relationship: Relationship) -> None:
        for side in (relationship, relationship.inverse()):
            self.conn.execute(delete(relationships).where(_one(side)))

    def move_relationships(self, merged_id: str, survivor_id: str) -> list[tuple[Relationship, bool]]:
        """The merged account's relationships become the survivor's (none with itself, no
        repeats); returns each of the merged account's relationships and whether the survivor
        got it as a new one."""
        moved: list[tuple[Relationship, bool]] = []
        for relationship in self.relationships_of(merged_id):
            self.remove_relationship(relationship)
            added = relationship.related_id != survivor_id and not self.has(replace(relationship, account_id=survivor_id))
            if added:
                self.add_relationship(replace(relationship, account_id=survivor_id))
            moved.append((relationship, added))
        return moved

    # --- households ----------------------------------------------------------------------

    def add_household(self, household: Household) -> None:
        self.conn.execute(insert(households).values(vars(household)))

    def get_household(self, household_id: str, for_update: bool = False) -> Household:
        query = select(households).where(households.c.household_id == household_id)
        row = self.conn.execute(query.with_for_update() if for_update else query).first()
        if row is None:
            raise NotFound("household", household_id)
        return Household(row.household_id, row.name, row.created_at, row.created_by, row.updated_at, row.updated_by)

    def touch(self, household_id: str, actor: str, now: datetime) -> None:
        self.conn.execute(update(households).where(households.c.household_id == household_id).values(updated_at=now, updated_by=actor))

    def remove_household(self, household_id: str) -> None:
        self.conn.execute(delete(households).where(households.c.household_id == household_id))

    def household_of(self, account_ids: Sequence[str]) -> dict[str, str]:
        """The household of each of these accounts that has one."""
        rows = self.conn.execute(
            select(household_members.c.account_id, household_members.c.household_id).where(household_members.c.account_id.in_(account_ids))
        )
        return {account_id: household_id for account_id, household_id in rows}

    def members(self, household_id: str) -> list[Member]:
        m = household_members.c
        head_first = case((m.role == str(HouseholdRole.HEAD), 0), else_=1)
        query = select(household_members).where(m.household_id == household_id).order_by(head_first, m.joined_at, m.account_id)
        return [Member(r.account_id, HouseholdRole(r.role)) for r in self.conn.execute(query)]

    def add_member(self, household_id: str, member: Member, now: datetime) -> None:
        """IntegrityError when the person already belongs to a household (a concurrent join)."""
        self.conn.execute(
            insert(household_members).values(account_id=member.account_id, household_id=household_id, role=str(member.role), joined_at=now)
        )

    def remove_member(self, account_id: str) -> None:
        self.conn.execute(delete(household_members).where(household_members.c.account_id == account_id))

    def names(self, account_ids: Sequence[str]) -> dict[str, str]:
        rows = self.conn.execute(select(accounts.c.account_id, accounts.c.full_name_enc).where(accounts.c.account_id.in_(account_ids)))
        return {a: self.pii.decrypt(ACCOUNTS_PII.context("full_name_enc", a), token) for a, token in rows}

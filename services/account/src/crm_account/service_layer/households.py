"""Relationships between accounts (recorded both ways) and households of person accounts."""

from __future__ import annotations

from datetime import datetime

from crm_account.domain.households import (
    MAX_HOUSEHOLD_MEMBERS,
    MAX_HOUSEHOLD_NAME,
    MAX_NOTE,
    Household,
    HouseholdRole,
    Member,
    Relationship,
    RelationshipKind,
    check_joinable,
    check_relationship,
)
from crm_account.domain.model import Account, AccountChange, ChangeKind
from crm_account.service_layer import commands
from crm_account.service_layer.common import Clock, UowFactory, account_id_violations, raise_if
from crm_account.service_layer.unit_of_work import AccountUnitOfWork
from crm_common.auth import current_data_scope, current_principal
from crm_common.db import new_id
from crm_common.errors import AlreadyExists, FailedPrecondition, FieldViolation, NotFound
from crm_common.unit_of_work import request_id_violations, run_idempotent

# A household and its members, each with their account.
HouseholdView = tuple[Household, list[tuple[Member, Account]]]


def _relationship_kind(cmd: commands.ChangeRelationship) -> RelationshipKind:
    kind = RelationshipKind.__members__.get(cmd.kind)
    violations = (
        request_id_violations(cmd.key.request_id) + account_id_violations(cmd.account_id) + account_id_violations(cmd.related_id, "related_id")
    )
    if kind is None:
        violations.append(FieldViolation("kind", "required" if not cmd.kind else "unknown value"))
    if len(cmd.note) > MAX_NOTE:
        violations.append(FieldViolation("note", f"at most {MAX_NOTE} characters"))
    raise_if(violations)
    assert kind is not None
    return kind


def _record_relationship(uow: AccountUnitOfWork, relationship: Relationship, kind: ChangeKind) -> None:
    """A timeline entry on both accounts, each naming the relationship from its side."""
    for side in (relationship, relationship.inverse()):
        fields = (f"relationship.{side.kind}",)
        uow.accounts.add_change(
            AccountChange(new_id(), side.account_id, kind, relationship.created_at, relationship.created_by, fields, side.related_id)
        )


def _household_view(uow: AccountUnitOfWork, household_id: str) -> HouseholdView:
    """The household, if the caller reaches its head's account (NOT_FOUND otherwise), with the
    members the caller reaches."""
    household = uow.households.get_household(household_id)
    members = uow.households.members(household_id)
    loaded = {a.account_id: a for a in uow.accounts.get_many([m.account_id for m in members], current_data_scope())}
    if not any(m.role is HouseholdRole.HEAD and m.account_id in loaded for m in members):
        raise NotFound("household", household_id)
    return household, [(m, loaded[m.account_id]) for m in members if m.account_id in loaded]


def _join(uow: AccountUnitOfWork, household_id: str, account_id: str, role: HouseholdRole, actor: str, now: datetime) -> None:
    account = uow.accounts.get(account_id, current_data_scope(), for_update=True)
    check_joinable(account, account.household_id)
    uow.households.add_member(household_id, Member(account.account_id, role), now)
    uow.accounts.add_change(AccountChange(new_id(), account.account_id, ChangeKind.HOUSEHOLD_JOINED, now, actor, ("household",), household_id))


class HouseholdsUseCases:
    def __init__(self, uow: UowFactory, clock: Clock) -> None:
        self.uow = uow
        self.clock = clock

    def add_relationship(self, cmd: commands.ChangeRelationship) -> Relationship:
        """Records the relationship both ways; ALREADY_EXISTS when it is known, FAILED_PRECONDITION
        when it cannot hold (itself, the wrong account types, a second spouse)."""
        kind = _relationship_kind(cmd)

        def first(uow: AccountUnitOfWork) -> tuple[Relationship, str]:
            account = uow.accounts.get(cmd.account_id, current_data_scope(), for_update=True)
            related = uow.accounts.get(cmd.related_id, current_data_scope(), for_update=True)
            check_relationship(kind, account, related)
            actor, now = current_principal().subject, self.clock()
            relationship = Relationship(account.account_id, related.account_id, kind, cmd.note.strip(), now, actor)
            if uow.households.has(relationship):
                raise AlreadyExists("relationship", f"{account.account_id}/{kind}/{related.account_id}", "the relationship is already recorded")
            if kind is RelationshipKind.SPOUSE:
                for side in (account, related):
                    if any(r.kind is RelationshipKind.SPOUSE for r in uow.households.relationships_of(side.account_id)):
                        raise FailedPrecondition(f"account {side.account_id} already has a spouse")
            uow.households.add_relationship(relationship)
            _record_relationship(uow, relationship, ChangeKind.RELATIONSHIP_ADDED)
            return relationship, f"{relationship.account_id}/{kind}/{relationship.related_id}"

        def repeat(uow: AccountUnitOfWork, ref: str) -> Relationship:
            account_id, kind_name, related_id = ref.split("/")
            found = [r for r in uow.households.relationships_of(account_id) if r.related_id == related_id and r.kind == kind_name]
            if not found:
                raise NotFound("relationship", ref)
            return found[0]

        return run_idempotent(self.uow, "AddRelationship", cmd.key, first, repeat)

    def remove_relationship(self, cmd: commands.ChangeRelationship) -> None:
        kind = _relationship_kind(cmd)

        def first(uow: AccountUnitOfWork) -> tuple[None, str]:
            account_id, related_id = (
                uow.accounts.resolve_id(cmd.account_id, current_data_scope()),
                uow.accounts.resolve_id(cmd.related_id, current_data_scope()),
            )
            actor, now = current_principal().subject, self.clock()
            relationship = Relationship(account_id, related_id, kind, "", now, actor)
            if not uow.households.has(relationship):
                raise NotFound("relationship", f"{account_id}/{kind}/{related_id}")
            uow.households.remove_relationship(relationship)
            for side in (relationship, relationship.inverse()):
                change = (f"relationship.{side.kind}",)
                uow.accounts.add_change(
                    AccountChange(new_id(), side.account_id, ChangeKind.RELATIONSHIP_REMOVED, now, actor, change, side.related_id)
                )
            return None, "removed"

        run_idempotent(self.uow, "RemoveRelationship", cmd.key, first, lambda uow, _ref: None)

    def list_relationships(self, account_id: str) -> list[Relationship]:
        raise_if(account_id_violations(account_id))
        with self.uow() as uow:
            return uow.households.relationships_of(uow.accounts.resolve_id(account_id, current_data_scope()))

    def create_household(self, cmd: commands.CreateHousehold) -> HouseholdView:
        """A household of person accounts that belong to no other, headed by one of them."""
        others = tuple(dict.fromkeys(m for m in cmd.member_account_ids if m != cmd.head_account_id))
        violations = request_id_violations(cmd.key.request_id) + account_id_violations(cmd.head_account_id, "head_account_id")
        for i, member_id in enumerate(others):
            violations += account_id_violations(member_id, f"member_account_ids[{i}]")
        name = cmd.name.strip()
        if not name:
            violations.append(FieldViolation("name", "required"))
        elif len(name) > MAX_HOUSEHOLD_NAME:
            violations.append(FieldViolation("name", f"at most {MAX_HOUSEHOLD_NAME} characters"))
        if len(others) + 1 > MAX_HOUSEHOLD_MEMBERS:
            violations.append(FieldViolation("member_account_ids", f"at most {MAX_HOUSEHOLD_MEMBERS} members"))
        raise_if(violations)

        def first(uow: AccountUnitOfWork) -> tuple[HouseholdView, str]:
            actor, now = current_principal().subject, self.clock()
            household = Household(new_id(), name, now, actor, now, actor)
            uow.households.add_household(household)
            _join(uow, household.household_id, cmd.head_account_id, HouseholdRole.HEAD, actor, now)
            for member_id in others:
                _join(uow, household.household_id, member_id, HouseholdRole.MEMBER, actor, now)
            return _household_view(uow, household.household_id), household.household_id

        return run_idempotent(self.uow, "CreateHousehold", cmd.key, first, _household_view)

    def add_household_member(self, cmd: commands.ChangeHouseholdMember) -> HouseholdView:
        raise_if(
            request_id_violations(cmd.key.request_id)
            + account_id_violations(cmd.household_id, "household_id")
            + account_id_violations(cmd.account_id)
        )

        def first(uow: AccountUnitOfWork) -> tuple[HouseholdView, str]:
            uow.households.get_household(cmd.household_id, for_update=True)
            _household_view(uow, cmd.household_id)  # NOT_FOUND unless the caller reaches it
            if len(uow.households.members(cmd.household_id)) >= MAX_HOUSEHOLD_MEMBERS:
                raise FailedPrecondition(f"a household has at most {MAX_HOUSEHOLD_MEMBERS} members")
            actor, now = current_principal().subject, self.clock()
            _join(uow, cmd.household_id, cmd.account_id, HouseholdRole.MEMBER, actor, now)
            uow.households.touch(cmd.household_id, actor, now)
            return _household_view(uow, cmd.household_id), cmd.household_id

        return run_idempotent(self.uow, "AddHouseholdMember", cmd.key, first, _household_view)

    def remove_household_member(self, cmd: commands.ChangeHouseholdMember) -> HouseholdView | None:
        """Removes a member; the head only when last (the household then ends: None)."""
        raise_if(
            request_id_violations(cmd.key.request_id)
            + account_id_violations(cmd.household_id, "household_id")
            + account_id_violations(cmd.account_id)
        )

        def first(uow: AccountUnitOfWork) -> tuple[HouseholdView | None, str]:
            uow.households.get_household(cmd.household_id, for_update=True)
            _household_view(uow, cmd.household_id)  # NOT_FOUND unless the caller reaches it
            account_id = uow.accounts.resolve_id(cmd.account_id, current_data_scope())
            members = {m.account_id: m for m in uow.households.members(cmd.household_id)}
            if account_id not in members:
                raise NotFound("household_member", f"{cmd.household_id}/{account_id}")
            if members[account_id].role is HouseholdRole.HEAD and len(members) > 1:
                raise FailedPrecondition("the head leaves last: remove the other members first, or create the household anew")
            actor, now = current_principal().subject, self.clock()
            uow.households.remove_member(account_id)
            uow.accounts.add_change(AccountChange(new_id(), account_id, ChangeKind.HOUSEHOLD_LEFT, now, actor, ("household",), cmd.household_id))
            if len(members) == 1:
                uow.households.remove_household(cmd.household_id)
                return None, ""
            uow.households.touch(cmd.household_id, actor, now)
            return _household_view(uow, cmd.household_id), cmd.household_id

        def repeat(uow: AccountUnitOfWork, ref: str) -> HouseholdView | None:
            return _household_view(uow, ref) if ref else None

        return run_idempotent(self.uow, "RemoveHouseholdMember", cmd.key, first, repeat)

    def get_household(self, household_id: str) -> HouseholdView:
        raise_if(account_id_violations(household_id, "household_id"))
        with self.uow() as uow:
            return _household_view(uow, household_id)

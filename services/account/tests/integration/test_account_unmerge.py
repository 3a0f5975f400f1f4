"""A merge planned without writing (dry run) and undone within its window (UnmergeAccounts),
through the real gRPC API over SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import grpc
import pytest
from google.protobuf import field_mask_pb2
from sqlalchemy import select, update
from test_account_duplicates import CALL_CENTRE, CORE_BANKING, RM, STEWARD, create, merge, person, rpc_error

from crm.account.v1 import account_pb2, account_service_pb2, events_pb2
from crm.account.v1.account_service_pb2_grpc import AccountServiceStub
from crm.common.v1 import common_pb2
from crm_account.adapters.orm import account_merges, metadata
from crm_common.db import new_id, utcnow
from crm_common.testing import LiveService

R = account_service_pb2


@pytest.fixture
def pair(api: LiveService, stub: AccountServiceStub) -> tuple[account_pb2.Account, account_pb2.Account]:
    """One customer keyed twice (a branch record with her CCCD, an app record without), the app
    record with a deposit, a marketing consent and a spouse."""
    branch = create(stub, person(national_id="001188012345", phones=["0912345678"], emails=["ha.le@example.vn"]))
    app = create(stub, person(full_name="Le Thi Thu Ha", phones=["0912 345 678", "0987000111"], emails=["thuha88@example.vn"]))
    spouse = create(stub, person(full_name="Trần Văn Nam", gender=account_pb2.GENDER_MALE, phones=["0903000444"]))
    holding(stub, app.account_id, "TD-9")
    stub.RecordConsent(
        R.RecordConsentRequest(
            request_id=new_id(),
            account_id=app.account_id,
            purpose=account_pb2.CONSENT_PURPOSE_MARKETING,
            channel=account_pb2.CONTACT_CHANNEL_ZALO,
            status=account_pb2.CONSENT_STATUS_GRANTED,
            source="mobile_app",
            evidence_ref="app-evt-1",
        ),
        metadata=CALL_CENTRE,
    )
    relation = R.AddRelationshipRequest(
        request_id=new_id(), account_id=app.account_id, related_id=spouse.account_id, kind=account_pb2.RELATIONSHIP_KIND_SPOUSE
    )
    stub.AddRelationship(relation, metadata=RM)
    return branch, app


def holding(stub: AccountServiceStub, account_id: str, core_ref: str) -> None:
    row = R.HoldingRecord(
        account_id=account_id,
        core_ref=core_ref,
        product_type=common_pb2.PRODUCT_TYPE_TERM_DEPOSIT,
        status=account_pb2.HOLDING_STATUS_OPEN,
        balance=common_pb2.Money(amount_minor=2_000_000_000),
    )
    stub.ImportHoldings(R.ImportHoldingsRequest(request_id=new_id(), rows=[row]), metadata=CORE_BANKING)


def unmerge(stub: AccountServiceStub, merged_id: str, request_id: str = "", metadata: list[tuple[str, str]] = STEWARD) -> R.UnmergeAccountsResponse:
    request = R.UnmergeAccountsRequest(request_id=request_id or new_id(), merged_id=merged_id, reason="two customers after all")
    reply: R.UnmergeAccountsResponse = stub.UnmergeAccounts(request, metadata=metadata)
    return reply


def get(stub: AccountServiceStub, account_id: str) -> account_pb2.Account:
    return stub.GetAccount(R.GetAccountRequest(account_id=account_id), metadata=STEWARD).account


def table_counts(api: LiveService) -> dict[str, int]:
    return {name: api.count(name) for name in metadata.tables}


def allowed(stub: AccountServiceStub, account_id: str) -> bool:
    check = R.CheckConsentRequest(account_id=account_id, purpose=account_pb2.CONSENT_PURPOSE_MARKETING, channel=account_pb2.CONTACT_CHANNEL_ZALO)
    return stub.CheckConsent(check, metadata=CORE_BANKING).allowed


class TestDryRun:
    def test_the_plan_names_each_fields_winner_and_what_moves_and_nothing_is_written(
        self, api: LiveService, stub: AccountServiceStub, pair: tuple[account_pb2.Account, account_pb2.Account]
    ) -> None:
        branch, app = pair
        before, outbox_before = table_counts(api), api.outbox_types()
        dry = R.MergeAccountsRequest(survivor_id=branch.account_id, merged_id=app.account_id, dry_run=True)
        reply: R.MergeAccountsResponse = stub.MergeAccounts(dry, metadata=STEWARD)

        fields = {d.field: d for d in reply.plan.fields}
        assert fields["national_id"].winner_id == branch.account_id and "CCCD" in fields["national_id"].rule
        assert fields["phones"].winner_id == f"{branch.account_id}+{app.account_id}" and "union" in fields["phones"].rule
        assert fields["emails"].winner_id == f"{branch.account_id}+{app.account_id}"
        assert fields["full_name"].winner_id == branch.account_id and "diacritics" in fields["full_name"].rule
        assert all(d.rule for d in reply.plan.fields)
        moves = {(m.service, m.records): m for m in reply.plan.moves}
        assert moves[("account", "holdings")].count == 1
        assert moves[("account", "relationships")].count == 1
        assert moves[("account", "consent decisions")].count == 1
        relinking = {m.service for m in reply.plan.moves if m.relinked_on_event}
        assert relinking == {"lead", "opportunity"}  # the registry's consumers of AccountsMerged
        # The survivor as it would be; the merged account is untouched.
        assert list(reply.account.emails) == ["ha.le@example.vn", "thuha88@example.vn"]
        assert reply.field_sources["phones"] == fields["phones"].winner_id

        assert table_counts(api) == before and api.outbox_types() == outbox_before
        assert get(stub, app.account_id).account_id == app.account_id
        assert get(stub, branch.account_id).version == branch.version

    def test_refusals_are_those_of_the_merge(self, stub: AccountServiceStub, pair: tuple[account_pb2.Account, account_pb2.Account]) -> None:
        branch, app = pair
        dry = R.MergeAccountsRequest(survivor_id=branch.account_id, merged_id=branch.account_id, dry_run=True)
        assert rpc_error(stub.MergeAccounts, dry, metadata=STEWARD).code() == grpc.StatusCode.FAILED_PRECONDITION
        dry = R.MergeAccountsRequest(survivor_id=branch.account_id, merged_id=app.account_id, dry_run=True)
        assert rpc_error(stub.MergeAccounts, dry, metadata=RM).code() == grpc.StatusCode.PERMISSION_DENIED


class TestUnmerge:
    def test_everything_that_moved_moves_back_and_the_ids_resolve_to_themselves(
        self, api: LiveService, stub: AccountServiceStub, pair: tuple[account_pb2.Account, account_pb2.Account]
    ) -> None:
        branch, app = pair
        merge(stub, branch.account_id, app.account_id)
        assert get(stub, app.account_id).account_id == branch.account_id
        with api.engine.connect() as conn:
            snapshots = " ".join(conn.execute(select(account_merges.c.survivor_snapshot, account_merges.c.merged_snapshot)).one())
        # PII stays encrypted in the snapshots, as in the accounts table.
        assert "thuha88@example.vn" not in snapshots and "001188012345" not in snapshots and "+84987000111" not in snapshots
        holding(stub, branch.account_id, "CC-1")  # the survivor's own, after the merge: it stays

        request_id = new_id()
        reply = unmerge(stub, app.account_id, request_id)
        restored, survivor = reply.account, reply.survivor
        assert (restored.account_id, restored.full_name, restored.national_id, restored.merged_into) == (app.account_id, "Le Thi Thu Ha", "", "")
        assert [p.e164 for p in restored.phones] == ["+84912345678", "+84987000111"] and list(restored.emails) == ["thuha88@example.vn"]
        assert (survivor.full_name, survivor.national_id) == ("Lê Thị Thu Hà", "001188012345")
        assert [p.e164 for p in survivor.phones] == ["+84912345678"] and list(survivor.emails) == ["ha.le@example.vn"]
        assert get(stub, app.account_id).account_id == app.account_id
        assert get(stub, branch.account_id).account_id == branch.account_id

        def core_refs(account_id: str) -> list[str]:
            return [h.core_ref for h in stub.ListHoldings(R.ListHoldingsRequest(account_id=account_id), metadata=RM).holdings]

        assert (core_refs(app.account_id), core_refs(branch.account_id)) == (["TD-9"], ["CC-1"])
        assert get(stub, app.account_id).totals.aum.amount_minor == 2_000_000_000
        relations = stub.ListRelationships(R.ListRelationshipsRequest(account_id=app.account_id), metadata=RM).relationships
        assert [r.kind for r in relations] == [account_pb2.RELATIONSHIP_KIND_SPOUSE]
        assert list(stub.ListRelationships(R.ListRelationshipsRequest(account_id=branch.account_id), metadata=RM).relationships) == []
        assert allowed(stub, app.account_id) and not allowed(stub, branch.account_id)
        found = stub.SearchAccounts(R.SearchAccountsRequest(email="thuha88@example.vn"), metadata=RM).accounts
        assert [a.account_id for a in found] == [app.account_id]
        kinds = [c.kind for c in stub.ListAccountChanges(R.ListAccountChangesRequest(account_id=app.account_id), metadata=RM).changes]
        assert kinds[0] == "UNMERGED" and "CONSENT_CHANGED" in kinds and "CREATED" in kinds  # its own timeline came back

        [merged_event] = api.events(events_pb2.AccountsMerged)
        [event] = api.events(events_pb2.AccountsUnmerged)
        assert (event.merge_id, event.survivor_id, event.merged_id) == (merged_event.merge_id, branch.account_id, app.account_id)
        assert merged_event.merge_id and event.restored.emails == ["t***@example.vn"]

        again = unmerge(stub, app.account_id, request_id)
        assert again.account.account_id == app.account_id and len(api.events(events_pb2.AccountsUnmerged)) == 1
        error = rpc_error(unmerge, stub, app.account_id)
        assert error.code() == grpc.StatusCode.FAILED_PRECONDITION and "not merged" in (error.details() or "")
        # Two customers again: they can be merged again (and undone again).
        merge(stub, branch.account_id, app.account_id)
        assert unmerge(stub, app.account_id).account.account_id == app.account_id

    def test_a_value_changed_since_the_merge_stays(self, stub: AccountServiceStub, pair: tuple[account_pb2.Account, account_pb2.Account]) -> None:
        branch, app = pair
        merge(stub, branch.account_id, app.account_id)
        update_ = R.UpdateAccountRequest(
            request_id=new_id(),
            account_id=branch.account_id,
            account=account_pb2.AccountInput(emails=["ha.le@example.vn", "thuha88@example.vn", "ha.new@example.vn"]),
            update_mask=field_mask_pb2.FieldMask(paths=["emails"]),
        )
        stub.UpdateAccount(update_, metadata=RM)
        survivor = unmerge(stub, app.account_id).survivor
        # The merged account's email goes back with it; the one added since stays.
        assert list(survivor.emails) == ["ha.le@example.vn", "ha.new@example.vn"]

    def test_refusals(self, api: LiveService, stub: AccountServiceStub, pair: tuple[account_pb2.Account, account_pb2.Account]) -> None:
        branch, app = pair
        error = rpc_error(unmerge, stub, app.account_id)
        assert error.code() == grpc.StatusCode.FAILED_PRECONDITION and "not merged" in (error.details() or "")
        assert rpc_error(unmerge, stub, new_id()).code() == grpc.StatusCode.NOT_FOUND
        merge(stub, branch.account_id, app.account_id)
        assert rpc_error(unmerge, stub, app.account_id, metadata=RM).code() == grpc.StatusCode.PERMISSION_DENIED

        with api.engine.begin() as conn:
            conn.execute(update(account_merges).values(merged_at=utcnow() - timedelta(days=31)))
        error = rpc_error(unmerge, stub, app.account_id)
        assert error.code() == grpc.StatusCode.FAILED_PRECONDITION and "30-day unmerge window" in (error.details() or "")
        assert get(stub, app.account_id).account_id == branch.account_id  # still merged

        with api.engine.begin() as conn:
            conn.execute(update(account_merges).values(merged_at=utcnow()))
        third = create(stub, person(full_name="Lê Thị Thu Hà", phones=["0912345678"], emails=["ha.third@example.vn"]))
        merge(stub, third.account_id, branch.account_id)
        error = rpc_error(unmerge, stub, app.account_id)
        assert error.code() == grpc.StatusCode.FAILED_PRECONDITION and f"merged into {third.account_id}" in (error.details() or "")
        assert rpc_error(stub.UnmergeAccounts, R.UnmergeAccountsRequest(request_id=new_id(), merged_id=app.account_id), metadata=STEWARD).code() == (
            grpc.StatusCode.INVALID_ARGUMENT
        )

"""The customer profile through the real gRPC API over SQLite and PostgreSQL: create, update,
value-tier overrides, the account's timeline, name search, and PII encrypted at rest."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import grpc
import pytest
from google.protobuf.field_mask_pb2 import FieldMask
from sqlalchemy import text

from crm.account.v1 import account_pb2, account_service_pb2, events_pb2
from crm.account.v1.account_service_pb2_grpc import AccountServiceStub
from crm.common.v1 import common_pb2
from crm_common.db import new_id
from crm_common.grpc.status import field_violations, resource_info
from crm_common.testing import LiveService, bearer

RM = bearer("rm-1", ["rm"])  # accounts.read/write and pii.read
TELESALES = bearer("ts-1", ["telesales", "marketing"])  # accounts.read only, no PII
MANAGER = bearer("sm-1", ["sales_manager", "marketing"])  # may override value tiers

# Female, born 2001, birth registered in Hồ Chí Minh City (079).
CCCD = "079301012345"
# Contact-centre agents and managers here serve any customer: their tokens add marketing's
# bank-wide reach (no pii.read); who reaches which customer is tested in test_account_data_scopes.py.


def person(**overrides: Any) -> account_pb2.AccountInput:
    fields: dict[str, Any] = {
        "type": account_pb2.ACCOUNT_TYPE_PERSON,
        "full_name": "Trần Thị Bích Ngọc",
        "gender": account_pb2.GENDER_FEMALE,
        "date_of_birth": common_pb2.Date(year=2001, month=5, day=17),
        "national_id": CCCD,
        "phones": ["0912 345 678", "028 3823 4567"],
        "emails": ["Ngoc.Tran@Example.vn"],
        "address": account_pb2.Address(line="12 Lê Lợi, Phường Bến Nghé", province_code="79"),
        "occupation": "Kế toán",
        "income_band": account_pb2.INCOME_BAND_20M_TO_50M,
        "preferred_channel": account_pb2.CONTACT_CHANNEL_ZALO,
        "best_contact_times": [
            account_pb2.ContactTimeWindow(days=[account_pb2.DAY_OF_WEEK_SATURDAY, account_pb2.DAY_OF_WEEK_SUNDAY], start_minute=540, end_minute=720)
        ],
        "owner_id": "rm-1",
        "branch_id": "HCM-001",
    }
    fields.update(overrides)
    return account_pb2.AccountInput(**fields)


def create(stub: AccountServiceStub, account: account_pb2.AccountInput | None = None, request_id: str | None = None) -> account_pb2.Account:
    request = account_service_pb2.CreateAccountRequest(request_id=request_id or new_id(), account=account or person())
    reply: account_service_pb2.CreateAccountResponse = stub.CreateAccount(request, metadata=RM, timeout=10)
    return reply.account


def update(
    stub: AccountServiceStub, account_id: str, paths: list[str], metadata: list[tuple[str, str]] = RM, expected_version: int = 0, **fields: Any
) -> account_pb2.Account:
    request = account_service_pb2.UpdateAccountRequest(
        request_id=new_id(),
        account_id=account_id,
        account=account_pb2.AccountInput(**fields),
        update_mask=FieldMask(paths=paths),
        expected_version=expected_version,
    )
    reply: account_service_pb2.UpdateAccountResponse = stub.UpdateAccount(request, metadata=metadata, timeout=10)
    return reply.account


def get(stub: AccountServiceStub, account_id: str, metadata: list[tuple[str, str]] = RM) -> account_pb2.Account:
    reply: account_service_pb2.GetAccountResponse = stub.GetAccount(account_service_pb2.GetAccountRequest(account_id=account_id), metadata=metadata)
    return reply.account


def changes(stub: AccountServiceStub, account_id: str) -> list[account_pb2.AccountChange]:
    reply = stub.ListAccountChanges(account_service_pb2.ListAccountChangesRequest(account_id=account_id), metadata=RM)
    return list(reply.changes)


def rpc_error(call: Callable[..., object], *args: Any, **kwargs: Any) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as caught:
        call(*args, **kwargs)
    return caught.value


class TestCreate:
    def test_person_with_the_full_profile(self, api: LiveService, stub: AccountServiceStub) -> None:
        account = create(stub)
        assert (account.type, account.lifecycle_stage) == (account_pb2.ACCOUNT_TYPE_PERSON, account_pb2.LIFECYCLE_STAGE_PROSPECT)
        assert (account.full_name, account.gender, account.national_id, account.national_id_legacy) == (
            "Trần Thị Bích Ngọc",
            account_pb2.GENDER_FEMALE,
            CCCD,
            False,
        )
        assert (account.date_of_birth.year, account.date_of_birth.month, account.date_of_birth.day) == (2001, 5, 17)
        assert [p.e164 for p in account.phones] == ["+84912345678", "+842838234567"] and account.phone.e164 == "+84912345678"
        assert list(account.emails) == ["ngoc.tran@example.vn"] and account.email == "ngoc.tran@example.vn"
        assert (account.address.province_code, account.address.province_name) == ("79", "Hồ Chí Minh")
        assert (account.income_band, account.preferred_channel, account.preferred_language) == (
            account_pb2.INCOME_BAND_20M_TO_50M,
            account_pb2.CONTACT_CHANNEL_ZALO,
            "vi",
        )
        [window] = account.best_contact_times
        assert (list(window.days), window.start_minute, window.end_minute) == ([6, 7], 540, 720)
        assert (account.value_tier, account.derived_value_tier, account.value_tier_overridden) == (
            account_pb2.VALUE_TIER_MASS,
            account_pb2.VALUE_TIER_MASS,
            False,
        )
        assert (account.version, account.branch_id, account.owner_id) == (1, "HCM-001", "rm-1")
        assert not account.HasField("customer_since")

        [event] = api.events(events_pb2.AccountCreated)
        assert event.account.account_id == account.account_id
        assert (event.account.national_id, [p.e164 for p in event.account.phones]) == ("********2345", ["+849*****678", "+842******567"])
        [created] = changes(stub, account.account_id)
        assert (created.kind, created.actor) == ("CREATED", "rm-1")

    def test_business_account(self, api: LiveService, stub: AccountServiceStub) -> None:
        business = account_pb2.AccountInput(
            type=account_pb2.ACCOUNT_TYPE_BUSINESS,
            full_name="Công ty TNHH Thương mại Sao Mai",
            phones=["02438234567"],
            business=account_pb2.BusinessProfile(tax_code="0101234567-001", industry="Bán lẻ"),
            address=account_pb2.Address(province_code="01"),
        )
        account = create(stub, business)
        assert (account.type, account.business.tax_code, account.business.industry) == (account_pb2.ACCOUNT_TYPE_BUSINESS, "0101234567-001", "Bán lẻ")
        assert account.address.province_name == "Hà Nội"

    def test_active_customer_gets_customer_since(self, api: LiveService, stub: AccountServiceStub) -> None:
        account = create(stub, person(lifecycle_stage=account_pb2.LIFECYCLE_STAGE_ACTIVE))
        assert account.customer_since.seconds > 0

    def test_repeat_returns_the_first_account(self, api: LiveService, stub: AccountServiceStub) -> None:
        first = create(stub, request_id="create-1")
        assert create(stub, request_id="create-1") == first
        assert api.count("accounts") == 1 and api.outbox_types() == ["AccountCreated"]

    def test_known_national_id_is_already_exists_with_the_holder(self, api: LiveService, stub: AccountServiceStub) -> None:
        holder = create(stub)
        error = rpc_error(create, stub, person(phones=["0987654321"], emails=[]))
        assert error.code() == grpc.StatusCode.ALREADY_EXISTS
        assert resource_info(error) == ("account", holder.account_id)
        assert api.count("accounts") == 1

    def test_a_shared_phone_is_allowed(self, api: LiveService, stub: AccountServiceStub) -> None:
        # Spouses share a landline: duplicate detection weighs it, the create does not refuse it.
        create(stub, person(national_id=""))
        create(stub, person(national_id="", full_name="Lê Văn Hùng", gender=account_pb2.GENDER_MALE, emails=[]))
        assert api.count("accounts") == 2

    @pytest.mark.parametrize(
        ("overrides", "fields"),
        [
            ({"address": account_pb2.Address(line="1 Nguyễn Huệ", province_code="99")}, ["account.address.province_code"]),
            ({"address": account_pb2.Address(line="1 Nguyễn Huệ")}, ["account.address.province_code"]),
            ({"address": account_pb2.Address(province_code="79", ward_code="123")}, ["account.address.ward_code"]),
            ({"national_id": "079301012"}, []),  # a 9-digit CMND is accepted (flagged legacy)
            ({"national_id": "003301012345"}, ["account.national_id"]),  # 03 is no province code
            ({"national_id": "079201012345"}, ["account.national_id"]),  # a man's CCCD on a woman
            ({"date_of_birth": common_pb2.Date(year=1990, month=1, day=1)}, ["account.national_id"]),  # CCCD says 2001
            ({"date_of_birth": common_pb2.Date(year=2001, month=2, day=30)}, ["account.date_of_birth"]),
            ({"phones": ["0912345678", "12345"]}, ["account.phones[1]"]),
            ({"emails": ["ngoc@"]}, ["account.emails[0]"]),
            ({"preferred_language": "fr"}, ["account.preferred_language"]),
            ({"best_contact_times": [account_pb2.ContactTimeWindow(days=[1], start_minute=600, end_minute=600)]}, ["account.best_contact_times[0]"]),
            ({"income_band": 42}, ["account.income_band"]),
            ({"business": account_pb2.BusinessProfile(tax_code="0101234567")}, ["account.business"]),
            ({"full_name": " "}, ["account.full_name"]),
        ],
    )
    def test_bad_input_names_its_field(self, api: LiveService, stub: AccountServiceStub, overrides: dict[str, Any], fields: list[str]) -> None:
        if not fields:
            assert create(stub, person(**overrides)).national_id_legacy
            return
        error = rpc_error(create, stub, person(**overrides))
        assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert [f for f, _ in field_violations(error)] == fields
        assert api.count("accounts") == 0 and api.outbox_types() == []

    def test_business_needs_a_tax_code_and_no_personal_identity(self, api: LiveService, stub: AccountServiceStub) -> None:
        error = rpc_error(create, stub, person(type=account_pb2.ACCOUNT_TYPE_BUSINESS))
        assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert sorted(f for f, _ in field_violations(error)) == [
            "account.business.tax_code",
            "account.date_of_birth",
            "account.gender",
            "account.national_id",
        ]

    def test_needs_accounts_write(self, api: LiveService, stub: AccountServiceStub) -> None:
        request = account_service_pb2.CreateAccountRequest(request_id=new_id(), account=person())
        error = rpc_error(stub.CreateAccount, request, metadata=TELESALES)
        assert error.code() == grpc.StatusCode.PERMISSION_DENIED


class TestPiiAtRest:
    def test_national_id_phones_and_emails_are_not_stored_in_the_clear(self, api: LiveService, stub: AccountServiceStub) -> None:
        account = create(stub)
        with api.engine.connect() as conn:
            stored = " ".join(
                str(value)
                for table in ("accounts", "account_contact_points", "account_match_keys", "account_changes", "outbox")
                for row in conn.execute(text(f"SELECT * FROM {table}"))
                for value in row
            )
        for plaintext in (CCCD, "912345678", "84912345678", "ngoc.tran", "2838234567"):
            assert plaintext not in stored
        assert get(stub, account.account_id).national_id == CCCD  # yet it reads back

    def test_masked_without_pii_read(self, api: LiveService, stub: AccountServiceStub) -> None:
        account = get(stub, create(stub).account_id, metadata=TELESALES)
        assert (account.national_id, [p.e164 for p in account.phones], list(account.emails)) == (
            "********2345",
            ["+849*****678", "+842******567"],
            ["n***@example.vn"],
        )


class TestSearch:
    def search(self, stub: AccountServiceStub, **fields: Any) -> list[str]:
        reply = stub.SearchAccounts(account_service_pb2.SearchAccountsRequest(**fields), metadata=RM)
        return [a.full_name for a in reply.accounts]

    def test_name_ignores_diacritics_and_case_and_matches_any_word_prefix(self, api: LiveService, stub: AccountServiceStub) -> None:
        create(stub, person(national_id="", phones=["0912000001"], emails=[], full_name="Nguyễn Văn Đức"))
        create(stub, person(national_id="", phones=["0912000002"], emails=[], full_name="Đặng Thị Ánh"))
        assert self.search(stub, name="duc") == ["Nguyễn Văn Đức"]
        assert self.search(stub, name="NGUYÊN") == ["Nguyễn Văn Đức"]
        assert self.search(stub, name="đ") == ["Đặng Thị Ánh", "Nguyễn Văn Đức"]
        assert self.search(stub, name="anh") == ["Đặng Thị Ánh"]
        assert self.search(stub, name="van d") == ["Nguyễn Văn Đức"]
        assert self.search(stub, name="%") == []

    def test_a_secondary_phone_finds_the_account(self, api: LiveService, stub: AccountServiceStub) -> None:
        create(stub)
        assert self.search(stub, phone="+84 28 3823 4567") == ["Trần Thị Bích Ngọc"]
        assert self.search(stub, phone="0283 823 4567", name="ngoc") == ["Trần Thị Bích Ngọc"]
        assert self.search(stub, phone="0283 823 4567", name="hung") == []


class TestUpdate:
    def test_changes_only_the_named_fields_and_records_them(self, api: LiveService, stub: AccountServiceStub) -> None:
        account = create(stub)
        updated = update(
            stub,
            account.account_id,
            ["phones", "address", "occupation"],
            phones=["0987654321"],
            address=account_pb2.Address(line="5 Tràng Tiền", province_code="01"),
            occupation="Kế toán",  # unchanged: not reported
            full_name="ignored, not in the mask",
        )
        assert [p.e164 for p in updated.phones] == ["+84987654321"] and updated.address.province_name == "Hà Nội"
        assert (updated.full_name, updated.version, updated.national_id) == ("Trần Thị Bích Ngọc", 2, CCCD)
        [event] = api.events(events_pb2.AccountUpdated)
        assert list(event.changed_fields) == ["address", "phones"]
        assert [(c.kind, list(c.changed_fields)) for c in changes(stub, account.account_id)] == [
            ("UPDATED", ["address", "phones"]),
            ("CREATED", []),
        ]

    def test_an_update_that_changes_nothing_records_nothing(self, api: LiveService, stub: AccountServiceStub) -> None:
        account = create(stub)
        assert update(stub, account.account_id, ["occupation"], occupation="Kế toán").version == 1
        assert api.outbox_types() == ["AccountCreated"]

    def test_stale_expected_version_is_aborted(self, api: LiveService, stub: AccountServiceStub) -> None:
        account = create(stub)
        update(stub, account.account_id, ["occupation"], expected_version=1, occupation="Giáo viên")
        error = rpc_error(update, stub, account.account_id, ["occupation"], expected_version=1, occupation="Bác sĩ")
        assert error.code() == grpc.StatusCode.ABORTED
        assert get(stub, account.account_id).occupation == "Giáo viên"

    def test_never_a_prospect_again(self, api: LiveService, stub: AccountServiceStub) -> None:
        account = create(stub)
        active = update(stub, account.account_id, ["lifecycle_stage"], lifecycle_stage=account_pb2.LIFECYCLE_STAGE_ACTIVE)
        assert active.customer_since.seconds > 0
        error = rpc_error(update, stub, account.account_id, ["lifecycle_stage"], lifecycle_stage=account_pb2.LIFECYCLE_STAGE_PROSPECT)
        assert error.code() == grpc.StatusCode.FAILED_PRECONDITION
        assert "PROSPECT" in (error.details() or "")

    def test_national_id_of_another_account_is_already_exists(self, api: LiveService, stub: AccountServiceStub) -> None:
        holder = create(stub)
        other = create(stub, person(national_id="", phones=["0977000111"], emails=[]))
        error = rpc_error(update, stub, other.account_id, ["national_id"], national_id=CCCD)
        assert error.code() == grpc.StatusCode.ALREADY_EXISTS and resource_info(error) == ("account", holder.account_id)

    @pytest.mark.parametrize(
        ("paths", "description"),
        [([], "required: name the fields to change"), (["type"], "an account's type cannot change"), (["colour"], "unknown field 'colour'")],
    )
    def test_bad_mask_is_invalid(self, api: LiveService, stub: AccountServiceStub, paths: list[str], description: str) -> None:
        account = create(stub)
        error = rpc_error(update, stub, account.account_id, paths)
        assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert field_violations(error) == [("update_mask", description)]

    def test_bad_value_is_invalid_and_changes_nothing(self, api: LiveService, stub: AccountServiceStub) -> None:
        account = create(stub)
        error = rpc_error(update, stub, account.account_id, ["address"], address=account_pb2.Address(province_code="00"))
        assert [f for f, _ in field_violations(error)] == ["account.address.province_code"]
        assert get(stub, account.account_id).version == 1

    def test_unknown_account_is_not_found(self, api: LiveService, stub: AccountServiceStub) -> None:
        missing = new_id()
        error = rpc_error(update, stub, missing, ["occupation"], occupation="x")
        assert error.code() == grpc.StatusCode.NOT_FOUND and resource_info(error) == ("account", missing)


class TestValueTier:
    def override(
        self, stub: AccountServiceStub, account_id: str, tier: int, reason: str, metadata: list[tuple[str, str]] = MANAGER
    ) -> account_pb2.Account:
        request = account_service_pb2.OverrideValueTierRequest(
            request_id=new_id(),
            account_id=account_id,
            value_tier=tier,  # type: ignore[arg-type]
            reason=reason,
        )
        reply: account_service_pb2.OverrideValueTierResponse = stub.OverrideValueTier(request, metadata=metadata)
        return reply.account

    def clear(self, stub: AccountServiceStub, account_id: str) -> account_pb2.Account:
        request = account_service_pb2.ClearValueTierOverrideRequest(request_id=new_id(), account_id=account_id, reason="review done")
        reply: account_service_pb2.ClearValueTierOverrideResponse = stub.ClearValueTierOverride(request, metadata=MANAGER)
        return reply.account

    def test_override_then_clear_is_audited(self, api: LiveService, stub: AccountServiceStub) -> None:
        account = create(stub)
        overridden = self.override(stub, account.account_id, account_pb2.VALUE_TIER_PRIVATE, "Chủ doanh nghiệp, tài sản ngoài ngân hàng lớn")
        assert (overridden.value_tier, overridden.derived_value_tier, overridden.value_tier_overridden) == (
            account_pb2.VALUE_TIER_PRIVATE,
            account_pb2.VALUE_TIER_MASS,
            True,
        )
        cleared = self.clear(stub, account.account_id)
        assert (cleared.value_tier, cleared.value_tier_overridden, cleared.value_tier_override_reason) == (account_pb2.VALUE_TIER_MASS, False, "")
        history = changes(stub, account.account_id)
        assert [(c.kind, c.actor, c.reason) for c in history] == [
            ("VALUE_TIER_OVERRIDE_CLEARED", "sm-1", "review done"),
            ("VALUE_TIER_OVERRIDDEN", "sm-1", "Chủ doanh nghiệp, tài sản ngoài ngân hàng lớn"),
            ("CREATED", "rm-1", ""),
        ]
        assert [list(e.changed_fields) for e in api.events(events_pb2.AccountUpdated)] == [["value_tier"], ["value_tier"]]

    def test_needs_a_tier_and_a_reason(self, api: LiveService, stub: AccountServiceStub) -> None:
        account = create(stub)
        error = rpc_error(self.override, stub, account.account_id, 0, "")
        assert [f for f, _ in field_violations(error)] == ["reason", "value_tier"]

    def test_clear_without_override_is_failed_precondition(self, api: LiveService, stub: AccountServiceStub) -> None:
        error = rpc_error(self.clear, stub, create(stub).account_id)
        assert error.code() == grpc.StatusCode.FAILED_PRECONDITION

    def test_an_rm_may_not_override(self, api: LiveService, stub: AccountServiceStub) -> None:
        error = rpc_error(self.override, stub, create(stub).account_id, account_pb2.VALUE_TIER_AFFLUENT, "x", metadata=RM)
        assert error.code() == grpc.StatusCode.PERMISSION_DENIED


class TestTimeline:
    def test_unknown_account_is_not_found(self, api: LiveService, stub: AccountServiceStub) -> None:
        error = rpc_error(changes, stub, new_id())
        assert error.code() == grpc.StatusCode.NOT_FOUND

    def test_pages_newest_first(self, api: LiveService, stub: AccountServiceStub) -> None:
        account = create(stub)
        for job in ("Giáo viên", "Bác sĩ", "Kỹ sư"):
            update(stub, account.account_id, ["occupation"], occupation=job)
        seen, token = [], ""
        while True:
            page = common_pb2.PageRequest(page_size=3, page_token=token)
            request = account_service_pb2.ListAccountChangesRequest(account_id=account.account_id, page=page)
            reply = stub.ListAccountChanges(request, metadata=RM)
            seen.extend(c.kind for c in reply.changes)
            token = reply.page.next_page_token
            if not token:
                break
        assert seen == ["UPDATED", "UPDATED", "UPDATED", "CREATED"]

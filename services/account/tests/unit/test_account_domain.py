"""The account's domain rules: cleaning a person, matching priority, first touch, masking."""

from __future__ import annotations

import unicodedata
from datetime import UTC, datetime

import pytest

from crm_account.adapters.proto_mapping import account_to_proto
from crm_account.domain.model import (
    Acquisition,
    ContactKeys,
    LifecycleStage,
    MatchField,
    PersonAccount,
    best_match,
    is_valid_id,
)
from crm_account.domain.person import NEEDS_A_KEY, PersonDraft, clean_person

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def account(account_id: str = "a", national_id: str = "", phone: str = "", email: str = "") -> PersonAccount:
    return PersonAccount(
        account_id=account_id,
        full_name="Nguyễn Văn An",
        national_id=national_id,
        phone_e164=phone,
        email=email,
        owner_id="rm-1",
        lifecycle_stage=LifecycleStage.PROSPECT,
        source_lead_id="",
        acquisition=None,
        created_at=NOW,
        created_by="tester",
        updated_at=NOW,
        updated_by="tester",
    )


def acquisition(lead_id: str) -> Acquisition:
    return Acquisition(lead_id, "WEB_FORM", "camp-1", "google", "cpc", "spring", NOW)


class TestCleanPerson:
    def test_normalises_every_field(self) -> None:
        decomposed = unicodedata.normalize("NFD", "  Nguyễn   Văn  Đức ")
        person, violations = clean_person(
            PersonDraft(
                full_name=decomposed,
                phone="0912 345 678",
                email=" An.Nguyen@Example.COM ",
                national_id="001.099.012.345",
                owner_id=" rm-1 ",
            )
        )
        assert violations == []
        assert person is not None
        assert person.full_name == unicodedata.normalize("NFC", "Nguyễn Văn Đức")
        assert person.keys == ContactKeys(national_id="001099012345", phone_e164="+84912345678", email="an.nguyen@example.com")
        assert person.owner_id == "rm-1"

    @pytest.mark.parametrize("phone", ["0912345678", "84912345678", "+84 912 345 678", "(+84) 912-345-678", "0084912345678"])
    def test_vietnamese_phone_forms_give_one_key(self, phone: str) -> None:
        person, _ = clean_person(PersonDraft(full_name="An", phone=phone))
        assert person is not None and person.keys.phone_e164 == "+84912345678"

    def test_legacy_cmnd_is_accepted(self) -> None:
        person, _ = clean_person(PersonDraft(full_name="An", national_id="123 456 789"))
        assert person is not None and person.keys.national_id == "123456789"

    def test_reports_every_violation_at_once(self) -> None:
        person, violations = clean_person(PersonDraft(full_name="  ", owner_id="x" * 101))
        assert person is None
        assert [(v.field, v.description) for v in violations] == [
            ("full_name", "required"),
            ("phone", NEEDS_A_KEY),
            ("email", NEEDS_A_KEY),
            ("national_id", NEEDS_A_KEY),
            ("owner_id", "at most 100 characters"),
        ]

    def test_each_bad_key_is_named(self) -> None:
        person, violations = clean_person(PersonDraft(full_name="An", phone="12ab", email="not-an-email", national_id="1234"))
        assert person is None
        assert [v.field for v in violations] == ["phone", "email", "national_id"]

    def test_a_bad_key_is_not_reported_as_missing(self) -> None:
        _, violations = clean_person(PersonDraft(full_name="An", phone="0000"))
        assert [v.field for v in violations] == ["phone"]

    def test_cccd_needs_a_province_code(self) -> None:
        _, violations = clean_person(PersonDraft(full_name="An", national_id="999099012345"))
        assert [v.field for v in violations] == ["national_id"]

    def test_name_length_is_capped(self) -> None:
        _, violations = clean_person(PersonDraft(full_name="A" * 201, phone="0912345678"))
        assert [(v.field, v.description) for v in violations] == [("full_name", "at most 200 characters")]


class TestMatching:
    def test_national_id_beats_phone_and_email(self) -> None:
        by_phone = account("p", phone="+84912345678")
        by_email = account("e", email="an@example.com")
        by_id = account("n", national_id="001099012345")
        keys = ContactKeys(national_id="001099012345", phone_e164="+84912345678", email="an@example.com")
        match = best_match(keys, [by_email, by_phone, by_id])
        assert match is not None and (match.account.account_id, match.field) == ("n", MatchField.NATIONAL_ID)

    def test_phone_beats_email(self) -> None:
        keys = ContactKeys(phone_e164="+84912345678", email="an@example.com")
        match = best_match(keys, [account("e", email="an@example.com"), account("p", phone="+84912345678")])
        assert match is not None and (match.account.account_id, match.field) == ("p", MatchField.PHONE)

    def test_email_alone_matches(self) -> None:
        match = best_match(ContactKeys(email="an@example.com"), [account("e", email="an@example.com")])
        assert match is not None and match.field == MatchField.EMAIL

    def test_no_shared_key_no_match(self) -> None:
        keys = ContactKeys(national_id="001099012345", phone_e164="+84912345678")
        assert best_match(keys, [account("x", national_id="001099099999", phone="+84987654321")]) is None

    def test_unknown_keys_never_match_empty_ones(self) -> None:
        assert best_match(ContactKeys(email="an@example.com"), [account("x")]) is None


class TestAcquisition:
    def test_first_touch_wins(self) -> None:
        person = account()
        assert person.record_acquisition(acquisition("lead-1"), "service:account", NOW) is True
        assert person.record_acquisition(acquisition("lead-2"), "service:account", NOW) is False
        assert person.acquisition is not None and person.acquisition.lead_id == "lead-1"
        assert person.updated_by == "service:account"


class TestMasking:
    def test_pii_is_masked_without_permission(self) -> None:
        message = account_to_proto(account(national_id="001099012345", phone="+84912345678", email="an@example.com"), show_pii=False)
        assert (message.national_id, message.phone.e164, message.email) == ("********2345", "+849*****678", "a***@example.com")

    def test_pii_is_shown_with_permission(self) -> None:
        message = account_to_proto(account(national_id="001099012345", phone="+84912345678", email="an@example.com"), show_pii=True)
        assert (message.national_id, message.phone.e164, message.email) == ("001099012345", "+84912345678", "an@example.com")

    def test_absent_keys_stay_empty(self) -> None:
        message = account_to_proto(account(email="an@example.com"), show_pii=False)
        assert (message.national_id, message.HasField("phone")) == ("", False)


def test_ids_are_canonical_uuids() -> None:
    assert is_valid_id("3f2b8c1e-5d4a-4b7e-9c2d-1a2b3c4d5e6f")
    assert not is_valid_id("3F2B8C1E-5D4A-4B7E-9C2D-1A2B3C4D5E6F")
    assert not is_valid_id("not-an-id")
    assert not is_valid_id("")

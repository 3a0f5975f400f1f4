"""The account's domain rules: cleaning a profile, the account's own changes, matching, masking.

Pure unit tests: no database, no service, no mocks. "Now" and "today" are fixed.
"""

from __future__ import annotations

import unicodedata
from dataclasses import fields, replace
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from typing import Any

import pytest

from crm.account.v1 import account_pb2
from crm.common.v1 import common_pb2
from crm_account.adapters.proto_mapping import account_to_proto, draft_from_proto
from crm_account.domain.model import (
    Account,
    AccountType,
    Acquisition,
    Address,
    BusinessProfile,
    ContactChannel,
    ContactKeys,
    ContactWindow,
    DayOfWeek,
    Gender,
    IncomeBand,
    LifecycleStage,
    MatchField,
    Profile,
    ValueTier,
    best_match,
    is_valid_id,
)
from crm_account.domain.profile import (
    NEEDS_A_KEY,
    UPDATABLE_FIELDS,
    AccountDraft,
    WindowDraft,
    clean_keys,
    clean_profile,
    draft_of,
)
from crm_common.errors import FailedPrecondition, FieldViolation
from crm_common.grpc.enums import enum_name, enum_number

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
TODAY = date(2026, 11, 23)
LATER = NOW + timedelta(days=30)
MUCH_LATER = NOW + timedelta(days=400)
ACCOUNT_ID = "3f2b8c1e-5d4a-4b7e-9c2d-1a2b3c4d5e6f"

# A CCCD registered in Hồ Chí Minh (079) for a woman (3: female, 2000s) born in 2001 (01).
CCCD_FEMALE_2001 = "079301012345"
# A CCCD registered in Hà Nội (001) for a man (0: male, 1900s) born in 1990 (90).
CCCD_MALE_1990 = "001090012345"
WINDOW_RULE = "needs 0 <= start_minute < end_minute <= 1440"

# The smallest valid person: a name and one key.
PERSON = AccountDraft(full_name="Nguyễn Văn An", phones=("0912345678",))

# Every field a person may have, written the way callers really send them.
FULL_PERSON = AccountDraft(
    type="PERSON",
    full_name=unicodedata.normalize("NFD", "  Nguyễn   Thị  Hồng "),
    gender="FEMALE",
    date_of_birth=(2001, 5, 17),
    national_id="079.301.012.345",
    phones=("0912 345 678", "+84 912345678", "84912345678", "0987 654 321"),
    emails=(" Hong.Nguyen@Example.COM ", "hong.nguyen@example.com", "hong@congty.vn"),
    address=Address(line=" 12  Lê Lợi, Bến Nghé ", ward_code="26734", district_code="760", province_code="79"),
    occupation=" Kỹ sư ",
    income_band="20M_TO_50M",
    preferred_channel="ZALO",
    best_contact_times=(WindowDraft(days=(5, 1, 1), start_minute=540, end_minute=720),),
    lifecycle_stage="ACTIVE",
    owner_id=" rm-1 ",
    branch_id="hcm-01",
)

FULL_PERSON_CLEAN = Profile(
    account_type=AccountType.PERSON,
    full_name=unicodedata.normalize("NFC", "Nguyễn Thị Hồng"),
    gender=Gender.FEMALE,
    date_of_birth=date(2001, 5, 17),
    national_id="079301012345",
    national_id_legacy=False,
    phones=("+84912345678", "+84987654321"),
    emails=("hong.nguyen@example.com", "hong@congty.vn"),
    address=Address(line="12 Lê Lợi, Bến Nghé", ward_code="26734", district_code="760", province_code="79"),
    occupation="Kỹ sư",
    income_band=IncomeBand.FROM_20M_TO_50M,
    preferred_language="vi",
    preferred_channel=ContactChannel.ZALO,
    best_contact_times=(ContactWindow(days=(DayOfWeek.MONDAY, DayOfWeek.FRIDAY), start_minute=540, end_minute=720),),
    lifecycle_stage=LifecycleStage.ACTIVE,
    owner_id="rm-1",
    branch_id="hcm-01",
    business=None,
)

BUSINESS = AccountDraft(
    type="BUSINESS",
    full_name="Công ty TNHH Thương mại An Phát",
    emails=("ketoan@anphat.vn",),
    business=BusinessProfile(tax_code=" 0312345678 ", industry=" Bán lẻ "),
)


def clean(draft: AccountDraft) -> Profile:
    profile, violations = clean_profile(draft, TODAY)
    assert violations == []
    assert profile is not None
    return profile


def problems(draft: AccountDraft) -> list[tuple[str, str]]:
    profile, violations = clean_profile(draft, TODAY)
    assert profile is None
    assert violations
    return [(v.field, v.description) for v in violations]


def problem_fields(draft: AccountDraft) -> list[str]:
    return [name for name, _ in problems(draft)]


def new_account(profile: Profile | None = None, account_id: str = ACCOUNT_ID) -> Account:
    return Account(
        account_id=account_id,
        profile=profile if profile is not None else clean(PERSON),
        source_lead_id="",
        acquisition=None,
        created_at=NOW,
        created_by="tester",
        updated_at=NOW,
        updated_by="tester",
    )


def holder(account_id: str, national_id: str = "", phones: tuple[str, ...] = (), emails: tuple[str, ...] = ()) -> Account:
    return new_account(Profile(full_name="Nguyễn Văn An", national_id=national_id, phones=phones, emails=emails), account_id)


def acquisition(lead_id: str) -> Acquisition:
    return Acquisition(lead_id, "WEB_FORM", "camp-1", "google", "cpc", "tet-2027", NOW)


def ascii_to_arabic_indic(digits: str) -> str:
    """'123' → '١٢٣': digits Python's str.isdigit() and re's \\d accept, which no Vietnamese id uses."""
    return "".join(chr(0x0660 + int(d)) for d in digits)


class TestCleanProfile:
    def test_normalises_a_full_person_profile(self) -> None:
        assert clean(FULL_PERSON) == FULL_PERSON_CLEAN

    def test_name_ends_up_nfc_and_trimmed(self) -> None:
        profile = clean(FULL_PERSON)
        assert unicodedata.is_normalized("NFC", profile.full_name)
        assert profile.full_name == "Nguy\u1ec5n Th\u1ecb H\u1ed3ng"

    @pytest.mark.parametrize("phone", ["0912 345 678", "+84 912345678", "84912345678", "+84-912-345-678", "(+84) 912.345.678", "0084912345678"])
    def test_every_vietnamese_phone_form_gives_one_e164(self, phone: str) -> None:
        assert clean(replace(PERSON, phones=(phone,))).phones == ("+84912345678",)

    def test_phones_in_different_forms_are_deduplicated_keeping_the_first_as_primary(self) -> None:
        profile = clean(replace(PERSON, phones=("0987654321", "0912 345 678", "+84 912345678", "84912345678")))
        assert profile.phones == ("+84987654321", "+84912345678")
        assert profile.keys.phone_e164 == "+84987654321"

    def test_emails_are_lower_cased_and_deduplicated(self) -> None:
        profile = clean(replace(PERSON, emails=(" An.Nguyen@Example.COM", "an.nguyen@example.com ", "AN@CONGTY.VN")))
        assert profile.emails == ("an.nguyen@example.com", "an@congty.vn")

    def test_national_id_keeps_only_digits(self) -> None:
        profile = clean(replace(PERSON, national_id=" 001-090.012 345 "))
        assert (profile.national_id, profile.national_id_legacy) == (CCCD_MALE_1990, False)

    def test_defaults(self) -> None:
        profile = clean(PERSON)
        assert profile.account_type is AccountType.PERSON
        assert profile.preferred_language == "vi"
        assert profile.lifecycle_stage is LifecycleStage.PROSPECT
        assert (profile.gender, profile.date_of_birth, profile.income_band, profile.preferred_channel, profile.business) == (
            None,
            None,
            None,
            None,
            None,
        )
        assert profile.address == Address()

    @pytest.mark.parametrize(("given", "kept"), [("en", "en"), (" EN ", "en"), ("Vi", "vi"), ("", "vi")])
    def test_preferred_language(self, given: str, kept: str) -> None:
        assert clean(replace(PERSON, preferred_language=given)).preferred_language == kept

    def test_reports_every_violation_at_once_with_api_field_names(self) -> None:
        draft = AccountDraft(
            full_name="   ",
            phones=("0912345678", "12ab"),
            emails=("not-an-email",),
            date_of_birth=(2030, 1, 1),
            address=Address(line="12 Lê Lợi", district_code="76", ward_code="2673"),
            income_band="?",
            preferred_language="fr",
            best_contact_times=(WindowDraft(days=(1,), start_minute=540, end_minute=720), WindowDraft(days=(8,), start_minute=600, end_minute=600)),
            owner_id="x" * 101,
        )
        found = problems(draft)
        assert [name for name, _ in found] == [
            "full_name",
            "phones[1]",
            "emails[0]",
            "date_of_birth",
            "preferred_language",
            "address.province_code",
            "address.district_code",
            "address.ward_code",
            "income_band",
            "best_contact_times[1].days",
            "best_contact_times[1]",
            "owner_id",
        ]
        described = dict(found)
        assert described["full_name"] == "required"
        assert described["date_of_birth"] == "in the future"
        assert described["preferred_language"] == "one of vi, en"
        assert described["income_band"] == "unknown value"
        assert described["best_contact_times[1].days"] == "unknown day"
        assert described["owner_id"] == "at most 100 characters"
        assert all(description for _, description in found)

    @pytest.mark.parametrize(
        ("change", "expected"),
        [
            pytest.param({"address": Address(province_code="99")}, ("address.province_code", "unknown province code"), id="unknown-province"),
            pytest.param({"address": Address(province_code="7")}, ("address.province_code", "unknown province code"), id="one-digit-province"),
            pytest.param(
                {"address": Address(line="12 Lê Lợi")}, ("address.province_code", "required when an address is given"), id="line-without-province"
            ),
            pytest.param(
                {"address": Address(ward_code="26734")}, ("address.province_code", "required when an address is given"), id="ward-without-province"
            ),
            pytest.param(
                {"address": Address(district_code="760")},
                ("address.province_code", "required when an address is given"),
                id="district-without-province",
            ),
            pytest.param(
                {"address": Address(province_code="79", district_code="76")},
                ("address.district_code", "a district code has 3 digits"),
                id="district-2",
            ),
            pytest.param(
                {"address": Address(province_code="79", district_code="7600")},
                ("address.district_code", "a district code has 3 digits"),
                id="district-4",
            ),
            pytest.param(
                {"address": Address(province_code="79", district_code="76a")},
                ("address.district_code", "a district code has 3 digits"),
                id="district-letter",
            ),
            pytest.param({"address": Address(province_code="79", ward_code="2673")}, ("address.ward_code", "a ward code has 5 digits"), id="ward-4"),
            pytest.param(
                {"address": Address(province_code="79", ward_code="267345")}, ("address.ward_code", "a ward code has 5 digits"), id="ward-6"
            ),
            pytest.param({"date_of_birth": (2026, 11, 24)}, ("date_of_birth", "in the future"), id="born-tomorrow"),
            pytest.param({"date_of_birth": (2026, 2, 30)}, ("date_of_birth", "not a calendar date"), id="30-february"),
            pytest.param({"date_of_birth": (2026, 13, 1)}, ("date_of_birth", "not a calendar date"), id="month-13"),
            pytest.param({"date_of_birth": (1900, 1, 1)}, ("date_of_birth", "more than 120 years ago"), id="born-1900"),
            pytest.param({"date_of_birth": (1905, 12, 31)}, ("date_of_birth", "more than 120 years ago"), id="born-1905"),
            pytest.param({"gender": "?"}, ("gender", "unknown value"), id="gender"),
            pytest.param({"gender": "male"}, ("gender", "unknown value"), id="gender-lower-case"),
            pytest.param({"income_band": "?"}, ("income_band", "unknown value"), id="income-band"),
            pytest.param({"preferred_channel": "FAX"}, ("preferred_channel", "unknown value"), id="channel"),
            pytest.param({"lifecycle_stage": "?"}, ("lifecycle_stage", "unknown value"), id="stage"),
            pytest.param({"type": "?"}, ("type", "unknown value"), id="type"),
            pytest.param({"preferred_language": "fr"}, ("preferred_language", "one of vi, en"), id="french"),
            pytest.param({"full_name": ""}, ("full_name", "required"), id="no-name"),
            pytest.param({"full_name": "A" * 201}, ("full_name", "at most 200 characters"), id="long-name"),
            pytest.param({"occupation": "x" * 101}, ("occupation", "at most 100 characters"), id="long-occupation"),
            pytest.param({"branch_id": "x" * 101}, ("branch_id", "at most 100 characters"), id="long-branch"),
            pytest.param({"address": Address(line="x" * 301, province_code="79")}, ("address.line", "at most 300 characters"), id="long-line"),
            pytest.param({"business": BusinessProfile(tax_code="0312345678")}, ("business", "only for business accounts"), id="business-on-person"),
        ],
    )
    def test_one_fault_one_violation(self, change: dict[str, Any], expected: tuple[str, str]) -> None:
        assert problems(replace(PERSON, **change)) == [expected]

    @pytest.mark.parametrize(
        "address",
        [
            Address(province_code="79"),
            Address(province_code="02"),  # Hà Giang: retired on 1 July 2025, still on older records
            Address(line="12 Lê Lợi", ward_code="26734", district_code="760", province_code=" 79 "),
        ],
    )
    def test_valid_addresses(self, address: Address) -> None:
        assert clean(replace(PERSON, address=address)).address.province_code == address.province_code.strip()

    def test_date_of_birth_today_and_exactly_120_years_ago_are_accepted(self) -> None:
        assert clean(replace(PERSON, date_of_birth=(2026, 11, 23))).date_of_birth == TODAY
        assert clean(replace(PERSON, date_of_birth=(1906, 11, 23))).date_of_birth == date(1906, 11, 23)

    def test_date_of_birth_one_day_more_than_120_years_ago_is_refused(self) -> None:
        assert problems(replace(PERSON, date_of_birth=(1906, 11, 22))) == [("date_of_birth", "more than 120 years ago")]

    def test_too_many_phones(self) -> None:
        six = tuple(f"091234567{i}" for i in range(6))
        assert problems(replace(PERSON, phones=six)) == [("phones", "at most 5 phones")]
        assert len(clean(replace(PERSON, phones=six[:5])).phones) == 5

    def test_duplicates_do_not_count_towards_the_limit(self) -> None:
        five = tuple(f"091234567{i}" for i in range(5))
        assert len(clean(replace(PERSON, phones=(*five, "+84 912345670"))).phones) == 5

    def test_too_many_emails(self) -> None:
        six = tuple(f"an{i}@congty.vn" for i in range(6))
        assert problems(replace(PERSON, emails=six)) == [("emails", "at most 5 emails")]

    def test_each_bad_contact_point_is_named_by_its_index(self) -> None:
        fields_ = problem_fields(replace(PERSON, phones=("0912345678", "0000", "12ab"), emails=("an@congty.vn", "not-an-email")))
        assert fields_ == ["phones[1]", "phones[2]", "emails[1]"]

    @pytest.mark.parametrize(
        ("window", "expected"),
        [
            pytest.param(WindowDraft(days=(), start_minute=540, end_minute=720), ("best_contact_times[0].days", "required"), id="no-days"),
            pytest.param(WindowDraft(days=(8,), start_minute=540, end_minute=720), ("best_contact_times[0].days", "unknown day"), id="day-8"),
            pytest.param(WindowDraft(days=(0,), start_minute=540, end_minute=720), ("best_contact_times[0].days", "unknown day"), id="day-0"),
            pytest.param(WindowDraft(days=(1,), start_minute=720, end_minute=720), ("best_contact_times[0]", WINDOW_RULE), id="start-equals-end"),
            pytest.param(WindowDraft(days=(1,), start_minute=800, end_minute=720), ("best_contact_times[0]", WINDOW_RULE), id="start-after-end"),
            pytest.param(WindowDraft(days=(1,), start_minute=540, end_minute=1441), ("best_contact_times[0]", WINDOW_RULE), id="end-past-midnight"),
            pytest.param(WindowDraft(days=(1,), start_minute=-1, end_minute=720), ("best_contact_times[0]", WINDOW_RULE), id="negative-start"),
        ],
    )
    def test_contact_window_checks(self, window: WindowDraft, expected: tuple[str, str]) -> None:
        assert problems(replace(PERSON, best_contact_times=(window,))) == [expected]

    def test_a_whole_day_window_is_accepted_and_days_are_sorted_and_deduplicated(self) -> None:
        profile = clean(replace(PERSON, best_contact_times=(WindowDraft(days=(7, 6, 7), start_minute=0, end_minute=1440),)))
        assert profile.best_contact_times == (ContactWindow((DayOfWeek.SATURDAY, DayOfWeek.SUNDAY), 0, 1440),)

    def test_at_most_seven_windows(self) -> None:
        eight = tuple(WindowDraft(days=(1,), start_minute=60 * i, end_minute=60 * i + 30) for i in range(8))
        assert problems(replace(PERSON, best_contact_times=eight)) == [("best_contact_times", "at most 7 windows")]

    @pytest.mark.parametrize("lifecycle_stage", ["PROSPECT", "ACTIVE", "DORMANT", "CLOSED"])
    def test_every_stage_is_accepted(self, lifecycle_stage: str) -> None:
        assert clean(replace(PERSON, lifecycle_stage=lifecycle_stage)).lifecycle_stage == LifecycleStage(lifecycle_stage)

    @pytest.mark.parametrize("income_band", [band.value for band in IncomeBand])
    def test_every_income_band_is_accepted_by_its_contract_name(self, income_band: str) -> None:
        assert clean(replace(PERSON, income_band=income_band)).income_band == IncomeBand(income_band)


class TestCitizenId:
    def test_consistent_cccd_passes(self) -> None:
        profile = clean(replace(PERSON, national_id=CCCD_FEMALE_2001, gender="FEMALE", date_of_birth=(2001, 5, 17)))
        assert (profile.national_id, profile.national_id_legacy, profile.gender) == (CCCD_FEMALE_2001, False, Gender.FEMALE)

    def test_consistent_cccd_for_a_man_born_in_the_1900s_passes(self) -> None:
        profile = clean(replace(PERSON, national_id=CCCD_MALE_1990, gender="MALE", date_of_birth=(1990, 12, 31)))
        assert profile.national_id == CCCD_MALE_1990

    def test_wrong_gender_is_a_national_id_violation(self) -> None:
        assert problem_fields(replace(PERSON, national_id=CCCD_FEMALE_2001, gender="MALE")) == ["national_id"]

    def test_wrong_birth_year_is_a_national_id_violation(self) -> None:
        assert problem_fields(replace(PERSON, national_id=CCCD_FEMALE_2001, date_of_birth=(1990, 5, 17))) == ["national_id"]

    def test_a_century_off_is_a_national_id_violation(self) -> None:
        # 001 2 20 ...: a man born in 2020; the same two year digits a century earlier do not agree.
        assert problem_fields(replace(PERSON, national_id="001220012345", gender="MALE", date_of_birth=(1920, 5, 17))) == ["national_id"]
        assert clean(replace(PERSON, national_id="001220012345", gender="MALE", date_of_birth=(2020, 5, 17))).national_id == "001220012345"

    def test_wrong_gender_and_year_give_two_violations(self) -> None:
        assert problem_fields(replace(PERSON, national_id=CCCD_FEMALE_2001, gender="MALE", date_of_birth=(1990, 5, 17))) == [
            "national_id",
            "national_id",
        ]

    def test_other_gender_is_not_compared(self) -> None:
        assert clean(replace(PERSON, national_id=CCCD_FEMALE_2001, gender="OTHER")).gender is Gender.OTHER

    def test_cccd_alone_is_enough(self) -> None:
        assert clean(AccountDraft(full_name="An", national_id=CCCD_FEMALE_2001)).keys == ContactKeys(national_id=CCCD_FEMALE_2001)

    @pytest.mark.parametrize("national_id", ["099301012345", "179301012345", "1234", "07930101234x", "0793010123456"])
    def test_malformed_ids_are_refused(self, national_id: str) -> None:
        assert problem_fields(replace(PERSON, national_id=national_id)) == ["national_id"]

    def test_legacy_cmnd_is_accepted_and_flagged(self) -> None:
        profile = clean(replace(PERSON, national_id="123 456 789", gender="MALE", date_of_birth=(1975, 1, 1)))
        assert (profile.national_id, profile.national_id_legacy) == ("123456789", True)

    @pytest.mark.parametrize("national_id", [ascii_to_arabic_indic("123456789"), "12345678\u00b2"])
    def test_cmnd_with_non_ascii_digits_is_refused(self, national_id: str) -> None:
        assert problem_fields(replace(PERSON, national_id=national_id)) == ["national_id"]

    def test_cccd_with_non_ascii_digits_is_refused(self) -> None:
        national_id = CCCD_FEMALE_2001[:6] + ascii_to_arabic_indic(CCCD_FEMALE_2001[6:])
        assert problem_fields(replace(PERSON, national_id=national_id)) == ["national_id"]


class TestKeysRequired:
    def test_a_person_needs_a_phone_an_email_or_a_national_id(self) -> None:
        assert problems(AccountDraft(full_name="Nguyễn Văn An")) == [
            ("phones", NEEDS_A_KEY),
            ("emails", NEEDS_A_KEY),
            ("national_id", NEEDS_A_KEY),
        ]

    def test_a_blank_national_id_is_no_key(self) -> None:
        assert problem_fields(AccountDraft(full_name="Nguyễn Văn An", national_id="   ")) == ["phones", "emails", "national_id"]

    @pytest.mark.parametrize(
        "draft",
        [
            AccountDraft(full_name="An", phones=("0912345678",)),
            AccountDraft(full_name="An", emails=("an@congty.vn",)),
            AccountDraft(full_name="An", national_id="123456789"),
        ],
    )
    def test_any_one_key_is_enough(self, draft: AccountDraft) -> None:
        assert clean(draft).keys

    def test_a_bad_key_is_not_also_reported_as_missing(self) -> None:
        assert problem_fields(AccountDraft(full_name="An", phones=("0000",))) == ["phones[0]"]


class TestBusiness:
    def test_a_business_is_cleaned(self) -> None:
        profile = clean(BUSINESS)
        assert profile.account_type is AccountType.BUSINESS
        assert profile.business == BusinessProfile(tax_code="0312345678", industry="Bán lẻ")
        assert (profile.gender, profile.date_of_birth, profile.national_id) == (None, None, "")

    def test_a_business_needs_no_contact_key(self) -> None:
        assert clean(replace(BUSINESS, emails=())).keys == ContactKeys()

    def test_a_branch_tax_code_is_accepted(self) -> None:
        assert clean(replace(BUSINESS, business=BusinessProfile(tax_code="0312345678-001"))).business == BusinessProfile("0312345678-001", "")

    @pytest.mark.parametrize("business", [None, BusinessProfile(), BusinessProfile(tax_code="   ", industry="Bán lẻ")])
    def test_tax_code_is_required(self, business: BusinessProfile | None) -> None:
        assert problems(replace(BUSINESS, business=business)) == [("business.tax_code", "required for a business account")]

    @pytest.mark.parametrize("tax_code", ["031234567", "03123456789", "0312345678-01", "0312345678-0001", "031234567a", "0312345678 001"])
    def test_malformed_tax_codes_are_refused(self, tax_code: str) -> None:
        assert problems(replace(BUSINESS, business=BusinessProfile(tax_code=tax_code))) == [
            ("business.tax_code", "10 digits, or 10 digits + '-' + 3 for a branch")
        ]

    def test_tax_code_with_non_ascii_digits_is_refused(self) -> None:
        tax_code = ascii_to_arabic_indic("0312345678")
        assert problem_fields(replace(BUSINESS, business=BusinessProfile(tax_code=tax_code))) == ["business.tax_code"]

    def test_person_only_fields_are_violations_on_a_business(self) -> None:
        draft = replace(BUSINESS, gender="MALE", date_of_birth=(1990, 1, 1), national_id=CCCD_MALE_1990)
        assert problems(draft) == [
            ("gender", "only for person accounts"),
            ("date_of_birth", "only for person accounts"),
            ("national_id", "only for person accounts"),
        ]


class TestDrafts:
    @pytest.mark.parametrize(
        "draft",
        [
            pytest.param(FULL_PERSON, id="full-person"),
            pytest.param(PERSON, id="minimal-person"),
            pytest.param(replace(PERSON, national_id="123 456 789", gender="OTHER"), id="legacy-cmnd"),
            pytest.param(BUSINESS, id="business"),
        ],
    )
    def test_draft_of_a_clean_profile_cleans_to_the_same_profile(self, draft: AccountDraft) -> None:
        profile = clean(draft)
        assert clean(draft_of(profile)) == profile

    def test_draft_of_writes_enums_by_their_contract_names(self) -> None:
        draft = draft_of(FULL_PERSON_CLEAN)
        assert (draft.type, draft.gender, draft.income_band, draft.preferred_channel, draft.lifecycle_stage) == (
            "PERSON",
            "FEMALE",
            "20M_TO_50M",
            "ZALO",
            "ACTIVE",
        )
        assert draft.date_of_birth == (2001, 5, 17)
        assert draft.best_contact_times == (WindowDraft(days=(1, 5), start_minute=540, end_minute=720),)

    def test_taking_replaces_only_the_named_fields(self) -> None:
        stored = draft_of(FULL_PERSON_CLEAN)
        update = AccountDraft(full_name="Trần Thị Hồng", emails=("hong@moi.vn",), occupation="Bác sĩ", gender="OTHER")
        merged = stored.taking(update, frozenset({"full_name", "emails"}))
        assert merged == replace(stored, full_name="Trần Thị Hồng", emails=("hong@moi.vn",))

    def test_taking_can_clear_a_field(self) -> None:
        stored = draft_of(FULL_PERSON_CLEAN)
        assert stored.taking(AccountDraft(), frozenset({"occupation"})).occupation == ""

    def test_taking_nothing_changes_nothing(self) -> None:
        stored = draft_of(FULL_PERSON_CLEAN)
        assert stored.taking(AccountDraft(full_name="x"), frozenset()) == stored

    def test_updatable_fields_are_every_input_field_but_the_type_and_all_are_on_the_profile(self) -> None:
        assert {f.name for f in fields(AccountDraft)} - UPDATABLE_FIELDS == {"type"}
        assert UPDATABLE_FIELDS.issubset(f.name for f in fields(Profile))


class TestCleanKeys:
    def test_normalises_the_keys(self) -> None:
        violations: list[FieldViolation] = []
        keys = clean_keys("0912 345 678", " An@CongTy.VN ", "079.301.012.345", violations)
        assert violations == []
        assert keys == ContactKeys(national_id=CCCD_FEMALE_2001, phone_e164="+84912345678", email="an@congty.vn")

    def test_a_bad_key_is_named_by_the_search_field_and_left_out(self) -> None:
        violations: list[FieldViolation] = []
        keys = clean_keys("12ab", "an@congty.vn", "1234", violations)
        assert [v.field for v in violations] == ["phone", "national_id"]
        assert keys == ContactKeys(email="an@congty.vn")

    def test_blank_keys_are_absent(self) -> None:
        violations: list[FieldViolation] = []
        assert clean_keys(" ", "", "", violations) == ContactKeys()
        assert violations == []


class TestChangeProfile:
    def test_returns_only_the_fields_that_really_changed(self) -> None:
        account = new_account(clean(FULL_PERSON))
        new = clean(replace(FULL_PERSON, occupation="Bác sĩ", emails=("hong@moi.vn",), full_name=" Nguyễn  Thị Hồng"))
        changed = account.change_profile(new, UPDATABLE_FIELDS, "rm-2", LATER)
        assert changed == ["emails", "occupation"]
        assert account.profile == replace(FULL_PERSON_CLEAN, occupation="Bác sĩ", emails=("hong@moi.vn",))
        assert (account.version, account.updated_at, account.updated_by) == (2, LATER, "rm-2")
        assert (account.created_at, account.created_by) == (NOW, "tester")

    def test_takes_only_the_named_fields(self) -> None:
        account = new_account(clean(FULL_PERSON))
        new = clean(replace(FULL_PERSON, occupation="Bác sĩ", branch_id="hn-02"))
        assert account.change_profile(new, frozenset({"occupation"}), "rm-2", LATER) == ["occupation"]
        assert (account.profile.occupation, account.profile.branch_id) == ("Bác sĩ", "hcm-01")

    def test_equal_values_change_nothing(self) -> None:
        account = new_account(clean(FULL_PERSON))
        same = clean(draft_of(account.profile))
        assert account.change_profile(same, UPDATABLE_FIELDS, "rm-2", LATER) == []
        assert (account.version, account.updated_at, account.updated_by) == (1, NOW, "tester")
        assert account.profile == FULL_PERSON_CLEAN

    def test_the_legacy_flag_follows_the_national_id(self) -> None:
        account = new_account(clean(replace(PERSON, national_id=CCCD_MALE_1990)))
        account.change_profile(clean(replace(PERSON, national_id="123456789")), frozenset({"national_id"}), "rm-2", LATER)
        assert (account.profile.national_id, account.profile.national_id_legacy) == ("123456789", True)
        account.change_profile(clean(replace(PERSON, national_id=CCCD_MALE_1990)), frozenset({"national_id"}), "rm-2", LATER)
        assert (account.profile.national_id, account.profile.national_id_legacy) == (CCCD_MALE_1990, False)

    @pytest.mark.parametrize("stage", [LifecycleStage.ACTIVE, LifecycleStage.DORMANT, LifecycleStage.CLOSED])
    def test_never_back_to_prospect(self, stage: LifecycleStage) -> None:
        account = new_account(replace(clean(PERSON), lifecycle_stage=stage))
        prospect = replace(clean(PERSON), lifecycle_stage=LifecycleStage.PROSPECT, occupation="Bác sĩ")
        with pytest.raises(FailedPrecondition):
            account.change_profile(prospect, UPDATABLE_FIELDS, "rm-2", LATER)
        assert (account.profile.lifecycle_stage, account.profile.occupation, account.version) == (stage, "", 1)

    @pytest.mark.parametrize(
        ("start", "end"),
        [
            (LifecycleStage.PROSPECT, LifecycleStage.DORMANT),
            (LifecycleStage.PROSPECT, LifecycleStage.CLOSED),
            (LifecycleStage.ACTIVE, LifecycleStage.DORMANT),
            (LifecycleStage.DORMANT, LifecycleStage.ACTIVE),
            (LifecycleStage.CLOSED, LifecycleStage.ACTIVE),
        ],
    )
    def test_other_stage_moves_are_allowed(self, start: LifecycleStage, end: LifecycleStage) -> None:
        account = new_account(replace(clean(PERSON), lifecycle_stage=start))
        assert account.change_profile(replace(account.profile, lifecycle_stage=end), UPDATABLE_FIELDS, "rm-2", LATER) == ["lifecycle_stage"]
        assert account.profile.lifecycle_stage is end

    def test_first_move_to_active_sets_customer_since_and_later_moves_keep_it(self) -> None:
        account = new_account()
        assert account.customer_since is None
        account.change_profile(replace(account.profile, lifecycle_stage=LifecycleStage.ACTIVE), UPDATABLE_FIELDS, "rm-2", LATER)
        assert account.customer_since == LATER
        account.change_profile(replace(account.profile, lifecycle_stage=LifecycleStage.DORMANT), UPDATABLE_FIELDS, "rm-2", MUCH_LATER)
        account.change_profile(replace(account.profile, lifecycle_stage=LifecycleStage.ACTIVE), UPDATABLE_FIELDS, "rm-2", MUCH_LATER)
        assert account.customer_since == LATER
        assert account.version == 4

    def test_moves_that_avoid_active_leave_customer_since_unset(self) -> None:
        account = new_account()
        account.change_profile(replace(account.profile, lifecycle_stage=LifecycleStage.DORMANT), UPDATABLE_FIELDS, "rm-2", LATER)
        assert account.customer_since is None


class TestValueTier:
    def test_derived_mass_by_default(self) -> None:
        account = new_account()
        assert (account.value_tier, account.derived_tier, account.tier_override, account.tier_override_reason) == (
            ValueTier.MASS,
            ValueTier.MASS,
            None,
            "",
        )

    def test_override_sets_the_effective_tier(self) -> None:
        account = new_account()
        account.override_tier(ValueTier.PRIVATE, "chủ doanh nghiệp lớn", "rm-2", LATER)
        assert (account.value_tier, account.derived_tier) == (ValueTier.PRIVATE, ValueTier.MASS)
        assert (account.tier_override, account.tier_override_reason) == (ValueTier.PRIVATE, "chủ doanh nghiệp lớn")
        assert (account.version, account.updated_at, account.updated_by) == (2, LATER, "rm-2")

    def test_clearing_without_an_override_fails(self) -> None:
        account = new_account()
        with pytest.raises(FailedPrecondition):
            account.clear_tier_override("rm-2", LATER)
        assert (account.version, account.updated_at) == (1, NOW)

    def test_after_clearing_the_derived_tier_is_back(self) -> None:
        account = new_account()
        account.derived_tier = ValueTier.AFFLUENT
        account.override_tier(ValueTier.PRIVATE, "reason", "rm-2", LATER)
        account.clear_tier_override("rm-3", MUCH_LATER)
        assert (account.value_tier, account.tier_override, account.tier_override_reason) == (ValueTier.AFFLUENT, None, "")
        assert (account.version, account.updated_at, account.updated_by) == (3, MUCH_LATER, "rm-3")
        with pytest.raises(FailedPrecondition):
            account.clear_tier_override("rm-3", MUCH_LATER)


class TestMatching:
    KEYS = ContactKeys(national_id=CCCD_FEMALE_2001, phone_e164="+84912345678", email="hong@congty.vn")

    def test_national_id_beats_phone_beats_email(self) -> None:
        by_email = holder("e", emails=("hong@congty.vn",))
        by_phone = holder("p", phones=("+84912345678",))
        by_id = holder("n", national_id=CCCD_FEMALE_2001)
        match = best_match(self.KEYS, [by_email, by_phone, by_id])
        assert match is not None and (match.account.account_id, match.field) == ("n", MatchField.NATIONAL_ID)
        match = best_match(self.KEYS, [by_email, by_phone])
        assert match is not None and (match.account.account_id, match.field) == ("p", MatchField.PHONE)
        match = best_match(self.KEYS, [by_email])
        assert match is not None and (match.account.account_id, match.field) == ("e", MatchField.EMAIL)

    def test_a_secondary_phone_matches(self) -> None:
        account = holder("p", phones=("+84987654321", "+84912345678"))
        match = best_match(ContactKeys(phone_e164="+84912345678"), [account])
        assert match is not None and (match.account is account, match.field) == (True, MatchField.PHONE)

    def test_a_secondary_email_matches(self) -> None:
        account = holder("e", emails=("hong@gmail.com", "hong@congty.vn"))
        match = best_match(ContactKeys(email="hong@congty.vn"), [account])
        assert match is not None and match.field is MatchField.EMAIL

    def test_no_shared_key_no_match(self) -> None:
        other = holder("x", national_id=CCCD_MALE_1990, phones=("+84987654321",), emails=("khac@congty.vn",))
        assert best_match(self.KEYS, [other]) is None

    def test_unknown_keys_never_match_empty_ones(self) -> None:
        empty = holder("x")
        assert best_match(ContactKeys(email="hong@congty.vn"), [empty]) is None
        assert best_match(ContactKeys(), [empty, holder("y", phones=("+84912345678",))]) is None
        assert not empty.profile.holds(MatchField.NATIONAL_ID, "")

    def test_keys_list_the_known_ones_strongest_first(self) -> None:
        assert self.KEYS.in_priority() == [
            (MatchField.NATIONAL_ID, CCCD_FEMALE_2001),
            (MatchField.PHONE, "+84912345678"),
            (MatchField.EMAIL, "hong@congty.vn"),
        ]
        assert ContactKeys(email="a@b.vn").in_priority() == [(MatchField.EMAIL, "a@b.vn")]
        assert not ContactKeys()

    def test_profile_keys_are_the_primary_contact_points(self) -> None:
        assert clean(FULL_PERSON).keys == ContactKeys(CCCD_FEMALE_2001, "+84912345678", "hong.nguyen@example.com")


class TestAcquisition:
    def test_first_touch_wins(self) -> None:
        account = new_account()
        assert account.record_acquisition(acquisition("lead-1"), "service:account", LATER) is True
        assert (account.version, account.updated_at, account.updated_by) == (2, LATER, "service:account")
        assert account.record_acquisition(acquisition("lead-2"), "service:other", MUCH_LATER) is False
        assert account.acquisition == acquisition("lead-1")
        assert (account.version, account.updated_at, account.updated_by) == (2, LATER, "service:account")


class TestProtoMapping:
    RAW = (CCCD_FEMALE_2001, "+84912345678", "+84987654321", "hong.nguyen@example.com", "hong@congty.vn")

    def test_pii_is_masked_without_permission(self) -> None:
        message = account_to_proto(new_account(FULL_PERSON_CLEAN), show_pii=False)
        assert message.national_id == "********2345"
        assert message.phone.e164 == "+849*****678"
        assert [p.e164 for p in message.phones] == ["+849*****678", "+849*****321"]
        assert message.email == "h***@example.com"
        assert list(message.emails) == ["h***@example.com", "h***@congty.vn"]
        text = str(message)
        assert not [raw for raw in self.RAW if raw in text]

    def test_pii_is_shown_with_permission(self) -> None:
        message = account_to_proto(new_account(FULL_PERSON_CLEAN), show_pii=True)
        assert message.national_id == CCCD_FEMALE_2001
        assert message.phone.e164 == "+84912345678"
        assert [p.e164 for p in message.phones] == ["+84912345678", "+84987654321"]
        assert message.email == "hong.nguyen@example.com"
        assert list(message.emails) == ["hong.nguyen@example.com", "hong@congty.vn"]
        assert message.national_id_legacy is False

    def test_absent_keys_stay_empty(self) -> None:
        message = account_to_proto(new_account(clean(AccountDraft(full_name="An", emails=("an@congty.vn",)))), show_pii=False)
        assert (message.national_id, message.HasField("phone"), list(message.phones), message.email) == ("", False, [], "a***@congty.vn")

    def test_address_gets_the_province_name(self) -> None:
        message = account_to_proto(new_account(FULL_PERSON_CLEAN), show_pii=False)
        assert message.address == account_pb2.Address(
            line="12 Lê Lợi, Bến Nghé", ward_code="26734", district_code="760", province_code="79", province_name="Hồ Chí Minh"
        )

    def test_no_address_no_address_message(self) -> None:
        assert not account_to_proto(new_account(), show_pii=False).HasField("address")

    def test_profile_fields_and_tiers(self) -> None:
        account = new_account(FULL_PERSON_CLEAN)
        account.customer_since = LATER
        account.override_tier(ValueTier.AFFLUENT, "reason", "rm-2", LATER)
        message = account_to_proto(account, show_pii=False)
        assert message.account_id == ACCOUNT_ID
        assert message.type == account_pb2.ACCOUNT_TYPE_PERSON
        assert message.gender == account_pb2.GENDER_FEMALE
        assert message.date_of_birth == common_pb2.Date(year=2001, month=5, day=17)
        assert message.income_band == account_pb2.INCOME_BAND_20M_TO_50M
        assert message.preferred_channel == account_pb2.CONTACT_CHANNEL_ZALO
        assert message.lifecycle_stage == account_pb2.LIFECYCLE_STAGE_ACTIVE
        assert list(message.best_contact_times) == [
            account_pb2.ContactTimeWindow(days=[account_pb2.DAY_OF_WEEK_MONDAY, account_pb2.DAY_OF_WEEK_FRIDAY], start_minute=540, end_minute=720)
        ]
        assert (message.value_tier, message.derived_value_tier) == (account_pb2.VALUE_TIER_AFFLUENT, account_pb2.VALUE_TIER_MASS)
        assert (message.value_tier_overridden, message.value_tier_override_reason) == (True, "reason")
        assert message.customer_since.ToDatetime(tzinfo=UTC) == LATER
        assert message.audit.update_time.ToDatetime(tzinfo=UTC) == LATER
        assert (message.version, message.owner_id, message.branch_id, message.preferred_language) == (2, "rm-1", "hcm-01", "vi")
        assert not message.HasField("business")

    def test_business_account(self) -> None:
        message = account_to_proto(new_account(clean(BUSINESS)), show_pii=False)
        assert message.type == account_pb2.ACCOUNT_TYPE_BUSINESS
        assert message.business == account_pb2.BusinessProfile(tax_code="0312345678", industry="Bán lẻ")
        assert (message.gender, message.HasField("date_of_birth"), message.national_id) == (account_pb2.GENDER_UNSPECIFIED, False, "")

    @pytest.mark.parametrize(
        ("wrapper", "domain"),
        [
            (account_pb2.AccountType, AccountType),
            (account_pb2.Gender, Gender),
            (account_pb2.IncomeBand, IncomeBand),
            (account_pb2.ContactChannel, ContactChannel),
            (account_pb2.LifecycleStage, LifecycleStage),
            (account_pb2.ValueTier, ValueTier),
        ],
    )
    def test_enum_mapping_round_trip(self, wrapper: Any, domain: type[StrEnum]) -> None:
        for member in domain:
            number = enum_number(wrapper, member)
            assert number != 0
            assert enum_name(wrapper, number) == member.value
        contract = {enum_name(wrapper, number) for number in wrapper.values() if number}
        assert contract == {member.value for member in domain}
        assert enum_number(wrapper, None) == 0
        assert enum_name(wrapper, 0) == ""
        assert enum_name(wrapper, 99) == "?"

    def test_draft_from_proto_with_every_enum_set(self) -> None:
        message = account_pb2.AccountInput(
            type=account_pb2.ACCOUNT_TYPE_PERSON,
            full_name="Nguyễn Thị Hồng",
            gender=account_pb2.GENDER_FEMALE,
            date_of_birth=common_pb2.Date(year=2001, month=5, day=17),
            national_id="079 301 012 345",
            phones=["0912 345 678", "84987654321"],
            emails=["Hong@CongTy.vn"],
            address=account_pb2.Address(line="12 Lê Lợi", ward_code="26734", district_code="760", province_code="79"),
            occupation="Kỹ sư",
            income_band=account_pb2.INCOME_BAND_10M_TO_20M,
            preferred_language="en",
            preferred_channel=account_pb2.CONTACT_CHANNEL_PHONE_CALL,
            best_contact_times=[
                account_pb2.ContactTimeWindow(
                    days=[account_pb2.DAY_OF_WEEK_SATURDAY, account_pb2.DAY_OF_WEEK_SUNDAY], start_minute=480, end_minute=600
                )
            ],
            lifecycle_stage=account_pb2.LIFECYCLE_STAGE_DORMANT,
            owner_id="rm-1",
            branch_id="hcm-01",
        )
        draft = draft_from_proto(message)
        assert draft == AccountDraft(
            type="PERSON",
            full_name="Nguyễn Thị Hồng",
            gender="FEMALE",
            date_of_birth=(2001, 5, 17),
            national_id="079 301 012 345",
            phones=("0912 345 678", "84987654321"),
            emails=("Hong@CongTy.vn",),
            address=Address(line="12 Lê Lợi", ward_code="26734", district_code="760", province_code="79"),
            occupation="Kỹ sư",
            income_band="10M_TO_20M",
            preferred_language="en",
            preferred_channel="PHONE_CALL",
            best_contact_times=(WindowDraft(days=(6, 7), start_minute=480, end_minute=600),),
            lifecycle_stage="DORMANT",
            owner_id="rm-1",
            branch_id="hcm-01",
            business=None,
        )
        profile = clean(draft)
        assert (profile.account_type, profile.gender, profile.income_band, profile.preferred_channel, profile.lifecycle_stage) == (
            AccountType.PERSON,
            Gender.FEMALE,
            IncomeBand.FROM_10M_TO_20M,
            ContactChannel.PHONE_CALL,
            LifecycleStage.DORMANT,
        )

    def test_draft_from_proto_of_a_business(self) -> None:
        message = account_pb2.AccountInput(
            type=account_pb2.ACCOUNT_TYPE_BUSINESS,
            full_name="Công ty An Phát",
            business=account_pb2.BusinessProfile(tax_code="0312345678-001", industry="Bán lẻ"),
        )
        draft = draft_from_proto(message)
        assert (draft.type, draft.business, draft.date_of_birth, draft.gender) == ("BUSINESS", BusinessProfile("0312345678-001", "Bán lẻ"), None, "")
        assert clean(draft).business == BusinessProfile("0312345678-001", "Bán lẻ")

    def test_unset_enums_are_empty(self) -> None:
        draft = draft_from_proto(account_pb2.AccountInput(full_name="An"))
        assert draft == AccountDraft(full_name="An")

    def test_out_of_range_enum_numbers_become_unknown_values(self) -> None:
        message = account_pb2.AccountInput(full_name="An", phones=["0912345678"])
        message.gender = account_pb2.Gender.ValueType(99)
        message.income_band = account_pb2.IncomeBand.ValueType(42)
        draft = draft_from_proto(message)
        assert (draft.gender, draft.income_band) == ("?", "?")
        assert problems(draft) == [("gender", "unknown value"), ("income_band", "unknown value")]


@pytest.mark.parametrize(
    ("value", "valid"),
    [
        ("3f2b8c1e-5d4a-4b7e-9c2d-1a2b3c4d5e6f", True),
        ("3F2B8C1E-5D4A-4B7E-9C2D-1A2B3C4D5E6F", False),
        ("3f2b8c1e5d4a4b7e9c2d1a2b3c4d5e6f", False),
        ("{3f2b8c1e-5d4a-4b7e-9c2d-1a2b3c4d5e6f}", False),
        ("not-an-id", False),
        ("", False),
    ],
)
def test_ids_are_canonical_lower_case_uuids(value: str, valid: bool) -> None:
    assert is_valid_id(value) is valid

"""Duplicate scoring, blocking keys and merge survivorship: pure domain rules, no I/O.

Accounts are built directly; "now" is fixed. Names are real Vietnamese names, since the rules
are about how Vietnamese names, ids and households behave.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from crm_account.domain.duplicates import (
    LIKELY,
    POSSIBLE,
    DuplicateCandidate,
    assess_pair,
    candidate_keys,
    name_dob_key,
    plan_merge,
    score_pair,
)
from crm_account.domain.model import (
    Account,
    AccountType,
    Acquisition,
    Address,
    BusinessProfile,
    ContactChannel,
    ContactWindow,
    DayOfWeek,
    Gender,
    IncomeBand,
    LifecycleStage,
    Profile,
    ValueTier,
)
from crm_account.domain.profile import MAX_CONTACT_POINTS
from crm_common.errors import FailedPrecondition

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
EARLIER = NOW - timedelta(days=90)
A = "00000000-0000-4000-8000-00000000000a"
B = "00000000-0000-4000-8000-00000000000b"

# A CCCD registered in Hà Nội (001) for a man (0: male, 1900s) born in 1990 (90), and another.
CCCD_AN = "001090012345"
CCCD_OTHER = "001090016789"
# A CCCD registered in Hồ Chí Minh (079) for a woman (3: female, 2000s) born in 2001.
CCCD_FEMALE_2001 = "079301012345"
CMND_AN = "012345678"
BORN = date(1990, 1, 1)
PHONE = "+84912345678"
PHONE_2 = "+84987654321"
EMAIL = "an.nguyen@example.com"
EMAIL_2 = "an@congty.vn"


def account(account_id: str = A, *, updated_at: datetime = NOW, **fields: Any) -> Account:
    """A person account; `fields` are Profile fields, or Account fields where Profile has none."""
    account_fields = {name: fields.pop(name) for name in ("tier_override", "tier_override_reason", "customer_since", "acquisition") if name in fields}
    profile = Profile(**{"full_name": "Nguyễn Văn An", **fields})
    return Account(
        account_id=account_id,
        profile=profile,
        source_lead_id="",
        acquisition=account_fields.pop("acquisition", None),
        created_at=EARLIER,
        created_by="tester",
        updated_at=updated_at,
        updated_by="tester",
        **account_fields,
    )


def business(account_id: str = A, tax_code: str = "0312345678", **fields: Any) -> Account:
    industry = fields.pop("industry", "")
    return account(
        account_id,
        account_type=AccountType.BUSINESS,
        full_name=fields.pop("full_name", "Công ty TNHH Thương mại An Phát"),
        business=BusinessProfile(tax_code=tax_code, industry=industry),
        **fields,
    )


def assess(a: Account, b: Account) -> DuplicateCandidate:
    """The assessment, checked to be the same both ways round."""
    forward, backward = assess_pair(a, b), assess_pair(b, a)
    assert forward.score == backward.score
    return forward


def acquisition(lead_id: str, at: datetime) -> Acquisition:
    return Acquisition(lead_id, "WEB_FORM", "camp-1", "google", "cpc", "tet-2027", at)


class TestNationalId:
    def test_same_national_id_is_certain(self) -> None:
        found = score_pair(account(A, national_id=CCCD_AN), account(B, full_name="Trần Thị Mai", national_id=CCCD_AN))
        assert found == DuplicateCandidate(A, B, 100, ("same national id ********2345",))
        assert found.level == "likely"

    def test_same_national_id_but_different_dates_of_birth_is_90(self) -> None:
        found = assess(account(A, national_id=CCCD_AN, date_of_birth=BORN), account(B, national_id=CCCD_AN, date_of_birth=date(1990, 1, 2)))
        assert found.score == 90
        assert found.reasons[0] == "same national id ********2345 but dates of birth differ"

    def test_same_national_id_with_one_date_of_birth_unknown_is_certain(self) -> None:
        assert assess(account(A, national_id=CCCD_AN, date_of_birth=BORN), account(B, national_id=CCCD_AN)).score == 100

    def test_different_national_ids_cap_the_score_whatever_else_matches(self) -> None:
        same_everything = {"phones": (PHONE,), "emails": (EMAIL,), "date_of_birth": BORN}
        a, b = account(A, national_id=CCCD_AN, **same_everything), account(B, national_id=CCCD_OTHER, **same_everything)
        found = assess(a, b)
        assert found.score == 40
        assert found.reasons[0] == "different national ids ********2345 and ********6789: two people"
        assert score_pair(a, b) is None

    def test_two_different_cmnds_cap_too(self) -> None:
        found = assess(
            account(A, national_id="012345678", national_id_legacy=True, phones=(PHONE,)),
            account(B, national_id="987654321", national_id_legacy=True, phones=(PHONE,)),
        )
        assert found.score == 40

    def test_a_cmnd_and_a_cccd_may_be_the_same_person(self) -> None:
        a = account(A, national_id=CMND_AN, national_id_legacy=True, date_of_birth=BORN, phones=(PHONE,))
        b = account(B, national_id=CCCD_AN, date_of_birth=BORN, phones=(PHONE,))
        found = assess(a, b)
        assert found.reasons[0] == "a CMND *****5678 and a CCCD: may be the same person"
        assert found.score == 100  # 45 phone + 30 name + 25 birth, not capped
        assert found.level == "likely"

    def test_one_national_id_unknown_says_nothing(self) -> None:
        found = assess(account(A, national_id=CCCD_AN, phones=(PHONE,)), account(B, phones=(PHONE,)))
        assert found.score == 75
        assert not any("national id" in reason for reason in found.reasons)


class TestContactPointsAndNames:
    def test_a_shared_phone_alone_is_45_and_no_candidate(self) -> None:
        a, b = account(A, phones=(PHONE_2, PHONE)), account(B, full_name="Trần Thị Mai", phones=(PHONE,))
        found = assess(a, b)
        assert (found.score, found.reasons) == (45, ("shares phone +849*****678",))
        assert score_pair(a, b) is None

    def test_any_phone_of_either_side_counts_once(self) -> None:
        a = account(A, full_name="Trần Thị Mai", phones=(PHONE_2, PHONE))
        b = account(B, phones=(PHONE, PHONE_2))
        found = assess(a, b)
        assert found.score == 45
        assert found.reasons == ("shares phone +849*****321", "shares phone +849*****678")

    def test_a_shared_email_alone_is_35(self) -> None:
        found = assess(account(A, emails=(EMAIL,)), account(B, full_name="Trần Thị Mai", emails=(EMAIL_2, EMAIL)))
        assert (found.score, found.reasons) == (35, ("shares email a***@example.com",))

    def test_matching_names_add_30_folded_and_in_any_case(self) -> None:
        found = assess(account(A, phones=(PHONE,)), account(B, full_name="NGUYEN VAN AN", phones=(PHONE,)))
        assert found.score == 75
        assert found.reasons == ("shares phone +849*****678", "names match (100)")
        assert found.level == "possible"

    def test_names_in_western_order_match(self) -> None:
        assert "names match (100)" in assess(account(A, phones=(PHONE,)), account(B, full_name="Văn An Nguyễn", phones=(PHONE,))).reasons

    def test_similar_names_add_20(self) -> None:
        found = assess(
            account(A, full_name="Nguyễn Thị Thu Hương", phones=(PHONE,)),
            account(B, full_name="Nguyễn Thu Hương", phones=(PHONE,)),
        )
        assert found.score == 65
        assert "similar names (88)" in found.reasons

    def test_a_missing_middle_name_is_similar(self) -> None:
        found = assess(account(A, full_name="Nguyễn Thị Hồng", phones=(PHONE,)), account(B, full_name="Nguyễn Hồng", phones=(PHONE,)))
        assert found.score == 65
        assert "similar names (middle name missing)" in found.reasons

    def test_a_slip_in_a_long_given_name_is_similar(self) -> None:
        found = assess(account(A, full_name="Nguyen Van Thanh", phones=(PHONE,)), account(B, full_name="Nguyen Van Thanhh", phones=(PHONE,)))
        assert found.score == 75
        assert "names match (96)" in found.reasons

    def test_same_family_and_middle_name_with_another_given_name_is_not_similar(self) -> None:
        # 96 on the whole string, but An and Anh are two siblings, not a typo.
        found = assess(account(A, phones=(PHONE,)), account(B, full_name="Nguyễn Văn Anh", phones=(PHONE,)))
        assert found.score == 45
        assert "different given names (96 on the whole name)" in found.reasons

    def test_same_date_of_birth_adds_25(self) -> None:
        found = assess(account(A, date_of_birth=BORN, emails=(EMAIL,)), account(B, full_name="Trần Thị Mai", date_of_birth=BORN, emails=(EMAIL,)))
        assert found.score == 60
        assert found.reasons == ("shares email a***@example.com", "same date of birth")

    def test_name_and_date_of_birth_together_are_likely(self) -> None:
        a, b = account(A, date_of_birth=BORN), account(B, full_name="Nguyen Van An", date_of_birth=BORN)
        found = score_pair(a, b)
        assert found is not None
        assert found.score == LIKELY
        assert found.reasons == ("names match (100)", "same date of birth", "name and date of birth agree")

    def test_a_name_below_90_with_the_date_of_birth_is_not_lifted(self) -> None:
        found = assess(account(A, full_name="Nguyễn Thị Thu Hương", date_of_birth=BORN), account(B, full_name="Nguyễn Thu Hương", date_of_birth=BORN))
        assert found.score == 45

    def test_different_dates_of_birth_keep_a_pair_below_likely(self) -> None:
        a = account(A, phones=(PHONE,), emails=(EMAIL,), date_of_birth=BORN)
        b = account(B, phones=(PHONE,), emails=(EMAIL,), date_of_birth=date(1965, 3, 4))
        found = assess(a, b)
        assert found.score == LIKELY - 1
        assert found.reasons[-2:] == ("dates of birth differ", "dates of birth differ: a person must decide")

    def test_the_score_is_clamped_to_100(self) -> None:
        fields = {"phones": (PHONE,), "emails": (EMAIL,), "date_of_birth": BORN}
        found = assess(account(A, **fields), account(B, **fields))
        assert found.score == 100
        assert found.reasons == ("shares phone +849*****678", "shares email a***@example.com", "names match (100)", "same date of birth")

    def test_reasons_never_hold_full_pii(self) -> None:
        fields = {"phones": (PHONE, PHONE_2), "emails": (EMAIL, EMAIL_2), "date_of_birth": BORN}
        for a, b in [
            (account(A, national_id=CCCD_AN, **fields), account(B, national_id=CCCD_AN, **fields)),
            (account(A, national_id=CCCD_AN, **fields), account(B, national_id=CCCD_OTHER, **fields)),
            (account(A, national_id=CMND_AN, national_id_legacy=True, **fields), account(B, national_id=CCCD_AN, **fields)),
        ]:
            text = " ".join(assess(a, b).reasons)
            for secret in (PHONE, PHONE_2, EMAIL, EMAIL_2, CCCD_AN, CCCD_OTHER, CMND_AN, "an.nguyen", "1990-01-01", "0912345678"):
                assert secret not in text


class TestHouseholds:
    """Families share phones and emails; that alone must never make a likely duplicate."""

    def test_parent_and_child_sharing_a_phone_and_an_email(self) -> None:
        household = {"phones": (PHONE,), "emails": (EMAIL,), "address": Address(line="12 Lê Lợi", province_code="79")}
        father = account(A, full_name="Nguyễn Văn Hùng", date_of_birth=date(1965, 3, 4), **household)
        daughter = account(B, full_name="Nguyễn Thị Lan", date_of_birth=date(1995, 8, 9), **household)
        found = score_pair(father, daughter)
        assert found is not None
        assert found.score < LIKELY
        assert found.level == "possible"

    def test_a_shared_phone_with_different_names_is_not_a_candidate(self) -> None:
        assert score_pair(account(A, full_name="Nguyễn Văn Hùng", phones=(PHONE,)), account(B, full_name="Lê Thị Mai", phones=(PHONE,))) is None

    def test_twins_sharing_a_phone(self) -> None:
        twins = {"phones": (PHONE,), "date_of_birth": BORN}
        found = assess(account(A, full_name="Nguyễn Văn An", **twins), account(B, full_name="Nguyễn Văn Bình", **twins))
        assert found.score == 70
        assert found.level == "possible"
        assert "different given names (85 on the whole name)" in found.reasons

    def test_twins_sharing_a_phone_and_an_email_stay_below_likely(self) -> None:
        twins = {"phones": (PHONE,), "emails": (EMAIL,), "date_of_birth": BORN}
        found = assess(account(A, full_name="Nguyễn Minh Khoa", **twins), account(B, full_name="Nguyễn Minh Khôi", **twins))
        assert found.score == LIKELY - 1
        assert found.reasons[-1] == "names differ: shared contact points alone stay below likely"


class TestBusinesses:
    def test_a_person_never_pairs_with_a_business(self) -> None:
        person, company = (
            account(A, full_name="An Phát", phones=(PHONE,), emails=(EMAIL,)),
            business(B, full_name="An Phát", phones=(PHONE,), emails=(EMAIL,)),
        )
        assert score_pair(person, company) is None
        assert assess(person, company).reasons == ("a person and a business are never one customer",)

    def test_same_tax_code_is_certain(self) -> None:
        found = score_pair(business(A), business(B, full_name="CTY TNHH TM AN PHAT"))
        assert found == DuplicateCandidate(A, B, 100, ("same tax code ******5678",))

    def test_different_tax_codes_are_two_businesses(self) -> None:
        a, b = business(A, phones=(PHONE,), emails=(EMAIL,)), business(B, tax_code="0312345678-001", phones=(PHONE,), emails=(EMAIL,))
        found = assess(a, b)
        assert found.score == 40
        assert found.reasons[0] == "different tax codes ******5678 and **********-001: two businesses"
        assert score_pair(a, b) is None


class TestScorePair:
    def test_an_account_is_not_its_own_duplicate(self) -> None:
        assert score_pair(account(A, national_id=CCCD_AN), account(A, national_id=CCCD_AN)) is None

    @pytest.mark.parametrize(
        ("score", "level"), [(100, "likely"), (LIKELY, "likely"), (LIKELY - 1, "possible"), (POSSIBLE, "possible"), (POSSIBLE - 1, "weak")]
    )
    def test_levels(self, score: int, level: str) -> None:
        assert DuplicateCandidate(A, B, score, ()).level == level

    def test_ids_are_in_the_order_given(self) -> None:
        found = score_pair(account(B, national_id=CCCD_AN), account(A, national_id=CCCD_AN))
        assert found is not None
        assert (found.account_id, found.other_id) == (B, A)


class TestCandidateKeys:
    def test_a_person_is_looked_up_by_every_key(self) -> None:
        profile = Profile(
            full_name="Nguyễn Thị Hồng",
            date_of_birth=date(2001, 5, 17),
            national_id=CCCD_FEMALE_2001,
            phones=(PHONE, PHONE_2),
            emails=(EMAIL,),
        )
        assert candidate_keys(profile) == {
            "national_id": CCCD_FEMALE_2001,
            "phones[0]": PHONE,
            "phones[1]": PHONE_2,
            "emails[0]": EMAIL,
            "name+dob": "nguyen|h|2001-05-17",
        }

    def test_without_a_date_of_birth_there_is_no_name_key(self) -> None:
        assert candidate_keys(Profile(full_name="Nguyễn Văn An", phones=(PHONE,))) == {"phones[0]": PHONE}

    def test_a_business_is_looked_up_by_its_tax_code(self) -> None:
        assert candidate_keys(business(A, emails=(EMAIL,)).profile) == {"business.tax_code": "0312345678", "emails[0]": EMAIL}

    @pytest.mark.parametrize(
        ("name", "key"),
        [
            ("Nguyễn Văn An", "nguyen|a|1990-01-01"),
            ("NGUYEN VAN AN", "nguyen|a|1990-01-01"),
            ("Nguyễn An", "nguyen|a|1990-01-01"),
            ("Đặng Thị Ánh", "dang|a|1990-01-01"),
            ("Madonna", "madonna|m|1990-01-01"),
        ],
    )
    def test_the_name_key_tolerates_diacritics_case_and_middle_names(self, name: str, key: str) -> None:
        assert name_dob_key(name, BORN) == key

    def test_no_name_key_without_a_name_or_a_date(self) -> None:
        assert name_dob_key("  ", BORN) == ""
        assert name_dob_key("Nguyễn Văn An", None) == ""


class TestMergeRefusals:
    def test_an_account_into_itself(self) -> None:
        with pytest.raises(FailedPrecondition, match=f"^cannot merge account {A} into itself$"):
            plan_merge(account(A), account(A))

    def test_a_person_with_a_business(self) -> None:
        with pytest.raises(FailedPrecondition, match=f"cannot merge BUSINESS account {B} into PERSON account {A}: a person and a business"):
            plan_merge(account(A), business(B))

    def test_two_different_cccds(self) -> None:
        with pytest.raises(FailedPrecondition, match=r"^different national ids: these are two people"):
            plan_merge(account(A, national_id=CCCD_AN), account(B, national_id=CCCD_OTHER))

    def test_two_different_tax_codes(self) -> None:
        with pytest.raises(FailedPrecondition, match=r"^different tax codes: these are two businesses"):
            plan_merge(business(A), business(B, tax_code="0312345678-001"))

    def test_a_cccd_from_one_side_that_contradicts_the_birth_year_kept_from_the_other(self) -> None:
        survivor = account(A, national_id=CMND_AN, national_id_legacy=True, date_of_birth=date(1985, 6, 1))
        merged = account(B, national_id=CCCD_AN, date_of_birth=BORN)
        with pytest.raises(FailedPrecondition, match=f"the CCCD kept \\(from account {B}\\) does not match the date of birth \\(from account {A}\\)"):
            plan_merge(survivor, merged)

    def test_a_cccd_that_contradicts_the_gender_kept(self) -> None:
        with pytest.raises(FailedPrecondition, match=f"does not match the gender \\(from account {A}\\)"):
            plan_merge(account(A, gender=Gender.FEMALE), account(B, national_id=CCCD_AN))


class TestIdentitySurvivorship:
    def test_the_survivor_keeps_its_identity(self) -> None:
        survivor = account(A, full_name="Nguyễn Văn An", national_id=CCCD_AN, date_of_birth=BORN, gender=Gender.MALE)
        merged = account(B, full_name="Nguyễn Văn Ân", national_id=CCCD_AN, date_of_birth=date(1990, 2, 1), gender=Gender.OTHER)
        plan = plan_merge(survivor, merged)
        p = plan.profile
        assert (p.full_name, p.national_id, p.date_of_birth, p.gender) == ("Nguyễn Văn An", CCCD_AN, BORN, Gender.MALE)
        assert {plan.field_sources[name] for name in ("full_name", "national_id", "date_of_birth", "gender")} == {A}

    def test_empty_identity_fields_are_filled_from_the_merged_account(self) -> None:
        plan = plan_merge(account(A, phones=(PHONE,)), account(B, national_id=CCCD_AN, date_of_birth=BORN, gender=Gender.MALE))
        p = plan.profile
        assert (p.national_id, p.national_id_legacy, p.date_of_birth, p.gender) == (CCCD_AN, False, BORN, Gender.MALE)
        assert {plan.field_sources[name] for name in ("national_id", "date_of_birth", "gender")} == {B}

    @pytest.mark.parametrize("cccd_side", ["survivor", "merged"])
    def test_a_cccd_beats_a_cmnd_whichever_side_has_it(self, cccd_side: str) -> None:
        cccd, cmnd = {"national_id": CCCD_AN}, {"national_id": CMND_AN, "national_id_legacy": True}
        survivor, merged = (account(A, **cccd), account(B, **cmnd)) if cccd_side == "survivor" else (account(A, **cmnd), account(B, **cccd))
        plan = plan_merge(survivor, merged)
        assert (plan.profile.national_id, plan.profile.national_id_legacy) == (CCCD_AN, False)
        assert plan.field_sources["national_id"] == (A if cccd_side == "survivor" else B)

    def test_two_different_cmnds_may_merge_keeping_the_survivors(self) -> None:
        # A CMND got a new number when its holder registered in another province.
        plan = plan_merge(account(A, national_id=CMND_AN, national_id_legacy=True), account(B, national_id="987654321", national_id_legacy=True))
        assert (plan.profile.national_id, plan.profile.national_id_legacy) == (CMND_AN, True)

    def test_a_name_without_diacritics_takes_them_from_the_merged_account(self) -> None:
        plan = plan_merge(account(A, full_name="NGUYEN VAN AN"), account(B, full_name="Nguyễn Văn An"))
        assert plan.profile.full_name == "Nguyễn Văn An"
        assert plan.field_sources["full_name"] == B

    def test_another_name_never_replaces_the_survivors(self) -> None:
        assert plan_merge(account(A, full_name="Nguyen Van An"), account(B, full_name="Nguyễn Văn Anh")).profile.full_name == "Nguyen Van An"


class TestContactPointSurvivorship:
    def test_phones_and_emails_are_united_survivors_first(self) -> None:
        plan = plan_merge(account(A, phones=(PHONE,), emails=(EMAIL,)), account(B, phones=(PHONE_2, PHONE), emails=(EMAIL_2,)))
        assert plan.profile.phones == (PHONE, PHONE_2)
        assert plan.profile.keys.phone_e164 == PHONE  # the survivor's primary stays primary
        assert plan.profile.emails == (EMAIL, EMAIL_2)
        assert plan.field_sources["phones"] == plan.field_sources["emails"] == f"{A}+{B}"

    def test_the_union_is_capped(self) -> None:
        survivors = tuple(f"+8491234560{i}" for i in range(3))
        mergeds = (survivors[1], *(f"+8498765430{i}" for i in range(4)))
        plan = plan_merge(account(A, phones=survivors), account(B, phones=mergeds))
        assert len(plan.profile.phones) == MAX_CONTACT_POINTS
        assert plan.profile.phones == (*survivors, "+84987654300", "+84987654301")
        assert plan.dropped_phones == ("+84987654302", "+84987654303")

    def test_the_source_names_only_who_contributed(self) -> None:
        plan = plan_merge(account(A, phones=(PHONE,)), account(B, phones=(PHONE,), emails=(EMAIL,)))
        assert (plan.field_sources["phones"], plan.field_sources["emails"]) == (A, B)
        assert plan.dropped_phones == plan.dropped_emails == ()


class TestRecencySurvivorship:
    RECENT_FIELDS = {
        "address": Address(line="45 Trần Hưng Đạo", province_code="01"),
        "occupation": "Bác sĩ",
        "income_band": IncomeBand.OVER_100M,
        "preferred_language": "en",
        "preferred_channel": ContactChannel.ZALO,
        "best_contact_times": (ContactWindow((DayOfWeek.SATURDAY,), 480, 600),),
    }
    OLD_FIELDS = {
        "address": Address(line="12 Lê Lợi", province_code="79"),
        "occupation": "Kỹ sư",
        "income_band": IncomeBand.FROM_20M_TO_50M,
        "preferred_language": "vi",
        "preferred_channel": ContactChannel.SMS,
        "best_contact_times": (ContactWindow((DayOfWeek.MONDAY,), 540, 720),),
    }

    def test_the_most_recently_updated_account_wins(self) -> None:
        plan = plan_merge(account(A, updated_at=EARLIER, **self.OLD_FIELDS), account(B, updated_at=NOW, **self.RECENT_FIELDS))
        for name, value in self.RECENT_FIELDS.items():
            assert getattr(plan.profile, name) == value
            assert plan.field_sources[name] == B

    def test_the_survivor_wins_when_it_is_the_more_recent(self) -> None:
        plan = plan_merge(account(A, updated_at=NOW, **self.RECENT_FIELDS), account(B, updated_at=EARLIER, **self.OLD_FIELDS))
        assert all(getattr(plan.profile, name) == value for name, value in self.RECENT_FIELDS.items())
        assert {plan.field_sources[name] for name in self.RECENT_FIELDS} == {A}

    def test_an_empty_recent_value_does_not_erase_an_older_one(self) -> None:
        plan = plan_merge(account(A, updated_at=EARLIER, **self.OLD_FIELDS), account(B, updated_at=NOW))
        for name in ("address", "occupation", "income_band", "preferred_channel", "best_contact_times"):
            assert getattr(plan.profile, name) == self.OLD_FIELDS[name]
            assert plan.field_sources[name] == A

    def test_a_tie_goes_to_the_survivor(self) -> None:
        plan = plan_merge(account(A, occupation="Kỹ sư"), account(B, occupation="Bác sĩ"))
        assert (plan.profile.occupation, plan.field_sources["occupation"]) == ("Kỹ sư", A)

    def test_a_business_keeps_its_tax_code_and_the_recent_industry(self) -> None:
        plan = plan_merge(business(A, industry="Bán lẻ", updated_at=EARLIER), business(B, industry="Thương mại điện tử"))
        assert plan.profile.business == BusinessProfile(tax_code="0312345678", industry="Thương mại điện tử")
        assert (plan.field_sources["business.tax_code"], plan.field_sources["business.industry"]) == (A, B)


class TestOtherSurvivorship:
    @pytest.mark.parametrize(
        ("survivors", "mergeds", "kept"),
        [
            (LifecycleStage.PROSPECT, LifecycleStage.ACTIVE, LifecycleStage.ACTIVE),
            (LifecycleStage.DORMANT, LifecycleStage.ACTIVE, LifecycleStage.ACTIVE),
            (LifecycleStage.CLOSED, LifecycleStage.ACTIVE, LifecycleStage.ACTIVE),
            (LifecycleStage.PROSPECT, LifecycleStage.DORMANT, LifecycleStage.DORMANT),
            (LifecycleStage.CLOSED, LifecycleStage.DORMANT, LifecycleStage.DORMANT),
            # A relationship the bank ended is not hidden by a new prospect record.
            (LifecycleStage.PROSPECT, LifecycleStage.CLOSED, LifecycleStage.CLOSED),
            (LifecycleStage.PROSPECT, LifecycleStage.PROSPECT, LifecycleStage.PROSPECT),
        ],
    )
    def test_the_most_engaged_lifecycle_stage(self, survivors: LifecycleStage, mergeds: LifecycleStage, kept: LifecycleStage) -> None:
        assert plan_merge(account(A, lifecycle_stage=survivors), account(B, lifecycle_stage=mergeds)).profile.lifecycle_stage is kept
        assert plan_merge(account(A, lifecycle_stage=mergeds), account(B, lifecycle_stage=survivors)).profile.lifecycle_stage is kept

    def test_owner_and_branch_stay_the_survivors_unless_empty(self) -> None:
        plan = plan_merge(account(A, owner_id="rm-1"), account(B, owner_id="rm-2", branch_id="hn-02", updated_at=NOW + timedelta(days=1)))
        assert (plan.profile.owner_id, plan.profile.branch_id) == ("rm-1", "hn-02")
        assert (plan.field_sources["owner_id"], plan.field_sources["branch_id"]) == (A, B)

    def test_the_survivors_tier_override_wins(self) -> None:
        plan = plan_merge(
            account(A, tier_override=ValueTier.AFFLUENT, tier_override_reason="family of a private client"),
            account(B, tier_override=ValueTier.PRIVATE, tier_override_reason="board decision"),
        )
        assert (plan.tier_override, plan.tier_override_reason, plan.field_sources["tier_override"]) == (
            ValueTier.AFFLUENT,
            "family of a private client",
            A,
        )

    def test_the_merged_accounts_tier_override_fills_a_gap(self) -> None:
        plan = plan_merge(account(A), account(B, tier_override=ValueTier.PRIVATE, tier_override_reason="board decision"))
        assert (plan.tier_override, plan.tier_override_reason, plan.field_sources["tier_override"]) == (ValueTier.PRIVATE, "board decision", B)

    def test_no_override_on_either_side(self) -> None:
        assert plan_merge(account(A), account(B)).tier_override is None

    def test_customer_since_is_the_earliest(self) -> None:
        plan = plan_merge(account(A, customer_since=NOW), account(B, customer_since=EARLIER))
        assert (plan.customer_since, plan.field_sources["customer_since"]) == (EARLIER, B)
        plan = plan_merge(account(A, customer_since=EARLIER), account(B, customer_since=NOW))
        assert (plan.customer_since, plan.field_sources["customer_since"]) == (EARLIER, A)

    def test_customer_since_known_on_one_side_only(self) -> None:
        assert plan_merge(account(A), account(B, customer_since=NOW)).customer_since == NOW
        assert plan_merge(account(A), account(B)).customer_since is None

    def test_the_first_touch_acquisition_wins(self) -> None:
        first, later = acquisition("lead-1", EARLIER), acquisition("lead-2", NOW)
        plan = plan_merge(account(A, acquisition=later), account(B, acquisition=first))
        assert (plan.acquisition, plan.field_sources["acquisition"]) == (first, B)
        assert plan_merge(account(A, acquisition=later), account(B)).acquisition == later

    def test_the_plan_names_both_accounts_and_a_source_for_every_field(self) -> None:
        plan = plan_merge(account(A), account(B))
        assert (plan.survivor_id, plan.merged_id) == (A, B)
        assert set(plan.field_sources) == {
            "full_name",
            "gender",
            "date_of_birth",
            "national_id",
            "phones",
            "emails",
            "address",
            "occupation",
            "income_band",
            "preferred_language",
            "preferred_channel",
            "best_contact_times",
            "lifecycle_stage",
            "owner_id",
            "branch_id",
            "territory_id",
            "tier_override",
            "customer_since",
            "acquisition",
        }

    def test_the_merged_profile_is_the_survivors_when_the_other_adds_nothing(self) -> None:
        survivor = account(A, national_id=CCCD_AN, date_of_birth=BORN, phones=(PHONE,), occupation="Kỹ sư", lifecycle_stage=LifecycleStage.ACTIVE)
        merged = account(B, updated_at=NOW + timedelta(days=1))
        assert plan_merge(survivor, merged).profile == replace(survivor.profile)

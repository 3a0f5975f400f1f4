"""Vietnamese reference data: provinces before and after the 2025 merger, citizen-id rules."""

import unicodedata
from datetime import date

import pytest

from crm_common.contact import ContactError
from crm_common.vietnam import (
    PROVINCES,
    CitizenIdFacts,
    Gender,
    Province,
    check_district_code,
    check_ward_code,
    citizen_id_facts,
    citizen_id_problems,
    province,
)

CURRENT_CODES = {
    *("01", "04", "08", "11", "12", "14", "15", "19", "20", "22", "24", "25", "31", "33", "37", "38", "40"),
    *("42", "44", "46", "48", "51", "52", "56", "66", "68", "75", "79", "80", "82", "86", "91", "92", "96"),
}


def test_all_63_provinces_before_the_merger_are_known_and_34_are_current() -> None:
    assert len(PROVINCES) == 63
    assert {code for code, p in PROVINCES.items() if p.current} == CURRENT_CODES
    assert all(code == p.code and len(code) == 2 and code.isdigit() for code, p in PROVINCES.items())
    assert all(unicodedata.is_normalized("NFC", p.name) for p in PROVINCES.values())


def test_the_table_cannot_be_changed_at_run_time() -> None:
    with pytest.raises(TypeError):
        PROVINCES["99"] = Province("99", "Nowhere", False)  # type: ignore[index]


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("01", Province("01", "Hà Nội", True)),
        ("79", Province("79", "Hồ Chí Minh", True)),
        ("02", Province("02", "Hà Giang", False)),  # now part of Tuyên Quang
        ("77", Province("77", "Bà Rịa - Vũng Tàu", False)),
        ("15", Province("15", "Lào Cai", True)),  # was Yên Bái, seat of the merged Lào Cai
        ("10", Province("10", "Lào Cai", False)),  # the old Lào Cai
        ("46", Province("46", "Huế", True)),
        ("91", Province("91", "An Giang", True)),
    ],
)
def test_lookup_by_gso_code(code: str, expected: Province) -> None:
    assert province(code) == expected


@pytest.mark.parametrize("code", ["", "1", "001", "03", "97", "99", "ab"])
def test_unknown_codes_are_not_provinces(code: str) -> None:
    assert province(code) is None


def test_district_and_ward_codes_are_checked_for_format_only() -> None:
    assert all(check_district_code(c) for c in ["", "001", "760", "999"])
    assert not any(check_district_code(c) for c in ["1", "01", "0001", "abc", " 001", "00١"])
    assert all(check_ward_code(c) for c in ["", "00001", "26734", "99999"])
    assert not any(check_ward_code(c) for c in ["0001", "000001", "2673a", "26734\n"])


@pytest.mark.parametrize(
    ("cccd", "facts"),
    [
        ("079301012345", CitizenIdFacts("79", Gender.FEMALE, 2001, 2001)),
        ("001099012345", CitizenIdFacts("01", Gender.MALE, 1999, 1999)),
        ("001 185 012 345", CitizenIdFacts("01", Gender.FEMALE, 1985, 1985)),
        ("048200012345", CitizenIdFacts("48", Gender.MALE, 2000, 2000)),
        ("015000012345", CitizenIdFacts("15", Gender.MALE, 1900, 1900)),
        ("096401012345", CitizenIdFacts("96", Gender.MALE, 2101, 2101)),
        ("077599012345", CitizenIdFacts("77", Gender.FEMALE, 2199, 2199)),
        ("002650012345", CitizenIdFacts("02", Gender.MALE, 2250, 2250)),
        ("089910012345", CitizenIdFacts("89", Gender.FEMALE, 2310, 2310)),
    ],
)
def test_what_a_citizen_id_encodes(cccd: str, facts: CitizenIdFacts) -> None:
    assert citizen_id_facts(cccd) == facts


@pytest.mark.parametrize(
    ("cccd", "message"),
    [
        ("003301012345", "CCCD starts with 003"),
        ("097301012345", "CCCD starts with 097"),
        ("179301012345", "CCCD starts with 179"),
        ("123456789", "9-digit CMND"),
        ("07930101234", "12-digit CCCD"),
        ("079²01012345", "digits only"),
    ],
)
def test_what_is_not_a_citizen_id_is_refused(cccd: str, message: str) -> None:
    with pytest.raises(ContactError, match=message):
        citizen_id_facts(cccd)


def test_a_consistent_citizen_id_has_no_problems() -> None:
    assert citizen_id_problems("079301012345", date_of_birth=date(2001, 7, 15), gender=Gender.FEMALE) == []
    assert citizen_id_problems("079301012345", date_of_birth=None, gender=None) == []


def test_other_gender_is_not_compared() -> None:
    assert citizen_id_problems("079301012345", date_of_birth=None, gender=Gender.OTHER) == []


def test_a_wrong_birth_year_is_a_problem() -> None:
    assert citizen_id_problems("079301012345", date_of_birth=date(2011, 7, 15), gender=Gender.FEMALE) == [
        "citizen id gives birth year 2001, but the date of birth is 2011-07-15"
    ]
    # Same two digits, wrong century: the fourth digit tells them apart.
    assert len(citizen_id_problems("079301012345", date_of_birth=date(1901, 1, 1), gender=None)) == 1


def test_a_wrong_gender_is_a_problem() -> None:
    assert citizen_id_problems("079301012345", date_of_birth=None, gender=Gender.MALE) == [
        "citizen id is for a female holder, but the gender is male"
    ]


def test_year_and_gender_are_both_reported() -> None:
    assert len(citizen_id_problems("001099012345", date_of_birth=date(2001, 1, 1), gender=Gender.FEMALE)) == 2


def test_an_unknown_province_is_a_problem() -> None:
    [problem] = citizen_id_problems("003301012345", date_of_birth=date(2001, 7, 15), gender=Gender.FEMALE)
    assert problem.startswith("CCCD starts with 003")


def test_a_cmnd_encodes_nothing_to_disagree_with() -> None:
    assert citizen_id_problems("123456789", date_of_birth=date(2001, 7, 15), gender=Gender.FEMALE) == []

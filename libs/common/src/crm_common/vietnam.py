"""Vietnamese reference data: provinces, address code formats and what a citizen id encodes.

Province codes are the General Statistics Office (GSO) administrative codes; the same two
digits, after a leading 0, open every 12-digit citizen id (CCCD), so one table serves addresses
and identity checks alike.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from types import MappingProxyType

from crm_common.contact import ContactError, normalise_national_id


@dataclass(frozen=True)
class Province:
    code: str  # two-digit GSO code, "01".."96"
    name: str
    current: bool  # still a provincial unit since the 1 July 2025 merger


# Bank records hold addresses and ids from before and after the 1 July 2025 merger (63 → 34
# provincial units), so every one of the 63 codes is accepted; `current` tells which still exist.
# Each of the 34 kept the code of the old unit that holds its seat, and its name is today's
# (15 was Yên Bái, 24 Bắc Giang, 44 Quảng Bình, 46 Thừa Thiên Huế, 52 Bình Định, 80 Long An,
# 82 Tiền Giang, 91 Kiên Giang). Retired codes are never given to another unit.
# fmt: off
_PROVINCE_ROWS: tuple[tuple[str, str, bool], ...] = (
    ("01", "Hà Nội", True),              ("02", "Hà Giang", False),           ("04", "Cao Bằng", True),            ("06", "Bắc Kạn", False),
    ("08", "Tuyên Quang", True),         ("10", "Lào Cai", False),            ("11", "Điện Biên", True),           ("12", "Lai Châu", True),
    ("14", "Sơn La", True),              ("15", "Lào Cai", True),             ("17", "Hoà Bình", False),           ("19", "Thái Nguyên", True),
    ("20", "Lạng Sơn", True),            ("22", "Quảng Ninh", True),          ("24", "Bắc Ninh", True),            ("25", "Phú Thọ", True),
    ("26", "Vĩnh Phúc", False),          ("27", "Bắc Ninh", False),           ("30", "Hải Dương", False),          ("31", "Hải Phòng", True),
    ("33", "Hưng Yên", True),            ("34", "Thái Bình", False),          ("35", "Hà Nam", False),             ("36", "Nam Định", False),
    ("37", "Ninh Bình", True),           ("38", "Thanh Hoá", True),           ("40", "Nghệ An", True),             ("42", "Hà Tĩnh", True),
    ("44", "Quảng Trị", True),           ("45", "Quảng Trị", False),          ("46", "Huế", True),                 ("48", "Đà Nẵng", True),
    ("49", "Quảng Nam", False),          ("51", "Quảng Ngãi", True),          ("52", "Gia Lai", True),             ("54", "Phú Yên", False),
    ("56", "Khánh Hoà", True),           ("58", "Ninh Thuận", False),         ("60", "Bình Thuận", False),         ("62", "Kon Tum", False),
    ("64", "Gia Lai", False),            ("66", "Đắk Lắk", True),             ("67", "Đắk Nông", False),           ("68", "Lâm Đồng", True),
    ("70", "Bình Phước", False),         ("72", "Tây Ninh", False),           ("74", "Bình Dương", False),         ("75", "Đồng Nai", True),
    ("77", "Bà Rịa - Vũng Tàu", False),  ("79", "Hồ Chí Minh", True),         ("80", "Tây Ninh", True),            ("82", "Đồng Tháp", True),
    ("83", "Bến Tre", False),            ("84", "Trà Vinh", False),           ("86", "Vĩnh Long", True),           ("87", "Đồng Tháp", False),
    ("89", "An Giang", False),           ("91", "An Giang", True),            ("92", "Cần Thơ", True),             ("93", "Hậu Giang", False),
    ("94", "Sóc Trăng", False),          ("95", "Bạc Liêu", False),           ("96", "Cà Mau", True),
)
# fmt: on
PROVINCES: Mapping[str, Province] = MappingProxyType({code: Province(code, name, current) for code, name, current in _PROVINCE_ROWS})


def province(code: str) -> Province | None:
    return PROVINCES.get(code.strip())


# Districts (3 digits) and wards/communes (5 digits) change too often to ship here: their full
# lists are reference data the bank supplies. Only the format is checked; "" means not given.
# Districts were abolished on 1 July 2025, so district codes appear only in older addresses.
_DISTRICT_CODE = re.compile(r"[0-9]{3}")
_WARD_CODE = re.compile(r"[0-9]{5}")


def check_district_code(code: str) -> bool:
    return code == "" or _DISTRICT_CODE.fullmatch(code) is not None


def check_ward_code(code: str) -> bool:
    return code == "" or _WARD_CODE.fullmatch(code) is not None


class Gender(StrEnum):
    MALE = "MALE"
    FEMALE = "FEMALE"
    OTHER = "OTHER"


@dataclass(frozen=True)
class CitizenIdFacts:
    """What a 12-digit CCCD says about its holder (the last six digits are a serial number)."""

    province_code: str  # two-digit GSO code of the province of birth registration
    gender: Gender
    # A CCCD gives the exact year, so both bounds are equal; a range leaves room for ids that
    # only narrow it down.
    birth_year_low: int
    birth_year_high: int


def citizen_id_facts(cccd: str) -> CitizenIdFacts:
    """Decode a CCCD: "0" + province code, a century-and-gender digit, two digits of the year.

    The fourth digit counts up from 0 in pairs per century, male then female: 0/1 for 1900-1999,
    2/3 for the 2000s, and so on to 8/9 for the 2300s. Raises ContactError for anything that is
    not a well-formed CCCD, including a 9-digit CMND, which encodes none of this.
    """
    national_id = normalise_national_id(cccd)  # checks the province prefix
    if national_id.legacy:
        raise ContactError("a 9-digit CMND encodes no province, gender or birth year; only a 12-digit CCCD does")
    digits = national_id.value  # ASCII digits only: normalise_national_id refuses "٣" or "²"
    century_and_gender = int(digits[3])
    year = 1900 + 100 * (century_and_gender // 2) + int(digits[4:6])
    gender = Gender.FEMALE if century_and_gender % 2 else Gender.MALE
    return CitizenIdFacts(province_code=digits[1:3], gender=gender, birth_year_low=year, birth_year_high=year)


def citizen_id_problems(cccd: str, *, date_of_birth: date | None, gender: Gender | None) -> list[str]:
    """Where a CCCD disagrees with the date of birth and gender on record; empty when consistent.

    Catches ids keyed against the wrong customer. Only the year of birth is encoded, and only
    MALE/FEMALE are compared, since the id records no other gender. A 9-digit CMND encodes
    nothing to compare, so it has no problems here; a malformed id or an unknown province has.
    """
    try:
        if normalise_national_id(cccd).legacy:
            return []
        facts = citizen_id_facts(cccd)
    except ContactError as exc:
        return [str(exc)]
    problems: list[str] = []
    if date_of_birth is not None and not facts.birth_year_low <= date_of_birth.year <= facts.birth_year_high:
        problems.append(f"citizen id gives birth year {facts.birth_year_low}, but the date of birth is {date_of_birth.isoformat()}")
    if gender in (Gender.MALE, Gender.FEMALE) and gender != facts.gender:
        problems.append(f"citizen id is for a {facts.gender.lower()} holder, but the gender is {gender.lower()}")
    return problems

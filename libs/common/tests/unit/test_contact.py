"""Normalisation tables for Vietnamese contact data."""

import pytest

from crm_common.contact import (
    ContactError,
    NationalId,
    fold,
    mask_email,
    mask_name,
    mask_national_id,
    mask_phone,
    normalise_email,
    normalise_name,
    normalise_national_id,
    normalise_phone,
)


@pytest.mark.parametrize(
    "raw",
    ["0912345678", "0912 345 678", "0912.345.678", "84912345678", "+84912345678", "+84 912 345 678", "(+84) 912-345-678", "0084912345678"],
)
def test_every_common_form_of_a_mobile_number_becomes_e164(raw: str) -> None:
    phone = normalise_phone(raw)
    assert phone.e164 == "+84912345678"
    assert phone.is_mobile


@pytest.mark.parametrize("raw", ["0901234567", "0387654321", "0561234567", "0701234567", "0812345678"])
def test_current_mobile_prefixes_are_mobile(raw: str) -> None:
    assert normalise_phone(raw).is_mobile


def test_landline_is_valid_but_not_mobile() -> None:
    phone = normalise_phone("024 3825 1234")
    assert phone.e164 == "+842438251234" and not phone.is_mobile


@pytest.mark.parametrize(
    ("raw", "today"),
    [
        ("0168 123 4567", "+84381234567"),
        ("+84 168 123 4567", "+84381234567"),
        ("841681234567", "+84381234567"),
        ("01201234567", "+84701234567"),
        ("0127.123.4567", "+84811234567"),
        ("01991234567", "+84591234567"),
    ],
)
def test_legacy_eleven_digit_mobiles_become_todays_numbers(raw: str, today: str) -> None:
    phone = normalise_phone(raw)
    assert phone.e164 == today and phone.is_mobile


@pytest.mark.parametrize("raw", ["", "12345", "0123456789", "abc", "09123456789012"])
def test_invalid_phones_are_refused(raw: str) -> None:
    with pytest.raises(ContactError):
        normalise_phone(raw)


def test_email_is_validated_and_lower_cased() -> None:
    assert normalise_email("  An.Nguyen@Example.COM ") == "an.nguyen@example.com"
    for bad in ["", "no-at-sign", "a@", "@b.vn", "a b@c.vn"]:
        with pytest.raises(ContactError):
            normalise_email(bad)


def test_names_are_nfc_trimmed_and_keep_diacritics() -> None:
    decomposed = "Nguye\u0302\u0303n"  # "Nguyễn" typed with combining marks
    assert normalise_name(f"  {decomposed}   Văn  An ") == "Nguyễn Văn An"
    assert fold("Nguyễn Văn Đức") == "nguyen van duc"


def test_national_ids() -> None:
    assert normalise_national_id("079 203 012 345").value == "079203012345"
    assert normalise_national_id("123456789").legacy
    for bad in ["12345", "000123456789", "97912345678A", "1234567890"]:
        with pytest.raises(ContactError):
            normalise_national_id(bad)


@pytest.mark.parametrize("cccd", ["001099012345", "002099012345", "015099012345", "077099012345", "079301012345", "096099012345"])
def test_cccd_of_every_kind_of_province_is_accepted(cccd: str) -> None:
    # Hà Nội, merged away (Hà Giang, Bà Rịa - Vũng Tàu), renamed (Yên Bái → Lào Cai), HCMC, the last code.
    assert normalise_national_id(cccd) == NationalId(cccd, legacy=False)


@pytest.mark.parametrize("cccd", ["003099012345", "013099012345", "050099012345", "097099012345", "099099012345", "101099012345", "779099012345"])
def test_cccd_must_start_with_0_and_a_known_province_code(cccd: str) -> None:
    # Within the old 001-096 range too: 03, 13 and 50 are gaps in the GSO list.
    with pytest.raises(ContactError, match=f"CCCD starts with {cccd[:3]}, not 0 \\+ a known province code"):
        normalise_national_id(cccd)


def test_masks_hide_all_but_the_edges() -> None:
    assert mask_phone("+84912345678") == "+849*****678"
    assert mask_email("an.nguyen@example.com") == "a***@example.com"
    assert mask_national_id("079203012345") == "********2345"


def test_masked_names_keep_initials_only() -> None:
    assert mask_name("Nguyễn Văn An") == "N*** V*** A***"
    assert mask_name("  Lê  ") == "L***"
    assert mask_name("") == ""

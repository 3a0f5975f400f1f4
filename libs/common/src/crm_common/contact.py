"""Normalising and validating the contact data a Vietnamese retail bank receives.

Phones: any common Vietnamese form (0912 345 678, 84912345678, +84-912-345-678, (+84) 912...)
becomes E.164 (+84912345678) via Google's libphonenumber; mobile numbers are told apart from
landlines. Emails are validated (syntax only; no DNS look-ups in a request path) and lower-cased.
Names are trimmed, inner spaces collapsed and put in Unicode NFC, with diacritics kept; a
folded form (no diacritics, lower case) serves search and matching.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

import phonenumbers
from email_validator import EmailNotValidError, validate_email
from phonenumbers import PhoneNumberType

DEFAULT_REGION = "VN"
_SEPARATORS = re.compile(r"[\s.\-()/]+")
_SPACES = re.compile(r"\s+")


class ContactError(ValueError):
    """A contact value that cannot be accepted; the message says why, for a field violation."""


@dataclass(frozen=True)
class NormalisedPhone:
    e164: str
    is_mobile: bool


# In 2018 Vietnam moved 11-digit mobile numbers to 10 digits; old records and customers still
# use the old prefixes (0168 xxx xxxx is now 038 xxx xxxx).
LEGACY_MOBILE_PREFIXES = {
    "162": "32",
    "163": "33",
    "164": "34",
    "165": "35",
    "166": "36",
    "167": "37",
    "168": "38",
    "169": "39",  # Viettel
    "120": "70",
    "121": "79",
    "122": "77",
    "126": "76",
    "128": "78",  # MobiFone
    "123": "83",
    "124": "84",
    "125": "85",
    "127": "81",
    "129": "82",  # VinaPhone
    "186": "56",
    "188": "58",  # Vietnamobile
    "199": "59",  # Gmobile
}


def _modernise(text: str) -> str:
    """0168 123 4567 / +84 168 123 4567 → the 10-digit number the subscriber has today."""
    national = text.removeprefix("+84") if text.startswith("+84") else text.removeprefix("0") if text.startswith("0") else None
    if national is not None and len(national) == 10 and national[:3] in LEGACY_MOBILE_PREFIXES:
        return "+84" + LEGACY_MOBILE_PREFIXES[national[:3]] + national[3:]
    return text


def normalise_phone(raw: str, region: str = DEFAULT_REGION) -> NormalisedPhone:
    text = _SEPARATORS.sub("", raw.strip())
    if not text:
        raise ContactError("empty phone number")
    if text.startswith("00"):
        text = "+" + text[2:]
    # "84912345678" without the plus is common in Vietnamese data exports.
    if text.startswith("84") and len(text) in (11, 12) and not text.startswith("840"):
        text = "+" + text
    text = _modernise(text)
    try:
        parsed = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        raise ContactError("not a phone number") from None
    if not phonenumbers.is_valid_number(parsed):
        raise ContactError("not a valid phone number for its country")
    number_type = phonenumbers.number_type(parsed)
    return NormalisedPhone(
        e164=phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164),
        is_mobile=number_type in (PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE_OR_MOBILE),
    )


def normalise_email(raw: str) -> str:
    text = raw.strip()
    if not text:
        raise ContactError("empty email")
    try:
        result = validate_email(text, check_deliverability=False)
    except EmailNotValidError as exc:
        raise ContactError(str(exc)) from None
    return result.normalized.lower()


def normalise_name(raw: str) -> str:
    return _SPACES.sub(" ", unicodedata.normalize("NFC", raw)).strip()


def fold(text: str) -> str:
    """Lower case without diacritics ('Nguyễn Văn Đức' → 'nguyen van duc'), for search."""
    decomposed = unicodedata.normalize("NFD", text.replace("Đ", "D").replace("đ", "d"))
    stripped = "".join(ch for ch in decomposed if unicodedata.category(ch) != "Mn")
    return _SPACES.sub(" ", stripped).strip().lower()


@dataclass(frozen=True)
class NationalId:
    value: str
    legacy: bool  # a 9-digit CMND rather than a 12-digit CCCD


def normalise_national_id(raw: str) -> NationalId:
    # Imported here, not at the top: crm_common.vietnam builds on this module (ContactError).
    from crm_common.vietnam import PROVINCES

    digits = re.sub(r"[\s.\-]", "", raw)
    if not (digits.isascii() and digits.isdigit()):
        raise ContactError("national id must contain digits only")
    if len(digits) == 12:
        # First three digits of a CCCD: "0" + the GSO code of the province of birth registration.
        if digits[0] != "0" or digits[1:3] not in PROVINCES:
            raise ContactError(f"CCCD starts with {digits[:3]}, not 0 + a known province code (001 Hà Nội, 079 Hồ Chí Minh, ...)")
        # Fourth digit: century and gender (0-9 all used across 1900-2399).
        return NationalId(digits, legacy=False)
    if len(digits) == 9:
        return NationalId(digits, legacy=True)
    raise ContactError("national id must be a 12-digit CCCD or a 9-digit CMND")


def mask_phone(e164: str) -> str:
    return e164[:4] + "*" * max(len(e164) - 7, 0) + e164[-3:] if len(e164) > 7 else "*" * len(e164)


def mask_email(email: str) -> str:
    local, _, domain = email.partition("@")
    return (local[:1] + "***@" + domain) if domain else "***"


def mask_national_id(value: str) -> str:
    return "*" * max(len(value) - 4, 0) + value[-4:]


# What a caller without pii.read sees instead of free text that may hold personal data (notes).
MASKED_TEXT = "(hidden)"


def mask_text(text: str) -> str:
    """Free text withheld whole: no prefix of it is safe, a note may start with the person's name."""
    return MASKED_TEXT if text else ""


def mask_name(name: str) -> str:
    """'Nguyễn Văn An' → 'N*** V*** A***': enough to tell records apart, not to name the person."""
    return " ".join(word[:1] + "***" for word in name.split())

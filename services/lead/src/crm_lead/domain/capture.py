"""Turning what a caller sent into a clean lead: validation and normalisation of every field."""

from __future__ import annotations

from dataclasses import dataclass, field

from crm_common.contact import ContactError, normalise_email, normalise_name, normalise_national_id, normalise_phone
from crm_common.errors import FieldViolation, echo
from crm_lead.domain.model import Source

MAX_NAME = 200
MAX_NOTE = 2000
MAX_URL = 2000
MAX_ID = 100
# Two-digit codes of Vietnam's provinces and centrally-run cities (before the 2025 merger, as
# most bank systems still key them) — 01..96 with the gaps of the official list.
PROVINCE_CODES = frozenset(
    f"{n:02d}"
    for n in (
        1,
        2,
        4,
        6,
        8,
        10,
        11,
        12,
        14,
        15,
        17,
        19,
        20,
        22,
        24,
        25,
        26,
        27,
        30,
        31,
        33,
        34,
        35,
        36,
        37,
        38,
        40,
        42,
        44,
        45,
        46,
        48,
        49,
        51,
        52,
        54,
        56,
        58,
        60,
        62,
        64,
        66,
        67,
        68,
        70,
        72,
        74,
        75,
        77,
        79,
        80,
        82,
        83,
        84,
        86,
        87,
        89,
        91,
        92,
        93,
        94,
        95,
        96,
    )
)
CURRENCIES = frozenset({"VND", "USD", "EUR"})


@dataclass
class LeadDraft:
    """A lead as the caller sent it; names of fields match the API (contact.phone, ...)."""

    full_name: str = ""
    phone: str = ""
    email: str = ""
    national_id: str = ""
    province_code: str = ""
    product_interest: str = ""
    source: Source = field(default_factory=Source)
    requested_amount_minor: int | None = None
    currency: str = ""
    marketing_consent: bool = False
    note: str = ""


@dataclass
class CleanLead:
    full_name: str
    phone_e164: str
    phone_is_mobile: bool
    email: str
    national_id: str
    province_code: str
    product_interest: str
    source: Source
    requested_amount_minor: int | None
    currency: str
    marketing_consent: bool
    note: str


def clean(draft: LeadDraft) -> tuple[CleanLead | None, list[FieldViolation]]:
    """Validates every field, collecting all violations; returns the clean lead when there are none."""
    violations: list[FieldViolation] = []

    def bad(path: str, why: str) -> None:
        violations.append(FieldViolation(path, why))

    name = normalise_name(draft.full_name)
    if len(name) > MAX_NAME:
        bad("contact.full_name", f"at most {MAX_NAME} characters")
    phone_e164, is_mobile = "", False
    if draft.phone.strip():
        try:
            phone = normalise_phone(draft.phone)
            phone_e164, is_mobile = phone.e164, phone.is_mobile
        except ContactError as exc:
            bad("contact.phone", str(exc))
    email = ""
    if draft.email.strip():
        try:
            email = normalise_email(draft.email)
        except ContactError as exc:
            bad("contact.email", str(exc))
    if not draft.phone.strip() and not draft.email.strip():
        bad("contact", "a phone or an email is required")
    national_id = ""
    if draft.national_id.strip():
        try:
            national_id = normalise_national_id(draft.national_id).value
        except ContactError as exc:
            bad("contact.national_id", str(exc))
    province = draft.province_code.strip()
    if province and province not in PROVINCE_CODES:
        bad("contact.province_code", f"unknown province code {echo(province)}")
    if not draft.source.channel:
        bad("source.channel", "required")
    for path, value, limit in (
        ("source.landing_page_url", draft.source.landing_page_url, MAX_URL),
        ("source.referrer_url", draft.source.referrer_url, MAX_URL),
        ("source.campaign_id", draft.source.campaign_id, MAX_ID),
        ("source.cookie_id", draft.source.cookie_id, MAX_ID),
        ("source.partner_id", draft.source.partner_id, MAX_ID),
        ("note", draft.note, MAX_NOTE),
    ):
        if len(value) > limit:
            bad(path, f"at most {limit} characters")
    currency = ""
    if draft.requested_amount_minor is not None:
        currency = (draft.currency or "VND").upper()
        if draft.requested_amount_minor < 0:
            bad("requested_amount.amount_minor", "must not be negative")
        if currency not in CURRENCIES:
            bad("requested_amount.currency_code", f"unsupported currency {echo(currency)}")
    if violations:
        return None, violations
    return (
        CleanLead(
            full_name=name,
            phone_e164=phone_e164,
            phone_is_mobile=is_mobile,
            email=email,
            national_id=national_id,
            province_code=province,
            product_interest=draft.product_interest,
            source=draft.source,
            requested_amount_minor=draft.requested_amount_minor,
            currency=currency,
            marketing_consent=draft.marketing_consent,
            note=draft.note.strip(),
        ),
        [],
    )

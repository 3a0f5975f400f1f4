"""Turning what a caller sent into clean person data: every field validated and normalised.

Field names in violations are the API's (full_name, phone, ...), so a caller can point at the
input at fault. Every problem is reported at once, never only the first.
"""

from __future__ import annotations

from dataclasses import dataclass

from crm_account.domain.model import ContactKeys
from crm_common.contact import ContactError, normalise_email, normalise_name, normalise_national_id, normalise_phone
from crm_common.errors import FieldViolation

MAX_NAME = 200
MAX_ID = 100
NEEDS_A_KEY = "one of phone, email or national_id is required"


@dataclass(frozen=True)
class PersonDraft:
    """A person as the caller sent it."""

    full_name: str = ""
    phone: str = ""
    email: str = ""
    national_id: str = ""
    owner_id: str = ""
    source_lead_id: str = ""


@dataclass(frozen=True)
class Person:
    full_name: str
    keys: ContactKeys
    owner_id: str
    source_lead_id: str


def clean_keys(phone: str, email: str, national_id: str, violations: list[FieldViolation]) -> ContactKeys:
    """Normalises the contact keys given; a bad one adds a violation and counts as absent."""
    keys = {"phone_e164": "", "email": "", "national_id": ""}
    if phone.strip():
        try:
            keys["phone_e164"] = normalise_phone(phone).e164
        except ContactError as exc:
            violations.append(FieldViolation("phone", str(exc)))
    if email.strip():
        try:
            keys["email"] = normalise_email(email)
        except ContactError as exc:
            violations.append(FieldViolation("email", str(exc)))
    if national_id.strip():
        try:
            keys["national_id"] = normalise_national_id(national_id).value
        except ContactError as exc:
            violations.append(FieldViolation("national_id", str(exc)))
    if not (phone.strip() or email.strip() or national_id.strip()):
        violations.extend(FieldViolation(field, NEEDS_A_KEY) for field in ("phone", "email", "national_id"))
    return ContactKeys(**keys)


def _short_id(field: str, value: str, violations: list[FieldViolation]) -> str:
    value = value.strip()
    if len(value) > MAX_ID:
        violations.append(FieldViolation(field, f"at most {MAX_ID} characters"))
    return value


def clean_person(draft: PersonDraft) -> tuple[Person | None, list[FieldViolation]]:
    """The clean person, or None and every violation found."""
    violations: list[FieldViolation] = []
    full_name = normalise_name(draft.full_name)
    if not full_name:
        violations.append(FieldViolation("full_name", "required"))
    elif len(full_name) > MAX_NAME:
        violations.append(FieldViolation("full_name", f"at most {MAX_NAME} characters"))
    keys = clean_keys(draft.phone, draft.email, draft.national_id, violations)
    owner_id = _short_id("owner_id", draft.owner_id, violations)
    source_lead_id = _short_id("source_lead_id", draft.source_lead_id, violations)
    if violations:
        return None, violations
    return Person(full_name, keys, owner_id, source_lead_id), []

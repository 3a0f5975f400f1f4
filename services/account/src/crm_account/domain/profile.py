"""Turning what a caller sent into a clean profile: every field validated and normalised.

Field names in violations are the API's (AccountInput: full_name, phones[1], address.province_code,
...), so a caller can point at the input at fault. Every problem is reported at once.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, fields
from datetime import date
from enum import StrEnum
from typing import TypeVar

from crm_account.domain.model import (
    AccountType,
    Address,
    BusinessProfile,
    ContactChannel,
    ContactKeys,
    ContactWindow,
    DayOfWeek,
    IncomeBand,
    LifecycleStage,
    Profile,
)
from crm_common.contact import ContactError, normalise_email, normalise_name, normalise_national_id, normalise_phone
from crm_common.errors import FieldViolation
from crm_common.vietnam import Gender, check_district_code, check_ward_code, citizen_id_problems, province

MAX_NAME = 200
MAX_ID = 100
MAX_TEXT = 300
MAX_CONTACT_POINTS = 5
MAX_WINDOWS = 7
OLDEST_AGE_YEARS = 120
LANGUAGES = ("vi", "en")
NEEDS_A_KEY = "a phone, an email or a national id is required"
_TAX_CODE = re.compile(r"^[0-9]{10}(-[0-9]{3})?$")
_MINUTES_A_DAY = 24 * 60
E = TypeVar("E", bound=StrEnum)

# What UpdateAccount may change: every AccountInput field but the type.
UPDATABLE_FIELDS = frozenset(
    {
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
        "business",
    }
)


@dataclass(frozen=True)
class WindowDraft:
    days: tuple[int, ...] = ()
    start_minute: int = 0
    end_minute: int = 0


@dataclass(frozen=True)
class AccountDraft:
    """An account as the caller sent it; enums as names ('' when unset, '?' when unknown)."""

    type: str = ""
    full_name: str = ""
    gender: str = ""
    date_of_birth: tuple[int, int, int] | None = None
    national_id: str = ""
    phones: tuple[str, ...] = ()
    emails: tuple[str, ...] = ()
    address: Address = field(default_factory=Address)
    occupation: str = ""
    income_band: str = ""
    preferred_language: str = ""
    preferred_channel: str = ""
    best_contact_times: tuple[WindowDraft, ...] = ()
    lifecycle_stage: str = ""
    owner_id: str = ""
    branch_id: str = ""
    business: BusinessProfile | None = None
    territory_id: str = ""

    def taking(self, other: AccountDraft, names: frozenset[str]) -> AccountDraft:
        """This draft with the `names` fields of `other` (an update over the stored profile)."""
        return AccountDraft(**{f.name: getattr(other if f.name in names else self, f.name) for f in fields(self)})


def draft_of(profile: Profile) -> AccountDraft:
    """The stored profile as a draft, so an update is cleaned as the whole profile it yields."""
    dob = profile.date_of_birth
    return AccountDraft(
        type=str(profile.account_type),
        full_name=profile.full_name,
        gender=str(profile.gender or ""),
        date_of_birth=(dob.year, dob.month, dob.day) if dob else None,
        national_id=profile.national_id,
        phones=profile.phones,
        emails=profile.emails,
        address=profile.address,
        occupation=profile.occupation,
        income_band=str(profile.income_band or ""),
        preferred_language=profile.preferred_language,
        preferred_channel=str(profile.preferred_channel or ""),
        best_contact_times=tuple(WindowDraft(tuple(int(d) for d in w.days), w.start_minute, w.end_minute) for w in profile.best_contact_times),
        lifecycle_stage=str(profile.lifecycle_stage),
        owner_id=profile.owner_id,
        branch_id=profile.branch_id,
        business=profile.business,
        territory_id=profile.territory_id,
    )


class _Cleaner:
    def __init__(self) -> None:
        self.violations: list[FieldViolation] = []

    def fail(self, name: str, description: str) -> None:
        self.violations.append(FieldViolation(name, description))

    def text(self, name: str, value: str, limit: int) -> str:
        value = normalise_name(value)
        if len(value) > limit:
            self.fail(name, f"at most {limit} characters")
        return value


def _enum(cleaner: _Cleaner, name: str, value: str, kind: type[E]) -> E | None:
    if not value:
        return None
    try:
        return kind(value)
    except ValueError:
        cleaner.fail(name, "unknown value")
        return None


def _phones(cleaner: _Cleaner, raw: tuple[str, ...]) -> tuple[str, ...]:
    found: list[str] = []
    for i, text in enumerate(raw):
        try:
            e164 = normalise_phone(text).e164
        except ContactError as exc:
            cleaner.fail(f"phones[{i}]", str(exc))
            continue
        if e164 not in found:
            found.append(e164)
    if len(found) > MAX_CONTACT_POINTS:
        cleaner.fail("phones", f"at most {MAX_CONTACT_POINTS} phones")
    return tuple(found)


def _emails(cleaner: _Cleaner, raw: tuple[str, ...]) -> tuple[str, ...]:
    found: list[str] = []
    for i, text in enumerate(raw):
        try:
            email = normalise_email(text)
        except ContactError as exc:
            cleaner.fail(f"emails[{i}]", str(exc))
            continue
        if email not in found:
            found.append(email)
    if len(found) > MAX_CONTACT_POINTS:
        cleaner.fail("emails", f"at most {MAX_CONTACT_POINTS} emails")
    return tuple(found)


def _years_before(today: date, years: int) -> date:
    try:
        return today.replace(year=today.year - years)
    except ValueError:  # 29 February
        return today.replace(year=today.year - years, day=28)


def _date_of_birth(cleaner: _Cleaner, raw: tuple[int, int, int] | None, today: date) -> date | None:
    if raw is None:
        return None
    try:
        born = date(*raw)
    except ValueError:
        cleaner.fail("date_of_birth", "not a calendar date")
        return None
    if born > today:
        cleaner.fail("date_of_birth", "in the future")
    elif born < _years_before(today, OLDEST_AGE_YEARS):
        cleaner.fail("date_of_birth", f"more than {OLDEST_AGE_YEARS} years ago")
    return born


def _address(cleaner: _Cleaner, raw: Address) -> Address:
    line = cleaner.text("address.line", raw.line, MAX_TEXT)
    codes = {name: getattr(raw, name).strip() for name in ("ward_code", "district_code", "province_code")}
    if codes["province_code"] and province(codes["province_code"]) is None:
        cleaner.fail("address.province_code", "unknown province code")
    if (line or codes["ward_code"] or codes["district_code"]) and not codes["province_code"]:
        cleaner.fail("address.province_code", "required when an address is given")
    if not check_district_code(codes["district_code"]):
        cleaner.fail("address.district_code", "a district code has 3 digits")
    if not check_ward_code(codes["ward_code"]):
        cleaner.fail("address.ward_code", "a ward code has 5 digits")
    return Address(line=line, **codes)


def _windows(cleaner: _Cleaner, raw: tuple[WindowDraft, ...]) -> tuple[ContactWindow, ...]:
    if len(raw) > MAX_WINDOWS:
        cleaner.fail("best_contact_times", f"at most {MAX_WINDOWS} windows")
    windows = []
    for i, window in enumerate(raw):
        name = f"best_contact_times[{i}]"
        days: list[DayOfWeek] = []
        for day in window.days:
            if day not in DayOfWeek._value2member_map_:
                cleaner.fail(f"{name}.days", "unknown day")
            elif DayOfWeek(day) not in days:
                days.append(DayOfWeek(day))
        if not window.days:
            cleaner.fail(f"{name}.days", "required")
        if not 0 <= window.start_minute < window.end_minute <= _MINUTES_A_DAY:
            cleaner.fail(name, "needs 0 <= start_minute < end_minute <= 1440")
        windows.append(ContactWindow(tuple(sorted(days)), window.start_minute, window.end_minute))
    return tuple(windows)


def _person_identity(cleaner: _Cleaner, draft: AccountDraft, today: date) -> tuple[Gender | None, date | None, str, bool]:
    gender = _enum(cleaner, "gender", draft.gender, Gender)
    born = _date_of_birth(cleaner, draft.date_of_birth, today)
    national_id, legacy = "", False
    if draft.national_id.strip():
        try:
            nid = normalise_national_id(draft.national_id)
            national_id, legacy = nid.value, nid.legacy
        except ContactError as exc:
            cleaner.fail("national_id", str(exc))
    if national_id and not legacy:
        for problem in citizen_id_problems(national_id, date_of_birth=born, gender=gender):
            cleaner.fail("national_id", problem)
    return gender, born, national_id, legacy


def _business(cleaner: _Cleaner, raw: BusinessProfile | None) -> BusinessProfile:
    raw = raw or BusinessProfile()
    tax_code = raw.tax_code.strip()
    if not tax_code:
        cleaner.fail("business.tax_code", "required for a business account")
    elif not _TAX_CODE.match(tax_code):
        cleaner.fail("business.tax_code", "10 digits, or 10 digits + '-' + 3 for a branch")
    return BusinessProfile(tax_code=tax_code, industry=cleaner.text("business.industry", raw.industry, MAX_ID))


def clean_profile(draft: AccountDraft, today: date) -> tuple[Profile | None, list[FieldViolation]]:
    """The clean profile, or None and every violation found."""
    cleaner = _Cleaner()
    account_type = _enum(cleaner, "type", draft.type, AccountType) or AccountType.PERSON
    full_name = cleaner.text("full_name", draft.full_name, MAX_NAME)
    if not full_name:
        cleaner.fail("full_name", "required")
    phones, emails = _phones(cleaner, draft.phones), _emails(cleaner, draft.emails)
    business = None
    if account_type is AccountType.PERSON:
        gender, born, national_id, legacy = _person_identity(cleaner, draft, today)
        if draft.business is not None:
            cleaner.fail("business", "only for business accounts")
        if not (draft.phones or draft.emails or draft.national_id.strip()):
            for name in ("phones", "emails", "national_id"):
                cleaner.fail(name, NEEDS_A_KEY)
    else:
        gender, born, national_id, legacy = None, None, "", False
        for name in ("gender", "date_of_birth", "national_id"):
            if getattr(draft, name):
                cleaner.fail(name, "only for person accounts")
        business = _business(cleaner, draft.business)
    language = draft.preferred_language.strip().lower() or "vi"
    if language not in LANGUAGES:
        cleaner.fail("preferred_language", f"one of {', '.join(LANGUAGES)}")
    profile = Profile(
        account_type=account_type,
        full_name=full_name,
        gender=gender,
        date_of_birth=born,
        national_id=national_id,
        national_id_legacy=legacy,
        phones=phones,
        emails=emails,
        address=_address(cleaner, draft.address),
        occupation=cleaner.text("occupation", draft.occupation, MAX_ID),
        income_band=_enum(cleaner, "income_band", draft.income_band, IncomeBand),
        preferred_language=language,
        preferred_channel=_enum(cleaner, "preferred_channel", draft.preferred_channel, ContactChannel),
        best_contact_times=_windows(cleaner, draft.best_contact_times),
        lifecycle_stage=_enum(cleaner, "lifecycle_stage", draft.lifecycle_stage, LifecycleStage) or LifecycleStage.PROSPECT,
        owner_id=cleaner.text("owner_id", draft.owner_id, MAX_ID),
        branch_id=cleaner.text("branch_id", draft.branch_id, MAX_ID),
        business=business,
        territory_id=cleaner.text("territory_id", draft.territory_id, MAX_ID),
    )
    if cleaner.violations:
        return None, cleaner.violations
    return profile, []


def clean_keys(phone: str, email: str, national_id: str, violations: list[FieldViolation]) -> ContactKeys:
    """Normalises lookup keys; a bad one adds a violation (named as the search field) and counts as absent."""
    keys = {"phone_e164": "", "email": "", "national_id": ""}
    for name, key, normalise in (
        ("phone", "phone_e164", lambda v: normalise_phone(v).e164),
        ("email", "email", normalise_email),
        ("national_id", "national_id", lambda v: normalise_national_id(v).value),
    ):
        value = {"phone": phone, "email": email, "national_id": national_id}[name]
        if value.strip():
            try:
                keys[key] = normalise(value)
            except ContactError as exc:
                violations.append(FieldViolation(name, str(exc)))
    return ContactKeys(**keys)

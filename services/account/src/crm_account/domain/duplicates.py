"""Finding duplicate accounts and merging two of them into one golden record.

Scoring (`assess_pair`, `score_pair`): every rule that fires adds a reason, so a data steward sees
why two accounts were paired. Reasons mask PII (`+849*****678`, `h***@example.com`,
`********2345`): they are shown in review queues and logged.

| Evidence (two persons)                          | Effect on the score                            |
|-------------------------------------------------|------------------------------------------------|
| same national id                                | 100, certain; 90 if both dates of birth are    |
|                                                 | known and differ (a keying error on one side)  |
| different national ids, both known              | at most 40 whatever else matches: two people   |
|   ... but one a 9-digit CMND, the other a CCCD  | none: a CCCD replaced the CMND, with a new     |
|                                                 | number, so they may be one person              |
| shares a phone (any of either side's)           | +45                                            |
| shares an email                                 | +35                                            |
| names match (folded, token_sort_ratio >= 95)    | +30                                            |
| names similar (>= 85, or a middle name missing) | +20                                            |
| same date of birth                              | +25                                            |
| names >= 90 and same date of birth              | at least 85                                    |
| names not similar                               | at most 84: phones and emails are shared in a  |
|                                                 | household, so contact points alone never make  |
|                                                 | a likely duplicate (parents, children, twins)  |
| dates of birth known and different              | at most 84: a typo, or a father and son of the |
|                                                 | same name; a person must decide                |

Names are compared folded (no diacritics, lower case) because legacy systems and SMS drop the
diacritics. A Vietnamese name is family, middle(s), given name, and a family shares the first
two: "Nguyễn Văn An" and "Nguyễn Văn Bình" score 85 on the whole string. So names only count as
similar when the given names agree too (equal, a one-letter slip in a long name, or the same
tokens in Western order, "Văn An Nguyễn"). Two names with the same family and given name where
one lacks the middle name ("Nguyễn Thị Hồng", "Nguyễn Hồng") count as similar.

Businesses pair only with businesses, and the tax code decides: same tax code 100, different
ones at most 40 (a branch "0312345678-001" is a taxpayer of its own). A person never pairs with a
business. Scores are clamped to 0-100. Levels: "likely" (>= LIKELY, 85: a steward confirms the merge),
"possible" (>= POSSIBLE, 60: a steward reviews), "weak" below. `score_pair` drops pairs below
FLOOR (50), so it never returns two different ids; weak pairs it returns are kept for a
steward's search, not queued for review.

Blocking (`candidate_keys`): scoring every pair of a million accounts is 5 * 10^11 comparisons,
so a new or changed account is only compared with the few accounts that share at least one
exact key with it, each served by an index: the national id (or tax code), each phone, each
email, and a name + date of birth key (folded family name | first letter of the folded given
name | ISO date, "nguyen|a|1990-01-01"). The last catches the same person with no contact point
in common; it tolerates diacritics, a missing middle name and a typo inside the given name, not
a wrong family name or initial (those still meet through a phone, an email or an id).

Survivorship (`plan_merge`): the rules per field are in `plan_merge`'s docstring.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Literal, TypeVar

from rapidfuzz import fuzz

from crm_account.domain.model import (
    Account,
    AccountType,
    Acquisition,
    Address,
    BusinessProfile,
    LifecycleStage,
    Profile,
    ValueTier,
)
from crm_account.domain.profile import MAX_CONTACT_POINTS
from crm_common.contact import ContactError, fold, mask_email, mask_national_id, mask_phone
from crm_common.errors import FailedPrecondition
from crm_common.vietnam import Gender, citizen_id_facts

LIKELY = 85
POSSIBLE = 60
FLOOR = 50
CERTAIN = 100
SAME_ID_DIFFERENT_BIRTH = 90
DIFFERENT_IDS_CAP = 40
PHONE_POINTS = 45
EMAIL_POINTS = 35
NAME_MATCH, NAME_MATCH_POINTS = 95, 30
NAME_SIMILAR, NAME_SIMILAR_POINTS = 85, 20
NAME_WITH_BIRTH = 90
BIRTH_POINTS = 25
# A slip in a long given name ("thanhh") passes, a different short name ("an", "anh") does not.
GIVEN_NAME_SLIP = 90

# Merging keeps the most engaged stage. Holding a product now beats having held one; having been
# a customer (DORMANT, CLOSED) beats never having been one, which also keeps the model's rule
# that a former customer never becomes a PROSPECT again. CLOSED stays above PROSPECT so that a
# relationship the bank ended (an exit) is not hidden by a new prospect record: only a new
# product reopens it.
ENGAGEMENT = (LifecycleStage.ACTIVE, LifecycleStage.DORMANT, LifecycleStage.CLOSED, LifecycleStage.PROSPECT)

T = TypeVar("T")


@dataclass(frozen=True)
class DuplicateCandidate:
    account_id: str
    other_id: str
    score: int  # 0-100
    reasons: tuple[str, ...]

    @property
    def level(self) -> Literal["likely", "possible", "weak"]:
        if self.score >= LIKELY:
            return "likely"
        return "possible" if self.score >= POSSIBLE else "weak"


@dataclass(frozen=True)
class _Names:
    similarity: int  # token_sort_ratio of the folded names
    given_names_agree: bool
    middle_name_missing: bool

    @property
    def similar(self) -> bool:
        return self.given_names_agree and (self.similarity >= NAME_SIMILAR or self.middle_name_missing)


def _compare_names(a: str, b: str, *, persons: bool) -> _Names:
    ta, tb = fold(a).split(), fold(b).split()
    if not ta or not tb:
        return _Names(0, False, False)
    similarity = int(fuzz.token_sort_ratio(" ".join(ta), " ".join(tb)))  # floored: 84.6 is not 85
    if not persons:
        return _Names(similarity, True, False)
    ga, gb = ta[-1], tb[-1]
    agree = ga == gb or fuzz.ratio(ga, gb) >= GIVEN_NAME_SLIP or (ga in tb and gb in ta)
    shorter, longer = sorted((ta, tb), key=len)
    missing = len(shorter) < len(longer) and shorter[0] == longer[0] and shorter[-1] == longer[-1] and set(shorter) <= set(longer)
    return _Names(similarity, agree, missing)


def _is_cccd(profile: Profile) -> bool:
    return bool(profile.national_id) and not profile.national_id_legacy


def _identity(pa: Profile, pb: Profile, reasons: list[str]) -> Literal["same", "different", "unknown"]:
    """What the national ids (persons) or tax codes (businesses) say on their own."""
    if pa.account_type is AccountType.BUSINESS:
        ta, tb = (pa.business or BusinessProfile()).tax_code, (pb.business or BusinessProfile()).tax_code
        if not (ta and tb):
            return "unknown"
        if ta == tb:
            reasons.append(f"same tax code {mask_national_id(ta)}")
            return "same"
        reasons.append(f"different tax codes {mask_national_id(ta)} and {mask_national_id(tb)}: two businesses")
        return "different"
    na, nb = pa.national_id, pb.national_id
    if not (na and nb):
        return "unknown"
    if na == nb:
        reasons.append(f"same national id {mask_national_id(na)}")
        return "same"
    if pa.national_id_legacy != pb.national_id_legacy:
        reasons.append(f"a CMND {mask_national_id(na if pa.national_id_legacy else nb)} and a CCCD: may be the same person")
        return "unknown"
    reasons.append(f"different national ids {mask_national_id(na)} and {mask_national_id(nb)}: two people")
    return "different"


def assess_pair(a: Account, b: Account) -> DuplicateCandidate:
    """How likely `a` and `b` are one customer, with every reason; any score, for explaining."""
    if a.account_id == b.account_id:
        return DuplicateCandidate(a.account_id, b.account_id, 0, ("the same account",))
    pa, pb = a.profile, b.profile
    if pa.account_type is not pb.account_type:
        return DuplicateCandidate(a.account_id, b.account_id, 0, ("a person and a business are never one customer",))
    reasons: list[str] = []
    identity = _identity(pa, pb, reasons)
    score = 0
    phones = [p for p in pa.phones if p in pb.phones]
    if phones:
        score += PHONE_POINTS
        reasons.extend(f"shares phone {mask_phone(p)}" for p in phones)
    emails = [e for e in pa.emails if e in pb.emails]
    if emails:
        score += EMAIL_POINTS
        reasons.extend(f"shares email {mask_email(e)}" for e in emails)
    names = _compare_names(pa.full_name, pb.full_name, persons=pa.account_type is AccountType.PERSON)
    if names.similar and names.similarity >= NAME_MATCH:
        score += NAME_MATCH_POINTS
        reasons.append(f"names match ({names.similarity})")
    elif names.similar:
        score += NAME_SIMILAR_POINTS
        reasons.append("similar names (middle name missing)" if names.similarity < NAME_SIMILAR else f"similar names ({names.similarity})")
    elif names.similarity >= NAME_SIMILAR:
        reasons.append(f"different given names ({names.similarity} on the whole name)")
    born_a, born_b = pa.date_of_birth, pb.date_of_birth
    births_differ = born_a is not None and born_b is not None and born_a != born_b
    if born_a is not None and born_a == born_b:
        score += BIRTH_POINTS
        reasons.append("same date of birth")
        if names.similar and names.similarity >= NAME_WITH_BIRTH and score < LIKELY:
            score = LIKELY
            reasons.append("name and date of birth agree")
    if identity == "same":
        score = CERTAIN
        if births_differ:
            score = SAME_ID_DIFFERENT_BIRTH
            reasons[0] += " but dates of birth differ"
    else:
        if births_differ:
            reasons.append("dates of birth differ")
        if score >= LIKELY and not names.similar:
            score = LIKELY - 1
            reasons.append("names differ: shared contact points alone stay below likely")
        if score >= LIKELY and births_differ:
            score = LIKELY - 1
            reasons.append("dates of birth differ: a person must decide")
        if identity == "different":
            score = min(score, DIFFERENT_IDS_CAP)
    return DuplicateCandidate(a.account_id, b.account_id, max(0, min(score, CERTAIN)), tuple(reasons))


def score_pair(a: Account, b: Account) -> DuplicateCandidate | None:
    """The pair as a duplicate candidate, or None when it scores below FLOOR."""
    candidate = assess_pair(a, b)
    return candidate if candidate.score >= FLOOR else None


def name_dob_key(full_name: str, date_of_birth: date | None) -> str:
    """The name + date of birth blocking key ("nguyen|a|1990-01-01"); '' when either is unknown."""
    tokens = fold(full_name).split()
    if not tokens or date_of_birth is None:
        return ""
    return f"{tokens[0]}|{tokens[-1][0]}|{date_of_birth.isoformat()}"


def candidate_keys(profile: Profile) -> dict[str, str]:
    """The exact keys to look candidates up by (see Blocking above), named as AccountInput fields."""
    keys: dict[str, str] = {}
    if profile.account_type is AccountType.BUSINESS:
        if profile.business and profile.business.tax_code:
            keys["business.tax_code"] = profile.business.tax_code
    elif profile.national_id:
        keys["national_id"] = profile.national_id
    keys.update({f"phones[{i}]": phone for i, phone in enumerate(profile.phones)})
    keys.update({f"emails[{i}]": email for i, email in enumerate(profile.emails)})
    if key := name_dob_key(profile.full_name, profile.date_of_birth):
        keys["name+dob"] = key
    return keys


@dataclass(frozen=True)
class MergePlan:
    """The golden record two accounts become; `field_sources` names the account each value came from.

    Keys of `field_sources` are Profile field names ("business.industry" for the business's) and
    "tier_override", "customer_since", "acquisition". For phones and emails, where both accounts
    may contribute, the source is "<survivor_id>+<merged_id>". What the cap on contact points
    left out is in `dropped_phones` / `dropped_emails`, for the steward to see.
    """

    survivor_id: str
    merged_id: str
    profile: Profile
    field_sources: dict[str, str]
    tier_override: ValueTier | None = None
    tier_override_reason: str = ""
    customer_since: datetime | None = None
    acquisition: Acquisition | None = None
    dropped_phones: tuple[str, ...] = ()
    dropped_emails: tuple[str, ...] = ()


def _empty(value: object) -> bool:
    return value is None or value in ("", ()) or value == Address()


class _Merger:
    """Picks values and remembers where each came from."""

    def __init__(self, survivor: Account, merged: Account) -> None:
        self.survivor, self.merged = survivor, merged
        # A tie goes to the survivor.
        self.newest, self.oldest = (merged, survivor) if merged.updated_at > survivor.updated_at else (survivor, merged)
        self.sources: dict[str, str] = {}

    def survivor_unless_empty(self, name: str, survivors: T, mergeds: T) -> T:
        use_merged = _empty(survivors) and not _empty(mergeds)
        self.sources[name] = (self.merged if use_merged else self.survivor).account_id
        return mergeds if use_merged else survivors

    def newest_non_empty(self, name: str, newests: T, oldests: T) -> T:
        use_oldest = _empty(newests) and not _empty(oldests)
        self.sources[name] = (self.oldest if use_oldest else self.newest).account_id
        return oldests if use_oldest else newests

    def union(self, name: str, survivors: tuple[str, ...], mergeds: tuple[str, ...]) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """(kept, dropped): the survivor's first, no repeats, at most MAX_CONTACT_POINTS kept."""
        values = list(dict.fromkeys(survivors + mergeds))
        kept, dropped = tuple(values[:MAX_CONTACT_POINTS]), tuple(values[MAX_CONTACT_POINTS:])
        contributors = [self.survivor.account_id] if survivors or not kept else []
        if any(v not in survivors for v in kept):
            contributors.append(self.merged.account_id)
        self.sources[name] = "+".join(contributors)
        return kept, dropped

    def earliest(self, name: str, moments: tuple[datetime | None, datetime | None]) -> Account | None:
        """The account with the earlier known moment (the survivor on a tie), or None when neither is known."""
        known = [(moment, account) for moment, account in zip(moments, (self.survivor, self.merged), strict=True) if moment is not None]
        if not known:
            self.sources[name] = self.survivor.account_id
            return None
        account = min(known, key=lambda pair: pair[0])[1]
        self.sources[name] = account.account_id
        return account


def _acquired_at(account: Account) -> datetime | None:
    return account.acquisition.acquired_at if account.acquisition else None


def _check_mergeable(survivor: Account, merged: Account) -> None:
    if survivor.account_id == merged.account_id:
        raise FailedPrecondition(f"cannot merge account {survivor.account_id} into itself")
    s, m = survivor.profile, merged.profile
    if s.account_type is not m.account_type:
        raise FailedPrecondition(
            f"cannot merge {m.account_type} account {merged.account_id} into {s.account_type} account {survivor.account_id}: "
            "a person and a business are never one customer"
        )
    if _is_cccd(s) and _is_cccd(m) and s.national_id != m.national_id:
        raise FailedPrecondition(
            f"different national ids: these are two people (accounts {survivor.account_id} and {merged.account_id} hold different CCCDs)"
        )
    st, mt = (s.business or BusinessProfile()).tax_code, (m.business or BusinessProfile()).tax_code
    if st and mt and st != mt:
        raise FailedPrecondition(f"different tax codes: these are two businesses (accounts {survivor.account_id} and {merged.account_id})")


def _national_id(merger: _Merger, s: Profile, m: Profile) -> tuple[str, bool]:
    """A CCCD beats a CMND whichever side holds it; otherwise the survivor's unless empty."""
    take_merged = bool(m.national_id) and (not s.national_id or (_is_cccd(m) and not _is_cccd(s)))
    merger.sources["national_id"] = (merger.merged if take_merged else merger.survivor).account_id
    return (m.national_id, m.national_id_legacy) if take_merged else (s.national_id, s.national_id_legacy)


def _full_name(merger: _Merger, s: str, m: str) -> str:
    """The survivor's, unless the merged one is the same name with the diacritics the survivor's lacks."""
    take_merged = s.isascii() and not m.isascii() and fold(s) == fold(m)
    merger.sources["full_name"] = (merger.merged if take_merged else merger.survivor).account_id
    return m if take_merged else s


def _check_citizen_id(merger: _Merger, national_id: str, legacy: bool, born: date | None, gender: Gender | None) -> None:
    """Each stored profile is consistent; mixing two must not pair a CCCD with another person's birth year or gender."""
    if not national_id or legacy:
        return
    try:
        facts = citizen_id_facts(national_id)
    except ContactError:
        return  # validated when stored: nothing the merge made worse
    wrong = []
    if born is not None and not facts.birth_year_low <= born.year <= facts.birth_year_high:
        wrong.append(f"date of birth (from account {merger.sources['date_of_birth']})")
    if gender in (Gender.MALE, Gender.FEMALE) and gender != facts.gender:
        wrong.append(f"gender (from account {merger.sources['gender']})")
    if wrong:
        raise FailedPrecondition(
            f"the CCCD kept (from account {merger.sources['national_id']}) does not match the {' or the '.join(wrong)}; "
            "correct one account before merging"
        )


def plan_merge(survivor: Account, merged: Account) -> MergePlan:
    """The golden record of `survivor` absorbing `merged`, field by field:

    - full name, date of birth, gender: the survivor's unless empty, then the merged one's. A name
      comes from the merged account only when it is the survivor's written with diacritics
      ("Nguyen Van An" → "Nguyễn Văn An"): legacy systems dropped them.
    - national id: a 12-digit CCCD beats a 9-digit CMND whichever side holds it (it replaced the
      CMND); otherwise the survivor's unless empty. Two different CMNDs may merge (a CMND got a
      new number when its holder moved province); two different CCCDs may not.
    - phones, emails: the union, the survivor's first (its primary stays primary), without
      repeats, at most MAX_CONTACT_POINTS; the rest is reported as dropped.
    - address, occupation, income band, preferred language and channel, contact windows, the
      business's industry: the non-empty value of the account updated last (`updated_at`; a tie
      goes to the survivor): it is what the customer told us most recently.
    - lifecycle stage: the most engaged, ACTIVE > DORMANT > CLOSED > PROSPECT (see ENGAGEMENT).
    - owner, branch: the survivor's unless empty (the relationship manager stays).
    - value tier override: the survivor's if it has one, else the merged one's, with its reason.
    - customer since: the earliest; acquisition: the earliest (first touch wins).

    Not here: consents (their own aggregate; every decision of both accounts is kept and the
    latest decides) and the derived tier (recomputed from the products of both).

    Raises FailedPrecondition for an account merged into itself, a person with a business, two
    different CCCDs or tax codes, and a CCCD kept from one side that contradicts the birth year
    or gender kept from the other.
    """
    _check_mergeable(survivor, merged)
    s, m = survivor.profile, merged.profile
    merger = _Merger(survivor, merged)
    newest, oldest = merger.newest.profile, merger.oldest.profile
    national_id, legacy = _national_id(merger, s, m)
    born = merger.survivor_unless_empty("date_of_birth", s.date_of_birth, m.date_of_birth)
    gender = merger.survivor_unless_empty("gender", s.gender, m.gender)
    _check_citizen_id(merger, national_id, legacy, born, gender)
    phones, dropped_phones = merger.union("phones", s.phones, m.phones)
    emails, dropped_emails = merger.union("emails", s.emails, m.emails)
    stage = min(s.lifecycle_stage, m.lifecycle_stage, key=ENGAGEMENT.index)
    merger.sources["lifecycle_stage"] = (survivor if stage is s.lifecycle_stage else merged).account_id
    business = None
    if s.account_type is AccountType.BUSINESS:
        nb, ob = newest.business or BusinessProfile(), oldest.business or BusinessProfile()
        sb, mb = s.business or BusinessProfile(), m.business or BusinessProfile()
        business = BusinessProfile(
            tax_code=merger.survivor_unless_empty("business.tax_code", sb.tax_code, mb.tax_code),
            industry=merger.newest_non_empty("business.industry", nb.industry, ob.industry),
        )
    profile = Profile(
        account_type=s.account_type,
        full_name=_full_name(merger, s.full_name, m.full_name),
        gender=gender,
        date_of_birth=born,
        national_id=national_id,
        national_id_legacy=legacy,
        phones=phones,
        emails=emails,
        address=merger.newest_non_empty("address", newest.address, oldest.address),
        occupation=merger.newest_non_empty("occupation", newest.occupation, oldest.occupation),
        income_band=merger.newest_non_empty("income_band", newest.income_band, oldest.income_band),
        preferred_language=merger.newest_non_empty("preferred_language", newest.preferred_language, oldest.preferred_language),
        preferred_channel=merger.newest_non_empty("preferred_channel", newest.preferred_channel, oldest.preferred_channel),
        best_contact_times=merger.newest_non_empty("best_contact_times", newest.best_contact_times, oldest.best_contact_times),
        lifecycle_stage=stage,
        owner_id=merger.survivor_unless_empty("owner_id", s.owner_id, m.owner_id),
        branch_id=merger.survivor_unless_empty("branch_id", s.branch_id, m.branch_id),
        business=business,
        territory_id=merger.survivor_unless_empty("territory_id", s.territory_id, m.territory_id),
    )
    tier_from = survivor if survivor.tier_override is not None or merged.tier_override is None else merged
    merger.sources["tier_override"] = tier_from.account_id
    since_from = merger.earliest("customer_since", (survivor.customer_since, merged.customer_since))
    acquired_from = merger.earliest("acquisition", (_acquired_at(survivor), _acquired_at(merged)))
    return MergePlan(
        survivor_id=survivor.account_id,
        merged_id=merged.account_id,
        profile=profile,
        field_sources=merger.sources,
        tier_override=tier_from.tier_override,
        tier_override_reason=tier_from.tier_override_reason,
        customer_since=since_from.customer_since if since_from else None,
        acquisition=acquired_from.acquisition if acquired_from else None,
        dropped_phones=dropped_phones,
        dropped_emails=dropped_emails,
    )

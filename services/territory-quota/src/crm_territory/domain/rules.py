"""Assignment rules as data: which territory (and owner-selection strategy) an account or a lead
belongs to, decided by the first rule in order that matches, and explained.

Order is (priority, rule_id), lowest first. Two rules at the same priority that could both
match one subject are refused (`validate_rules`), so order inside a priority never decides
anything; a rule that an earlier one always beats is allowed but reported as shadowed.

There is no cap on the number of rules. `RuleSet` precompiles them and indexes each rule under
its most selective constrained attribute (branch, then province, language, product, tier,
segment): a subject only runs the full check against the rules indexed under its own values plus
the rules that constrain none of those attributes, in order, stopping at the first match.
`explain` walks every rule up to the match and says, for each earlier one, every condition that
failed, with what the rule asked and what the subject had.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from itertools import combinations

from crm_common import vietnam
from crm_common.errors import ValidationCollector
from crm_common.products import ProductType
from crm_territory.domain.hierarchy import Hierarchy, Segment, WealthTier, includes
from crm_territory.domain.members import Member, Team

_LANGUAGE = re.compile(r"[a-z]{2,3}")


class SubjectKind(StrEnum):
    ACCOUNT = "ACCOUNT"
    LEAD = "LEAD"


class OwnerStrategy(StrEnum):
    NAMED_RM = "NAMED_RM"
    ROUND_ROBIN = "ROUND_ROBIN"
    LEAST_LOADED = "LEAST_LOADED"
    SKILL_MATCH = "SKILL_MATCH"


@dataclass(frozen=True, slots=True)
class Subject:
    """What rules look at on an account or a lead. Money in đồng."""

    kind: SubjectKind
    subject_id: str
    province_code: str = ""
    branch_id: str = ""
    products: frozenset[ProductType] = frozenset()
    tier: WealthTier | None = None
    segment: Segment | None = None
    aum: int | None = None
    lead_score: int | None = None
    language: str = ""


@dataclass(frozen=True)
class Conditions:
    """Empty sets and None bounds match anything."""

    province_codes: frozenset[str] = frozenset()
    branch_ids: frozenset[str] = frozenset()
    products: frozenset[ProductType] = frozenset()
    tiers: frozenset[WealthTier] = frozenset()
    segments: frozenset[Segment] = frozenset()
    languages: frozenset[str] = frozenset()
    aum_min: int | None = None  # inclusive
    aum_max: int | None = None  # exclusive
    lead_score_min: int | None = None  # inclusive
    lead_score_max: int | None = None  # inclusive


@dataclass(frozen=True)
class Rule:
    rule_id: str
    priority: int
    territory_id: str
    strategy: OwnerStrategy
    conditions: Conditions = Conditions()
    # NAMED_RM: the RM. Other strategies: empty.
    owner_id: str = ""
    # The team the owner is chosen from (NAMED_RM: the fallback when the RM is inactive).
    team_id: str = ""
    name: str = ""


@dataclass(frozen=True)
class ConditionFailure:
    attribute: str
    expected: str
    actual: str


@dataclass(frozen=True)
class RuleEvaluation:
    rule_id: str
    priority: int
    matched: bool
    failures: tuple[ConditionFailure, ...] = ()


@dataclass(frozen=True)
class Explanation:
    """The rules evaluated in order, up to and including the one that matched (if any)."""

    rule: Rule | None
    evaluations: list[RuleEvaluation]

    def summary(self, limit: int = 5) -> str:
        misses = [e for e in self.evaluations if not e.matched]
        reasons = [f"{e.rule_id} ({'; '.join(_describe(f) for f in e.failures)})" for e in misses[:limit]]
        if len(misses) > limit:
            reasons.append(f"and {len(misses) - limit} more")
        if self.rule is None:
            return "no rule matched" + (": " + ", ".join(reasons) if reasons else "")
        return f"rule {self.rule.rule_id} matched" + ("; earlier rules did not: " + ", ".join(reasons) if reasons else "")


def _describe(failure: ConditionFailure) -> str:
    return f"{failure.attribute} wants {failure.expected}, has {failure.actual}"


@dataclass(frozen=True)
class RuleCheck:
    """What validation found that is allowed but worth a look."""

    shadowed_rule_ids: list[str] = field(default_factory=list)


# The set-valued conditions, in the order a rule is indexed under (most selective first), with
# how to read the subject's value(s).
_SET_ATTRIBUTES = ("branch_ids", "province_codes", "languages", "products", "tiers", "segments")


def _subject_values(subject: Subject, attribute: str) -> Iterable[object]:
    if attribute == "products":
        return subject.products
    value = {
        "branch_ids": subject.branch_id,
        "province_codes": subject.province_code,
        "languages": subject.language,
        "tiers": subject.tier,
        "segments": subject.segment,
    }[attribute]
    return (value,) if value else ()


def evaluate(rule: Rule, subject: Subject) -> tuple[ConditionFailure, ...]:
    """Every condition of the rule the subject fails (empty: the rule matches)."""
    c = rule.conditions
    failures: list[ConditionFailure] = []
    for attribute in _SET_ATTRIBUTES:
        wanted: frozenset[object] = getattr(c, attribute)
        if not wanted:
            continue
        values = list(_subject_values(subject, attribute))
        if not any(v in wanted for v in values):
            have = ", ".join(sorted(map(str, values))) or "unset"
            failures.append(ConditionFailure(attribute, "one of " + ", ".join(sorted(map(str, wanted))), have))
    if (c.aum_min is not None or c.aum_max is not None) and not _in_band(subject.aum, c.aum_min, c.aum_max, upper_inclusive=False):
        failures.append(ConditionFailure("aum", _band(c.aum_min, c.aum_max, "below"), "unset" if subject.aum is None else str(subject.aum)))
    if (c.lead_score_min is not None or c.lead_score_max is not None) and not _in_band(
        subject.lead_score, c.lead_score_min, c.lead_score_max, upper_inclusive=True
    ):
        failures.append(
            ConditionFailure(
                "lead_score", _band(c.lead_score_min, c.lead_score_max, "up to"), "unset" if subject.lead_score is None else str(subject.lead_score)
            )
        )
    return tuple(failures)


def _in_band(value: int | None, low: int | None, high: int | None, upper_inclusive: bool) -> bool:
    if value is None:
        return False
    if low is not None and value < low:
        return False
    if high is not None:
        return value <= high if upper_inclusive else value < high
    return True


def _band(low: int | None, high: int | None, upper: str) -> str:
    parts = []
    if low is not None:
        parts.append(f"from {low}")
    if high is not None:
        parts.append(f"{upper} {high}")
    return " ".join(parts)


class _Compiled:
    """One rule's conditions as plain attributes (None: unconstrained), checked with early exits."""

    __slots__ = (
        "aum_max",
        "aum_min",
        "branches",
        "languages",
        "position",
        "products",
        "provinces",
        "score_max",
        "score_min",
        "segments",
        "tiers",
    )

    def __init__(self, position: int, c: Conditions) -> None:
        self.position = position
        self.branches = c.branch_ids or None
        self.provinces = c.province_codes or None
        self.languages = c.languages or None
        self.products = c.products or None
        self.tiers = c.tiers or None
        self.segments = c.segments or None
        self.aum_min, self.aum_max = c.aum_min, c.aum_max
        self.score_min, self.score_max = c.lead_score_min, c.lead_score_max

    def matches(self, s: Subject) -> bool:
        if self.branches is not None and s.branch_id not in self.branches:
            return False
        if self.provinces is not None and s.province_code not in self.provinces:
            return False
        if self.languages is not None and s.language not in self.languages:
            return False
        if self.tiers is not None and s.tier not in self.tiers:
            return False
        if self.segments is not None and s.segment not in self.segments:
            return False
        if self.products is not None and self.products.isdisjoint(s.products):
            return False
        low, high = self.aum_min, self.aum_max
        if (low is not None or high is not None) and (s.aum is None or (low is not None and s.aum < low) or (high is not None and s.aum >= high)):
            return False
        low, high, score = self.score_min, self.score_max, s.lead_score
        return (low is None and high is None) or (score is not None and (low is None or score >= low) and (high is None or score <= high))


class RuleSet:
    """Rules in evaluation order, compiled and indexed for fast matching."""

    def __init__(self, rules: Iterable[Rule]) -> None:
        self.rules: list[Rule] = sorted(rules, key=lambda r: (r.priority, r.rule_id))
        self._compiled = [_Compiled(i, r.conditions) for i, r in enumerate(self.rules)]
        self._index: dict[str, dict[object, list[int]]] = {a: {} for a in _SET_ATTRIBUTES}
        self._always: list[int] = []
        for i, rule in enumerate(self.rules):
            attribute = next((a for a in _SET_ATTRIBUTES if getattr(rule.conditions, a)), None)
            if attribute is None:
                self._always.append(i)
                continue
            for value in getattr(rule.conditions, attribute):
                self._index[attribute].setdefault(value, []).append(i)
        # Bound lookups, hoisted out of the per-subject path.
        self._by_branch = self._index["branch_ids"]
        self._by_province = self._index["province_codes"]
        self._by_language = self._index["languages"]
        self._by_product = self._index["products"]
        self._by_tier = self._index["tiers"]
        self._by_segment = self._index["segments"]

    def __len__(self) -> int:
        return len(self.rules)

    def _candidates(self, s: Subject) -> list[int]:
        found: list[list[int]] = []
        for index, value in (
            (self._by_branch, s.branch_id),
            (self._by_province, s.province_code),
            (self._by_language, s.language),
            (self._by_tier, s.tier),
            (self._by_segment, s.segment),
        ):
            hits = index.get(value)
            if hits:
                found.append(hits)
        for product in s.products:
            hits = self._by_product.get(product)
            if hits:
                found.append(hits)
        if not found:
            return self._always
        return sorted(set(self._always).union(*found))

    def match(self, subject: Subject) -> Rule | None:
        """The first rule in order that matches, without an explanation (the bulk path)."""
        compiled = self._compiled
        for position in self._candidates(subject):
            if compiled[position].matches(subject):
                return self.rules[position]
        return None

    def explain(self, subject: Subject) -> Explanation:
        """The same decision as `match`, with every rule up to the match evaluated in full."""
        evaluations: list[RuleEvaluation] = []
        for rule in self.rules:
            failures = evaluate(rule, subject)
            evaluations.append(RuleEvaluation(rule.rule_id, rule.priority, not failures, failures))
            if not failures:
                return Explanation(rule, evaluations)
        return Explanation(None, evaluations)


def validate_rules(
    rules: Sequence[Rule],
    hierarchy: Hierarchy,
    teams: Iterable[Team] = (),
    members: Iterable[Member] = (),
    field: str = "rules",
) -> RuleCheck:
    """Checks every rule, and refuses overlapping rules at the same priority; InvalidArgument
    names every violation. Returns the shadowed rules (never reached), which are allowed."""
    errors = ValidationCollector()
    teams_by_id = {t.team_id: t for t in teams}
    members_by_id = {m.subject_id: m for m in members}
    seen: dict[str, int] = {}
    for i, rule in enumerate(rules):
        where = f"{field}[{i}]"
        if not rule.rule_id.strip():
            errors.add(f"{where}.rule_id", "required")
        elif rule.rule_id in seen:
            errors.add(f"{where}.rule_id", f"duplicate of {field}[{seen[rule.rule_id]}]")
        else:
            seen[rule.rule_id] = i
        if rule.priority < 0:
            errors.add(f"{where}.priority", "0 or more")
        if rule.territory_id not in hierarchy:
            errors.add(f"{where}.territory_id", f"unknown territory {rule.territory_id!r}")
        _check_owner(rule, where, teams_by_id, members_by_id, errors)
        _check_conditions(rule.conditions, f"{where}.conditions", errors)
    errors.raise_if_any()

    ordered = sorted(range(len(rules)), key=lambda i: (rules[i].priority, rules[i].rule_id))
    rank = {original: position for position, original in enumerate(ordered)}
    shadowed: set[str] = set()
    for a, b in _candidate_pairs(rules):
        first, second = (a, b) if rank[a] < rank[b] else (b, a)
        x, y = rules[first], rules[second]
        if x.priority == y.priority:
            if _overlap(x.conditions, y.conditions):
                errors.add(
                    f"{field}[{second}]",
                    f"{y.rule_id} overlaps {x.rule_id} at priority {y.priority}: a subject could match both; give one another priority",
                )
        elif _covers(x.conditions, y.conditions):
            shadowed.add(y.rule_id)
    errors.raise_if_any()
    return RuleCheck(sorted(shadowed, key=lambda rule_id: rank[seen[rule_id]]))


def _check_owner(rule: Rule, where: str, teams: dict[str, Team], members: dict[str, Member], errors: ValidationCollector) -> None:
    if rule.strategy is OwnerStrategy.NAMED_RM and not rule.owner_id:
        errors.add(f"{where}.owner_id", "required for NAMED_RM")
    if rule.strategy is not OwnerStrategy.NAMED_RM and rule.owner_id:
        errors.add(f"{where}.owner_id", f"only NAMED_RM names an owner, not {rule.strategy}")
    if rule.strategy is not OwnerStrategy.NAMED_RM and not rule.team_id:
        errors.add(f"{where}.team_id", f"required for {rule.strategy}")
    if rule.team_id:
        team = teams.get(rule.team_id)
        if team is None:
            errors.add(f"{where}.team_id", f"unknown team {rule.team_id!r}")
        elif not (includes(team.territory_id, rule.territory_id) or includes(rule.territory_id, team.territory_id)):
            errors.add(f"{where}.team_id", f"team {team.team_id} is in {team.territory_id}, not on the path of {rule.territory_id}")
    if rule.owner_id and members:
        member = members.get(rule.owner_id)
        if member is None:
            errors.add(f"{where}.owner_id", f"{rule.owner_id!r} is not a member of the sales force")
        elif not (includes(member.territory_id, rule.territory_id) or includes(rule.territory_id, member.territory_id)):
            errors.add(f"{where}.owner_id", f"{rule.owner_id} works in {member.territory_id}, not on the path of {rule.territory_id}")


def _check_conditions(c: Conditions, where: str, errors: ValidationCollector) -> None:
    for code in sorted(c.province_codes):
        if vietnam.province(code) is None:
            errors.add(f"{where}.province_codes", f"{code!r} is not a GSO province code")
    for language in sorted(c.languages):
        if not _LANGUAGE.fullmatch(language):
            errors.add(f"{where}.languages", f"{language!r} is not a lower-case BCP 47 primary tag")
    if (c.aum_min is not None and c.aum_min < 0) or (c.aum_max is not None and c.aum_max < 0):
        errors.add(f"{where}.aum", "bounds are 0 or more")
    if c.aum_min is not None and c.aum_max is not None and c.aum_min >= c.aum_max:
        errors.add(f"{where}.aum_max", "must be above aum_min (the band is [min, max))")
    if c.lead_score_min is not None and c.lead_score_max is not None and c.lead_score_min > c.lead_score_max:
        errors.add(f"{where}.lead_score_max", "must be at least lead_score_min")


def _candidate_pairs(rules: Sequence[Rule]) -> set[tuple[int, int]]:
    """Pairs that could overlap: those sharing a value of one set attribute, or where either
    leaves it open. Bucketing on the attribute with the fewest open rules keeps a rule set of one
    rule per branch near-linear instead of quadratic."""
    if len(rules) < 2:
        return set()
    attribute = min(_SET_ATTRIBUTES, key=lambda a: sum(1 for r in rules if not getattr(r.conditions, a)))
    buckets: dict[object, list[int]] = {}
    open_rules: list[int] = []
    for i, rule in enumerate(rules):
        values = getattr(rule.conditions, attribute)
        if not values:
            open_rules.append(i)
        for value in values:
            buckets.setdefault(value, []).append(i)
    pairs: set[tuple[int, int]] = set()
    for members in buckets.values():
        pairs.update(combinations(members, 2))
    for i in open_rules:
        pairs.update((min(i, j), max(i, j)) for j in range(len(rules)) if j != i)
    return pairs


def _overlap(a: Conditions, b: Conditions) -> bool:
    for attribute in _SET_ATTRIBUTES:
        x, y = getattr(a, attribute), getattr(b, attribute)
        if x and y and x.isdisjoint(y):
            return False
    if not _ranges_meet(a.aum_min, _exclusive_to_inclusive(a.aum_max), b.aum_min, _exclusive_to_inclusive(b.aum_max)):
        return False
    return _ranges_meet(a.lead_score_min, a.lead_score_max, b.lead_score_min, b.lead_score_max)


def _covers(a: Conditions, b: Conditions) -> bool:
    """True when every subject b matches, a matches too (so a, if earlier, always wins)."""
    for attribute in _SET_ATTRIBUTES:
        x, y = getattr(a, attribute), getattr(b, attribute)
        if x and not (y and y <= x):
            return False
    aum_ok = (a.aum_min is None or (b.aum_min is not None and b.aum_min >= a.aum_min)) and (
        a.aum_max is None or (b.aum_max is not None and b.aum_max <= a.aum_max)
    )
    score_ok = (a.lead_score_min is None or (b.lead_score_min is not None and b.lead_score_min >= a.lead_score_min)) and (
        a.lead_score_max is None or (b.lead_score_max is not None and b.lead_score_max <= a.lead_score_max)
    )
    return aum_ok and score_ok


def _exclusive_to_inclusive(high: int | None) -> int | None:
    return None if high is None else high - 1


def _ranges_meet(low_a: int | None, high_a: int | None, low_b: int | None, high_b: int | None) -> bool:
    low = max((v for v in (low_a, low_b) if v is not None), default=None)
    high = min((v for v in (high_a, high_b) if v is not None), default=None)
    return low is None or high is None or low <= high

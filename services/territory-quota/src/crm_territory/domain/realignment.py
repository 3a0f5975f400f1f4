"""Realignment: re-evaluating accounts under a rule set and counting what moves.

An account moves when its territory or its owner changes. Owners stay put where they can: an
account whose territory does not change keeps its RM while that RM may still own it in the
rule's team (a new rule set does not reshuffle books inside unchanged territories), unless the
rule names another RM. Manual overrides are left in place (and counted). An account no rule
matches keeps its assignment and is counted as unassigned, so a preview shows the gap before an
apply can strand anyone's customers.

The counts are per territory and per owner: accounts and open opportunities in and out, which
is what a preview shows and an apply records. The same tally serves a diff of two assignment
maps computed elsewhere (`diff`) and a streaming pass over a million accounts (`realign`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace

from crm_territory.domain.members import Member
from crm_territory.domain.owner_selection import OwnerSelector
from crm_territory.domain.rules import OwnerStrategy, Rule, RuleSet, Subject


@dataclass(frozen=True, slots=True)
class Assignment:
    territory_id: str
    owner_id: str
    team_id: str = ""
    rule_id: str = ""
    override: bool = False

    def same_place(self, other: Assignment | None) -> bool:
        return other is not None and (self.territory_id, self.owner_id) == (other.territory_id, other.owner_id)


@dataclass(frozen=True, slots=True)
class AccountState:
    subject: Subject
    current: Assignment | None
    open_opportunities: int = 0


@dataclass(frozen=True, slots=True)
class AccountMove:
    account_id: str
    before: Assignment | None
    after: Assignment
    open_opportunities: int


@dataclass
class MoveCounts:
    accounts_in: int = 0
    accounts_out: int = 0
    opportunities_in: int = 0
    opportunities_out: int = 0


@dataclass
class Realignment:
    accounts_evaluated: int = 0
    accounts_moved: int = 0
    opportunities_moved: int = 0
    accounts_unassigned: int = 0
    overrides_kept: int = 0
    by_territory: dict[str, MoveCounts] = field(default_factory=dict)
    by_owner: dict[str, MoveCounts] = field(default_factory=dict)
    moves: list[AccountMove] = field(default_factory=list)

    # False: count only (a preview over a million accounts need not hold every move).
    keep_moves: bool = True

    def record(self, account_id: str, before: Assignment | None, after: Assignment, open_opportunities: int) -> None:
        if after.same_place(before):
            return
        self.accounts_moved += 1
        self.opportunities_moved += open_opportunities
        if self.keep_moves:
            self.moves.append(AccountMove(account_id, before, after, open_opportunities))
        if before is None or before.territory_id != after.territory_id:
            _count_in(self.by_territory, after.territory_id, open_opportunities)
            if before is not None:
                _count_out(self.by_territory, before.territory_id, open_opportunities)
        if before is None or before.owner_id != after.owner_id:
            if after.owner_id:
                _count_in(self.by_owner, after.owner_id, open_opportunities)
            if before is not None and before.owner_id:
                _count_out(self.by_owner, before.owner_id, open_opportunities)


def _count_in(counts: dict[str, MoveCounts], key: str, opportunities: int) -> None:
    entry = counts.setdefault(key, MoveCounts())
    entry.accounts_in += 1
    entry.opportunities_in += opportunities


def _count_out(counts: dict[str, MoveCounts], key: str, opportunities: int) -> None:
    entry = counts.setdefault(key, MoveCounts())
    entry.accounts_out += 1
    entry.opportunities_out += opportunities


def reassign(subject: Subject, current: Assignment | None, rules: RuleSet, selector: OwnerSelector) -> Assignment | None:
    """The account's assignment under the rules (None: no rule matches), keeping the owner
    where allowed. The selector's loads follow every change of owner."""
    rule = rules.match(subject)
    if rule is None:
        return None
    return place(rule, subject, current, selector)[0]


def place(rule: Rule, subject: Subject, current: Assignment | None, selector: OwnerSelector) -> tuple[Assignment, str]:
    """The account's assignment under the rule that matched, with why this owner."""
    if current is not None and current.territory_id == rule.territory_id:
        named_active = rule.strategy is OwnerStrategy.NAMED_RM and selector.can_own(rule.owner_id, "")
        keep = current.owner_id == rule.owner_id if named_active else selector.can_own(current.owner_id, rule.team_id)
        if keep:
            # Assignments are immutable: the one in force is reused when the rule is the same.
            kept = current
            if current.rule_id != rule.rule_id or current.override:
                kept = Assignment(current.territory_id, current.owner_id, current.team_id, rule.rule_id)
            return kept, f"kept {current.owner_id}: still in the territory and team"
    choice = selector.select(rule, subject)
    if current is not None and current.owner_id and current.owner_id != choice.owner_id:
        selector.loads[current.owner_id] = max(selector.loads.get(current.owner_id, 0) - 1, 0)
    return Assignment(rule.territory_id, choice.owner_id, choice.team_id, rule.rule_id), choice.reason


def realign(accounts: Iterable[AccountState], rules: RuleSet, selector: OwnerSelector, keep_moves: bool = True) -> Realignment:
    """Re-evaluates every account in one pass; the moves are in the result, nothing is applied."""
    result = Realignment(keep_moves=keep_moves)
    for account in accounts:
        result.accounts_evaluated += 1
        current = account.current
        if current is not None and current.override:
            result.overrides_kept += 1
            continue
        after = reassign(account.subject, current, rules, selector)
        if after is None:
            result.accounts_unassigned += 1
            continue
        result.record(account.subject.subject_id, current, after, account.open_opportunities)
    return result


def depart(
    rm_id: str,
    book: Iterable[AccountState],
    rules: RuleSet,
    members: Iterable[Member],
    loads: Mapping[str, int] | None = None,
    cursors: Mapping[str, str] | None = None,
    keep_moves: bool = True,
) -> tuple[Realignment, OwnerSelector]:
    """Moves the leaving RM's accounts by the rules without them. Their manual overrides go too
    (an override to someone who left cannot stand); accounts no rule places keep the RM and are
    counted as unassigned, for a manager to place by hand."""
    selector = OwnerSelector(members, loads, cursors, excluded=[rm_id])
    own = (
        AccountState(a.subject, replace(a.current, override=False) if a.current else None, a.open_opportunities)
        for a in book
        if a.current is not None and a.current.owner_id == rm_id
    )
    return realign(own, rules, selector, keep_moves), selector


def diff(before: Mapping[str, Assignment], after: Mapping[str, Assignment], open_opportunities: Mapping[str, int]) -> Realignment:
    """The moves between two assignment maps (accounts missing from `after` are not moved)."""
    result = Realignment()
    for account_id, new in after.items():
        result.accounts_evaluated += 1
        result.record(account_id, before.get(account_id), new, open_opportunities.get(account_id, 0))
    return result

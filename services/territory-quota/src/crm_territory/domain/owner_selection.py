"""Choosing the owner inside the territory a rule picked.

Strategies: the RM a rule names; round robin in the rule's team (the cursor is the subject id of
the last member chosen, persisted by the caller and passed back in, so members joining or
leaving never skip or repeat anyone); least loaded by open book; skill/language match. Only
active RMs and team leads take assignments, and none beyond their capacity (0: no cap). Every
tie is broken the same way: smaller open book, then subject id, so a decision replays exactly.

One `OwnerSelector` serves a run of decisions (one lead, or a whole realignment): it counts each
assignment into the loads and moves the cursors as it goes, and the caller persists both.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from crm_territory.domain.members import Member
from crm_territory.domain.rules import OwnerStrategy, Rule, Subject


@dataclass(frozen=True)
class OwnerChoice:
    # "" when no one can take it: the subject waits in the team's queue.
    owner_id: str
    team_id: str
    strategy: OwnerStrategy
    reason: str


class OwnerSelector:
    def __init__(
        self,
        members: Iterable[Member],
        loads: Mapping[str, int] | None = None,
        cursors: Mapping[str, str] | None = None,
        excluded: Iterable[str] = (),
    ) -> None:
        left = frozenset(excluded)
        self._by_id: dict[str, Member] = {}
        self._teams: dict[str, list[Member]] = {}
        for member in sorted(members, key=lambda m: m.subject_id):
            if not member.takes_assignments or member.subject_id in left:
                continue
            self._by_id[member.subject_id] = member
            if member.team_id:
                self._teams.setdefault(member.team_id, []).append(member)
        self.loads: dict[str, int] = dict(loads or {})
        # team_id → subject id of the last member chosen by round robin.
        self.cursors: dict[str, str] = dict(cursors or {})

    def can_own(self, owner_id: str, team_id: str) -> bool:
        """True when owner_id may keep a subject in team_id (used to leave owners in place)."""
        member = self._by_id.get(owner_id)
        return member is not None and (not team_id or member.team_id == team_id)

    def select(self, rule: Rule, subject: Subject) -> OwnerChoice:
        choice = self._choose(rule, subject)
        if choice.owner_id:
            self.loads[choice.owner_id] = self.loads.get(choice.owner_id, 0) + 1
        return choice

    def _choose(self, rule: Rule, subject: Subject) -> OwnerChoice:
        if rule.strategy is OwnerStrategy.NAMED_RM:
            if rule.owner_id in self._by_id:
                return OwnerChoice(rule.owner_id, self._by_id[rule.owner_id].team_id, rule.strategy, f"named by rule {rule.rule_id}")
            if not rule.team_id:
                return OwnerChoice("", "", rule.strategy, f"named RM {rule.owner_id} cannot take assignments and the rule has no team")
            fallback = self._least_loaded(rule.team_id)
            prefix = f"named RM {rule.owner_id} cannot take assignments; "
            return OwnerChoice(fallback.owner_id, rule.team_id, rule.strategy, prefix + fallback.reason)
        if rule.strategy is OwnerStrategy.ROUND_ROBIN:
            return self._round_robin(rule.team_id)
        if rule.strategy is OwnerStrategy.LEAST_LOADED:
            return self._least_loaded(rule.team_id)
        return self._skill_match(rule.team_id, subject)

    def _available(self, team_id: str) -> list[Member]:
        return [m for m in self._teams.get(team_id, []) if m.capacity == 0 or self.loads.get(m.subject_id, 0) < m.capacity]

    def _nobody(self, team_id: str, strategy: OwnerStrategy) -> OwnerChoice:
        why = "every RM is at capacity" if self._teams.get(team_id) else "no active RM"
        return OwnerChoice("", team_id, strategy, f"team {team_id}: {why}")

    def _round_robin(self, team_id: str) -> OwnerChoice:
        available = self._available(team_id)
        if not available:
            return self._nobody(team_id, OwnerStrategy.ROUND_ROBIN)
        last = self.cursors.get(team_id, "")
        chosen = next((m for m in available if m.subject_id > last), available[0])
        self.cursors[team_id] = chosen.subject_id
        after = f" after {last}" if last else ""
        return OwnerChoice(chosen.subject_id, team_id, OwnerStrategy.ROUND_ROBIN, f"round robin in team {team_id}{after}")

    def _least_loaded(self, team_id: str) -> OwnerChoice:
        available = sorted(self._available(team_id), key=lambda m: (self.loads.get(m.subject_id, 0), m.subject_id))
        if not available:
            return self._nobody(team_id, OwnerStrategy.LEAST_LOADED)
        chosen = available[0]
        reason = f"least loaded in team {team_id}: {self.loads.get(chosen.subject_id, 0)} open"
        if len(available) > 1:
            runner_up = available[1]
            reason += f" (next {runner_up.subject_id}: {self.loads.get(runner_up.subject_id, 0)})"
        return OwnerChoice(chosen.subject_id, team_id, OwnerStrategy.LEAST_LOADED, reason)

    def _skill_match(self, team_id: str, subject: Subject) -> OwnerChoice:
        available = self._available(team_id)
        if not available:
            return self._nobody(team_id, OwnerStrategy.SKILL_MATCH)

        def fit(m: Member) -> tuple[int, int]:
            # Speaking the customer's language outranks any number of product skills.
            return (1 if subject.language and subject.language in m.languages else 0, len(subject.products & m.skills))

        chosen = min(available, key=lambda m: (-fit(m)[0], -fit(m)[1], self.loads.get(m.subject_id, 0), m.subject_id))
        speaks, skills = fit(chosen)
        if not speaks and not skills:
            return OwnerChoice(
                chosen.subject_id,
                team_id,
                OwnerStrategy.SKILL_MATCH,
                f"no one in team {team_id} matches language or products; least loaded: {self.loads.get(chosen.subject_id, 0)} open",
            )
        matched = []
        if speaks:
            matched.append(f"speaks {subject.language}")
        if skills:
            matched.append("skilled in " + ", ".join(sorted(subject.products & chosen.skills)))
        return OwnerChoice(
            chosen.subject_id, team_id, OwnerStrategy.SKILL_MATCH, f"{' and '.join(matched)}; {self.loads.get(chosen.subject_id, 0)} open"
        )

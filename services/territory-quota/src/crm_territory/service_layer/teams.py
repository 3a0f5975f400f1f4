"""Teams and their members (roles, languages, skills, capacity), and the access scope a person's
places give them (what the identity provider or gateway mints claims from)."""

from __future__ import annotations

from dataclasses import dataclass

from crm_common.db import utcnow
from crm_common.errors import FailedPrecondition, FieldViolation, InvalidArgument, ValidationCollector
from crm_common.pagination import Page
from crm_common.unit_of_work import Idempotent
from crm_territory.domain.hierarchy import includes
from crm_territory.domain.members import OWNER_ROLES, AccessScope, Member, Team, access_scope
from crm_territory.domain.rules import _LANGUAGE
from crm_territory.service_layer.assignment_support import AssignmentEvents, Clock, ModelCache, UowFactory, idempotent
from crm_territory.service_layer.unit_of_work import TerritoryUnitOfWork


@dataclass(frozen=True)
class PutTeam:
    key: Idempotent
    team: Team
    members: list[Member]


class TeamUseCases:
    def __init__(self, uow: UowFactory, events: AssignmentEvents, models: ModelCache, clock: Clock = utcnow) -> None:
        self.uow = uow
        self.events = events
        self.models = models
        self.clock = clock

    def put_team(self, cmd: PutTeam) -> tuple[Team, list[tuple[str, Member]]]:
        """Creates or replaces the team and its members; AccessScopeChanged for everyone whose
        places it touched."""
        errors = ValidationCollector()
        team = cmd.team
        if not team.team_id.strip():
            errors.add("team.team_id", "required")
        if not team.name.strip():
            errors.add("team.name", "required")
        if not team.territory_id:
            errors.add("team.territory_id", "required")
        seen: dict[str, int] = {}
        members = [m if m.territory_id else Member(**{**m.__dict__, "territory_id": team.territory_id}) for m in cmd.members]
        for i, m in enumerate(members):
            where = f"members[{i}]"
            if not m.subject_id.strip():
                errors.add(f"{where}.subject_id", "required")
            elif m.subject_id in seen:
                errors.add(f"{where}.subject_id", f"duplicate of members[{seen[m.subject_id]}]")
            else:
                seen[m.subject_id] = i
            if m.team_id and m.team_id != team.team_id:
                errors.add(f"{where}.team_id", f"empty or {team.team_id!r}: members are put with their team")
            if m.capacity < 0:
                errors.add(f"{where}.capacity", "0 (no cap) or more")
            for language in sorted(m.languages):
                if not _LANGUAGE.fullmatch(language):
                    errors.add(f"{where}.languages", f"{language[:16]!r} is not a BCP 47 primary language tag")
            if team.territory_id and m.role in OWNER_ROLES and not includes(team.territory_id, m.territory_id):
                errors.add(f"{where}.territory_id", f"an RM or team lead sits in the team's territory {team.territory_id} or below")
        errors.raise_if_any()
        now = self.clock()

        def first(uow: TerritoryUnitOfWork) -> tuple[tuple[Team, list[tuple[str, Member]]], str]:
            repo = uow.territories
            # The model in force, or a planned one (a new bank's teams come before its first rules).
            in_force = self.models.in_force(repo)
            models = ([in_force] if in_force else []) + [self.models.get(repo, v) for v in repo.planned_versions()]
            if not models:
                raise FailedPrecondition("no territory model yet: plan a model version first")
            model = next((x for x in models if team.territory_id in x.hierarchy), models[0])
            found = ValidationCollector()
            if team.territory_id not in model.hierarchy:
                found.add("team.territory_id", f"unknown territory {team.territory_id!r} in model version {model.version}")
            for i, m in enumerate(members):
                if m.territory_id not in model.hierarchy:
                    found.add(f"members[{i}].territory_id", f"unknown territory {m.territory_id!r} in model version {model.version}")
            found.raise_if_any()
            before = {subject for _, m in repo.list_members(Page(10_000, None), team_id=team.team_id)[0] for subject in [m.subject_id]}
            repo.put_team(team, members, now)
            all_teams = repo.all_teams()
            for subject in sorted(before | set(seen)):
                scope = access_scope(subject, repo.members_of(subject), all_teams, model.hierarchy)
                uow.publish(self.events.access_scope_changed(scope, model.version, cmd.key.request_id))
            return (team, [(team.team_id, _as_listed(m, team.team_id)) for m in members]), team.team_id

        def repeat(uow: TerritoryUnitOfWork, ref: str) -> tuple[Team, list[tuple[str, Member]]]:
            found = uow.territories.team(ref) or team
            listed, _ = uow.territories.list_members(Page(10_000, None), team_id=ref)
            return found, listed

        return idempotent(self.uow, "PutTeam", cmd.key, first, repeat)  # type: ignore[no-any-return]

    def list_teams(self, page: Page, within: str) -> tuple[list[Team], dict[str, str] | None]:
        with self.uow() as uow:
            rows, last = uow.territories.list_teams(page, within)
        return rows, ({"id": last} if last is not None else None)

    def list_members(self, page: Page, team_id: str, within: str, subject_id: str) -> tuple[list[tuple[str, Member]], dict[str, str] | None]:
        if sum(bool(x) for x in (team_id, within, subject_id)) > 1:
            raise InvalidArgument(FieldViolation("team_id", "give at most one of team_id, within_territory_id, subject_id"))
        with self.uow() as uow:
            return uow.territories.list_members(page, team_id, within, subject_id)

    def access_scope(self, subject_id: str) -> tuple[AccessScope, int]:
        """The territories (minimal, each with its descendants), teams and branches the person may
        see under the model in force; an unknown person gets an empty scope."""
        if not subject_id.strip():
            raise InvalidArgument(FieldViolation("subject_id", "required"))
        with self.uow() as uow:
            repo = uow.territories
            model = self.models.in_force(repo)
            if model is None:
                return AccessScope(subject_id), 0
            return access_scope(subject_id, repo.members_of(subject_id), repo.all_teams(), model.hierarchy), model.version


def _as_listed(member: Member, team_id: str) -> Member:
    return Member(**{**member.__dict__, "team_id": team_id if member.role in OWNER_ROLES else ""})

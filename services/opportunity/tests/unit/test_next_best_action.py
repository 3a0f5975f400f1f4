"""Next best actions: each rule at its boundary, explainable reasons, ranking, and the rules file."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from crm_opportunity.domain.model import Money, Opportunity, ProductType, Status
from crm_opportunity.domain.next_best_action import (
    ActionKind,
    Condition,
    OpportunityFacts,
    RuleError,
    Suggestion,
    default_rules,
    load_rules,
    suggest,
    suggest_for_book,
)
from crm_opportunity.domain.pipeline import PIPELINES, Pipeline

NOW = datetime(2024, 6, 15, 9, 0, tzinfo=UTC)
CARD = PIPELINES[ProductType.CREDIT_CARD]
LOAN = PIPELINES[ProductType.UNSECURED_LOAN]
LEAD = "9a1b2c3d-4e5f-4a6b-8c7d-0e1f2a3b4c5d"
RULES = default_rules()
QUIET = OpportunityFacts(has_meeting_planned_or_held=False, lead_first_contact_breached=False, now=NOW)


def opportunity(oid: str = "opp-1", *, days_in_stage: float = 1, **changes: Any) -> Opportunity:
    """A credit card opportunity in needs_analysis that no default rule picks on, changed as asked."""
    base = Opportunity(
        opportunity_id=oid,
        account_id="acc-1",
        product=ProductType.CREDIT_CARD,
        amount=Money(50_000_000),
        expected_close_at=NOW + timedelta(days=10),
        owner_id="rm-1",
        team_id="team-hn",
        source_lead_id="",
        campaign_id="",
        status=Status.OPEN,
        stage="needs_analysis",
        probability_percent=25,
        created_at=NOW - timedelta(days=30),
        created_by="rm-1",
        updated_at=NOW - timedelta(days=1),
        updated_by="rm-1",
        stage_entered_at=NOW - timedelta(days=days_in_stage),
    )
    return replace(base, **changes)


def facts(**changes: Any) -> OpportunityFacts:
    return replace(QUIET, **changes)


def actions(suggestions: list[Suggestion]) -> list[tuple[ActionKind, int, str]]:
    return [(s.action, s.priority, s.rule) for s in suggestions]


def by_action(suggestions: list[Suggestion], action: ActionKind) -> Suggestion | None:
    return next((s for s in suggestions if s.action is action), None)


def rule(**fields: Any) -> dict[str, Any]:
    return {"id": "r1", "when": "close_date_missing", "params": {}, "action": "UPDATE_CLOSE_DATE", "priority": 3, "reason": "no date", **fields}


def rules_text(*rules: dict[str, Any]) -> str:
    return json.dumps({"rules": list(rules)})


def test_a_healthy_opportunity_gets_no_suggestion() -> None:
    assert suggest(opportunity(), CARD, QUIET, RULES) == []


class TestIdleBeyondNorm:
    # documents_collected: norm 7 days; the checklist done so only the clock matters.
    DONE = ("id_document_verified", "income_documents_collected")

    def call(self, days: float) -> Suggestion | None:
        opp = opportunity(stage="documents_collected", checklist=self.DONE, days_in_stage=days)
        return by_action(suggest(opp, CARD, QUIET, RULES), ActionKind.CALL_CUSTOMER)

    def test_at_the_norm_it_does_not_fire(self) -> None:
        assert self.call(7) is None
        assert self.call(7.99) is None  # whole days: 7 days and 23 hours is 7 days

    def test_a_day_beyond_the_norm_it_suggests_a_call_with_the_numbers(self) -> None:
        assert self.call(8) == Suggestion("opp-1", ActionKind.CALL_CUSTOMER, 3, "idle 8 days in documents_collected (norm 7)", "idle_beyond_norm")

    def test_beyond_twice_the_norm_it_is_more_urgent_and_still_one_call(self) -> None:
        at_twice = self.call(14)
        assert at_twice is not None and (at_twice.priority, at_twice.rule) == (3, "idle_beyond_norm")
        beyond = self.call(15)
        assert beyond == Suggestion(
            "opp-1", ActionKind.CALL_CUSTOMER, 2, "idle 15 days in documents_collected, more than twice the norm of 7 days", "idle_twice_the_norm"
        )

    def test_without_a_stage_entry_time_the_creation_time_counts(self) -> None:
        opp = opportunity(stage="documents_collected", checklist=self.DONE, stage_entered_at=None, created_at=NOW - timedelta(days=9))
        found = by_action(suggest(opp, CARD, QUIET, RULES), ActionKind.CALL_CUSTOMER)
        assert found is not None and found.reason == "idle 9 days in documents_collected (norm 7)"

    def test_the_factor_comes_from_the_rule(self) -> None:
        strict = load_rules(rules_text(rule(when="idle_beyond_norm", params={"factor": 0.5}, action="CALL_CUSTOMER", reason="{days}>{limit}")))
        opp = opportunity(stage="documents_collected", checklist=self.DONE, days_in_stage=3)
        assert suggest(opp, CARD, QUIET, strict) == []
        assert [s.reason for s in suggest(replace(opp, stage_entered_at=NOW - timedelta(days=4)), CARD, QUIET, strict)] == ["4>3.5"]


class TestExitCriteria:
    def test_missing_checklist_items_are_documents_to_collect_named_in_the_reason(self) -> None:
        opp = opportunity(stage="documents_collected", checklist=("id_document_verified",))
        assert suggest(opp, CARD, QUIET, RULES) == [
            Suggestion(
                "opp-1",
                ActionKind.COLLECT_DOCUMENTS,
                3,
                "checklist not done to leave documents_collected: income_documents_collected",
                "documents_missing",
            )
        ]

    def test_every_missing_item_is_named_in_the_pipelines_order(self) -> None:
        opp = opportunity(stage="documents_collected")
        found = by_action(suggest(opp, CARD, QUIET, RULES), ActionKind.COLLECT_DOCUMENTS)
        assert found is not None
        assert found.reason == "checklist not done to leave documents_collected: id_document_verified, income_documents_collected"

    def test_the_checklist_done_means_nothing_to_collect(self) -> None:
        opp = opportunity(stage="documents_collected", checklist=("id_document_verified", "income_documents_collected", "extra"))
        assert by_action(suggest(opp, CARD, QUIET, RULES), ActionKind.COLLECT_DOCUMENTS) is None

    def test_missing_required_fields_are_fields_to_complete(self) -> None:
        opp = opportunity(amount=Money(0))
        assert suggest(opp, CARD, QUIET, RULES) == [
            Suggestion("opp-1", ActionKind.COMPLETE_FIELDS, 3, "required to leave needs_analysis but not set: amount", "fields_missing")
        ]

    def test_fields_and_checklist_missing_together_split_into_two_actions(self) -> None:
        # Unsecured loan needs_analysis: amount and the credit check consent.
        opp = opportunity(product=ProductType.UNSECURED_LOAN, amount=Money(0))
        assert actions(suggest(opp, LOAN, QUIET, RULES)) == [
            (ActionKind.COLLECT_DOCUMENTS, 3, "documents_missing"),
            (ActionKind.COMPLETE_FIELDS, 3, "fields_missing"),
        ]
        assert (
            by_action(
                suggest(replace(opp, amount=Money(1), checklist=("credit_check_consent_signed",)), LOAN, QUIET, RULES), ActionKind.COMPLETE_FIELDS
            )
            is None
        )


class TestCloseDate:
    def test_a_close_date_now_has_not_passed(self) -> None:
        assert suggest(opportunity(expected_close_at=NOW), CARD, QUIET, RULES) == []

    def test_a_close_date_just_before_now_has_passed(self) -> None:
        opp = opportunity(expected_close_at=NOW - timedelta(seconds=1))
        assert suggest(opp, CARD, QUIET, RULES) == [
            Suggestion(
                "opp-1",
                ActionKind.UPDATE_CLOSE_DATE,
                2,
                "expected close date 2024-06-15 has passed (today 2024-06-15): set a new date or close the opportunity",
                "close_date_passed",
            )
        ]

    def test_the_reason_gives_both_dates(self) -> None:
        found = suggest(opportunity(expected_close_at=NOW - timedelta(days=12)), CARD, QUIET, RULES)
        assert [s.reason for s in found] == ["expected close date 2024-06-03 has passed (today 2024-06-15): set a new date or close the opportunity"]

    def test_a_missing_close_date_is_asked_for_at_low_priority(self) -> None:
        assert suggest(opportunity(expected_close_at=None), CARD, QUIET, RULES) == [
            Suggestion("opp-1", ActionKind.UPDATE_CLOSE_DATE, 4, "no expected close date set (stage needs_analysis)", "close_date_missing")
        ]


class TestHighValueWithoutMeeting:
    def meeting(self, amount: Money, **fact_changes: Any) -> Suggestion | None:
        return by_action(suggest(opportunity(amount=amount), CARD, facts(**fact_changes), RULES), ActionKind.SCHEDULE_MEETING)

    def test_at_the_threshold_without_a_meeting_it_suggests_one(self) -> None:
        assert self.meeting(Money(500_000_000)) == Suggestion(
            "opp-1",
            ActionKind.SCHEDULE_MEETING,
            2,
            "500,000,000 VND opportunity with no meeting planned or held (threshold 500,000,000 VND)",
            "high_value_without_meeting",
        )

    def test_below_the_threshold_it_does_not(self) -> None:
        assert self.meeting(Money(499_999_999)) is None

    def test_a_meeting_planned_or_held_is_enough(self) -> None:
        assert self.meeting(Money(2_000_000_000), has_meeting_planned_or_held=True) is None

    def test_only_dong_amounts_count(self) -> None:
        assert self.meeting(Money(2_000_000_000, "USD")) is None


class TestLeadSla:
    def test_a_breached_first_contact_sla_means_contact_now(self) -> None:
        found = suggest(opportunity(source_lead_id=LEAD), CARD, facts(lead_first_contact_breached=True), RULES)
        assert found == [
            Suggestion(
                "opp-1",
                ActionKind.CONTACT_NOW,
                1,
                f"first-contact SLA of source lead {LEAD} breached: contact the customer today",
                "lead_first_contact_sla_breached",
            )
        ]

    def test_not_breached_or_no_linked_lead_means_nothing(self) -> None:
        assert suggest(opportunity(source_lead_id=LEAD), CARD, QUIET, RULES) == []
        assert suggest(opportunity(), CARD, facts(lead_first_contact_breached=True), RULES) == []


class TestReadyToAdvance:
    DONE = ("id_document_verified", "income_documents_collected")

    def advance(self, days: float, checklist: tuple[str, ...] = DONE, stage: str = "documents_collected") -> Suggestion | None:
        opp = opportunity(stage=stage, checklist=checklist, days_in_stage=days)
        return by_action(suggest(opp, CARD, QUIET, RULES), ActionKind.ADVANCE_STAGE)

    def test_criteria_met_but_not_long_enough(self) -> None:
        assert self.advance(3) is None  # 3 days, half the norm is 3.5

    def test_criteria_met_and_past_half_the_norm_names_the_next_stage(self) -> None:
        assert self.advance(4) == Suggestion(
            "opp-1",
            ActionKind.ADVANCE_STAGE,
            3,
            "exit criteria of documents_collected met and 4 days in stage (norm 7): move to submitted_to_los",
            "ready_to_advance",
        )

    def test_criteria_not_met_never_advances(self) -> None:
        assert self.advance(30, checklist=("id_document_verified",)) is None

    def test_from_the_last_stage_the_next_step_is_winning(self) -> None:
        found = self.advance(2, checklist=("card_delivered",), stage="approved")  # norm 3: 2 > 1.5
        assert found is not None and found.reason.endswith("move to closed_won")


@pytest.mark.parametrize(("status", "stage"), [(Status.WON, "closed_won"), (Status.LOST, "closed_lost")])
def test_closed_opportunities_get_nothing(status: Status, stage: str) -> None:
    opp = opportunity(status=status, stage=stage, amount=Money(0), expected_close_at=NOW - timedelta(days=40), source_lead_id=LEAD, days_in_stage=90)
    anything = facts(lead_first_contact_breached=True)
    assert suggest(opp, CARD, anything, RULES) == []
    assert suggest_for_book([(opp, CARD, anything)], RULES) == []


def test_many_rules_firing_give_one_suggestion_per_action_most_urgent_first() -> None:
    opp = opportunity(
        stage="documents_collected",
        amount=Money(800_000_000),
        expected_close_at=NOW - timedelta(days=2),
        source_lead_id=LEAD,
        days_in_stage=20,
    )
    found = suggest(opp, CARD, facts(lead_first_contact_breached=True), RULES)
    assert actions(found) == [
        (ActionKind.CONTACT_NOW, 1, "lead_first_contact_sla_breached"),
        (ActionKind.CALL_CUSTOMER, 2, "idle_twice_the_norm"),
        (ActionKind.UPDATE_CLOSE_DATE, 2, "close_date_passed"),
        (ActionKind.SCHEDULE_MEETING, 2, "high_value_without_meeting"),
        (ActionKind.COLLECT_DOCUMENTS, 3, "documents_missing"),
    ]
    assert len({s.action for s in found}) == len(found)


def test_a_later_more_urgent_rule_wins_its_action_and_ties_go_to_the_earlier_rule() -> None:
    rules = load_rules(
        rules_text(
            rule(id="soft", when="idle_beyond_norm", params={"factor": 1}, action="CALL_CUSTOMER", priority=4, reason="soft {days}"),
            rule(id="hard", when="idle_beyond_norm", params={"factor": 1}, action="CALL_CUSTOMER", priority=1, reason="hard {days}"),
            rule(id="same", when="idle_beyond_norm", params={"factor": 1}, action="CALL_CUSTOMER", priority=1, reason="same {days}"),
            rule(id="advance", when="ready_to_advance", params={"factor": 1}, action="ADVANCE_STAGE", priority=1, reason="go"),
        )
    )
    found = suggest(opportunity(days_in_stage=9), CARD, QUIET, rules)
    assert actions(found) == [(ActionKind.CALL_CUSTOMER, 1, "hard"), (ActionKind.ADVANCE_STAGE, 1, "advance")]
    assert found[0].reason == "hard 9"


def test_a_stage_the_pipeline_does_not_know_only_loses_the_stage_rules() -> None:
    opp = opportunity(stage="retired_stage", days_in_stage=100, expected_close_at=None)
    assert actions(suggest(opp, CARD, QUIET, RULES)) == [(ActionKind.UPDATE_CLOSE_DATE, 4, "close_date_missing")]


class TestBook:
    def test_ranked_by_priority_then_amount_then_sooner_close(self) -> None:
        small_late = opportunity("small-late", expected_close_at=NOW - timedelta(days=1), amount=Money(10_000_000))
        big_late = opportunity("big-late", expected_close_at=NOW - timedelta(days=3), amount=Money(90_000_000))
        big_later = opportunity("big-later", expected_close_at=NOW - timedelta(hours=1), amount=Money(90_000_000))
        urgent = opportunity("urgent", source_lead_id=LEAD)
        no_date = opportunity("no-date", expected_close_at=None, amount=Money(900_000_000))
        idle = opportunity("idle", days_in_stage=6, amount=Money(90_000_000), expected_close_at=NOW + timedelta(days=1))
        idle_later = opportunity("idle-later", days_in_stage=6, amount=Money(90_000_000), expected_close_at=NOW + timedelta(days=5))
        closed = opportunity("closed", status=Status.WON, stage="closed_won", source_lead_id=LEAD)
        breached = facts(lead_first_contact_breached=True)
        meeting = facts(has_meeting_planned_or_held=True)
        book = [
            (small_late, CARD, QUIET),
            (idle_later, CARD, QUIET),
            (no_date, CARD, meeting),
            (closed, CARD, breached),
            (big_later, CARD, QUIET),
            (urgent, CARD, breached),
            (idle, CARD, QUIET),
            (big_late, CARD, QUIET),
        ]
        ranked = [(s.opportunity_id, s.action, s.priority) for s in suggest_for_book(book, RULES)]
        assert ranked == [
            ("urgent", ActionKind.CONTACT_NOW, 1),
            ("big-late", ActionKind.UPDATE_CLOSE_DATE, 2),
            ("big-later", ActionKind.UPDATE_CLOSE_DATE, 2),
            ("small-late", ActionKind.UPDATE_CLOSE_DATE, 2),
            ("idle", ActionKind.CALL_CUSTOMER, 3),
            ("idle", ActionKind.ADVANCE_STAGE, 3),
            ("idle-later", ActionKind.CALL_CUSTOMER, 3),
            ("idle-later", ActionKind.ADVANCE_STAGE, 3),
            ("no-date", ActionKind.UPDATE_CLOSE_DATE, 4),
        ]

    def test_the_book_matches_suggest_per_opportunity(self) -> None:
        opp = opportunity(stage="documents_collected", days_in_stage=20, amount=Money(0))
        assert suggest_for_book([(opp, CARD, QUIET)], RULES) == suggest(opp, CARD, QUIET, RULES)

    def test_amounts_in_other_currencies_rank_through_the_given_conversion(self) -> None:
        usd = opportunity("usd", expected_close_at=None, amount=Money(10_000, "USD"))  # 100 USD in cents
        vnd = opportunity("vnd", expected_close_at=None, amount=Money(1_000_000))
        book: list[tuple[Opportunity, Pipeline, OpportunityFacts]] = [(usd, CARD, QUIET), (vnd, CARD, QUIET)]
        # As they are, minor units compare: 1,000,000 đồng before 10,000 cents.
        assert [s.opportunity_id for s in suggest_for_book(book, RULES)] == ["vnd", "usd"]
        dong_per_minor_unit = {"VND": 1, "USD": 254}
        ranked = suggest_for_book(book, RULES, amount_in_vnd=lambda m: m.amount_minor * dong_per_minor_unit[m.currency])
        assert [s.opportunity_id for s in ranked] == ["usd", "vnd"]  # 2,540,000 đồng first


class TestRulesFile:
    def test_the_packaged_default_rules_load_and_use_every_condition_kind(self) -> None:
        rules = default_rules()
        assert {r.when for r in rules} == set(Condition)
        assert {r.action for r in rules} == set(ActionKind)
        assert len({r.id for r in rules}) == len(rules)
        assert all(1 <= r.priority <= 5 for r in rules)

    def test_a_bare_list_of_rules_loads_too(self) -> None:
        [only] = load_rules(json.dumps([rule(id="bare")]))
        assert (only.id, only.when, only.action, only.priority, dict(only.params)) == (
            "bare",
            Condition.CLOSE_DATE_MISSING,
            ActionKind.UPDATE_CLOSE_DATE,
            3,
            {},
        )

    @pytest.mark.parametrize(
        ("changes", "message"),
        [
            ({"when": "moon_is_full"}, "rule 'r1': unknown condition kind 'moon_is_full'"),
            ({"action": "SEND_FLOWERS"}, "rule 'r1': unknown action 'SEND_FLOWERS'"),
            ({"priority": 0}, "rule 'r1': priority must be a whole number 1-5"),
            ({"priority": 6}, "rule 'r1': priority must be a whole number 1-5"),
            ({"priority": "2"}, "rule 'r1': priority must be a whole number 1-5"),
            ({"priority": True}, "rule 'r1': priority must be a whole number 1-5"),
            ({"when": "idle_beyond_norm"}, "rule 'r1': idle_beyond_norm needs params factor"),
            ({"when": "high_value_without_meeting"}, "rule 'r1': high_value_without_meeting needs params min_amount_vnd"),
            ({"when": "exit_criteria_missing"}, "rule 'r1': exit_criteria_missing needs params criteria"),
            ({"when": "idle_beyond_norm", "params": {"factor": 0}}, "rule 'r1': param factor must be a number above 0"),
            ({"when": "idle_beyond_norm", "params": {"factor": "2"}}, "rule 'r1': param factor must be a number above 0"),
            ({"when": "exit_criteria_missing", "params": {"criteria": "both"}}, "rule 'r1': param criteria must be"),
            ({"when": "high_value_without_meeting", "params": {"min_amount_vnd": 1.5}}, "rule 'r1': param min_amount_vnd must be a whole number"),
            ({"params": {"factor": 1}}, "rule 'r1': close_date_missing takes no params factor"),
            ({"params": []}, "rule 'r1': params must be an object"),
            ({"reason": "idle {days} days"}, r"rule 'r1': the reason uses days, which close_date_missing does not offer \(offered: \{stage\}\)"),
            ({"reason": "{stage:d}"}, "rule 'r1': the reason template does not format"),
            ({"reason": "  "}, "rule 'r1': a rule needs a reason template"),
            ({"colour": "red"}, r"rule 'r1': unknown keys \['colour'\]"),
            ({"id": ""}, r"rules\[0\]: a rule needs an id"),
        ],
    )
    def test_a_bad_rule_is_refused_naming_it(self, changes: dict[str, Any], message: str) -> None:
        with pytest.raises(RuleError, match=message):
            load_rules(rules_text(rule(**changes)))

    def test_repeated_ids_are_refused(self) -> None:
        with pytest.raises(RuleError, match="rule 'r1': the id repeats"):
            load_rules(rules_text(rule(), rule()))

    @pytest.mark.parametrize("text", ["{", '{"rules": 3}', '"rules"', '{"other": []}', "[1]"])
    def test_something_else_than_rules_is_refused(self, text: str) -> None:
        with pytest.raises(RuleError):
            load_rules(text)

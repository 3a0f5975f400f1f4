"""Lead domain rules without I/O: the status machine, the MQL rule, scoring, assignment, SLA."""

from datetime import UTC, datetime, timedelta

import pytest

from crm_common.errors import FailedPrecondition
from crm_lead.domain.assignment import FirstContactSla, round_robin_pick
from crm_lead.domain.capture import LeadDraft, clean
from crm_lead.domain.model import TRANSITIONS, ContactAttempt, ContactOutcome, Lead, Source, Status
from crm_lead.domain.scoring import DEFAULT_RULES, ScoringRules

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def make_lead(**overrides: object) -> Lead:
    values: dict[str, object] = dict(
        lead_id="l1",
        status=Status.NEW,
        full_name="Nguyễn Văn An",
        phone_e164="+84912345678",
        email="",
        national_id="",
        province_code="",
        product_interest="CREDIT_CARD",
        source=Source(channel="WEB_FORM"),
        requested_amount_minor=None,
        currency="",
        marketing_consent=False,
        note="",
        created_at=NOW,
        created_by="t",
        updated_at=NOW,
        updated_by="t",
    )
    values.update(overrides)
    return Lead(**values)  # type: ignore[arg-type]


def test_mql_rule_needs_interest_and_a_contact_point() -> None:
    assert make_lead().meets_mql_rule
    assert not make_lead(product_interest="").meets_mql_rule
    assert not make_lead(full_name="").meets_mql_rule
    assert not make_lead(phone_e164="", email="").meets_mql_rule
    assert make_lead(phone_e164="", email="a@b.vn").meets_mql_rule


def test_converted_is_terminal_and_every_status_has_rules() -> None:
    assert set(TRANSITIONS) == set(Status)
    assert TRANSITIONS[Status.CONVERTED] == frozenset()
    assert Status.CONVERTED in TRANSITIONS[Status.SQL]
    assert all(Status.CONVERTED not in TRANSITIONS[s] for s in Status if s != Status.SQL)


def test_sales_path_to_conversion() -> None:
    lead = make_lead()
    assert lead.promote_if_marketing_qualified("t", NOW)
    lead.assign("agent", "", NOW + timedelta(minutes=30), "t", NOW)
    attempt = ContactAttempt("a1", "l1", "PHONE", ContactOutcome.REACHED, "", "agent", NOW + timedelta(minutes=10))
    assert lead.record_contact(attempt, "agent", NOW)
    assert lead.status == Status.CONTACTED and lead.minutes_to_first_contact() == 10
    assert not lead.first_contact_sla_breached(NOW + timedelta(hours=5))
    lead.qualify(True, "", "agent", NOW)
    lead.ensure_convertible()
    lead.mark_converted("acc", "opp", False, "rm", NOW)
    assert lead.status == Status.CONVERTED
    with pytest.raises(FailedPrecondition):
        lead.disqualify("OTHER", "", "t", NOW)


def test_illegal_moves_are_failed_preconditions() -> None:
    with pytest.raises(FailedPrecondition, match="MQL"):
        make_lead(product_interest="").qualify(True, "", "t", NOW)
    mql = make_lead(status=Status.MQL)
    with pytest.raises(FailedPrecondition, match="reached"):
        mql.qualify(False, "", "t", NOW)
    with pytest.raises(FailedPrecondition):
        mql.ensure_convertible()
    with pytest.raises(FailedPrecondition, match="not assigned"):
        mql.record_contact(ContactAttempt("a", "l1", "PHONE", ContactOutcome.BUSY, "", "x", NOW), "x", NOW)
    with pytest.raises(FailedPrecondition, match="sales"):
        make_lead(status=Status.NURTURE).assign("x", "", NOW, "t", NOW)


def test_first_contact_sla_is_breached_when_late_or_overdue() -> None:
    lead = make_lead(status=Status.MQL)
    lead.assign("agent", "", NOW + timedelta(minutes=30), "t", NOW)
    assert not lead.first_contact_sla_breached(NOW + timedelta(minutes=29))
    assert lead.first_contact_sla_breached(NOW + timedelta(minutes=31))
    sla = FirstContactSla(standard_minutes=240, hot_minutes=30, hot_score=60)
    assert sla.due_at(NOW, 80) == NOW + timedelta(minutes=30)
    assert sla.due_at(NOW, 20) == NOW + timedelta(hours=4)


def test_round_robin_cycles_and_refuses_an_empty_team() -> None:
    assert [round_robin_pick("t", ["a", "b", "c"], n) for n in range(5)] == ["a", "b", "c", "a", "b"]
    with pytest.raises(FailedPrecondition):
        round_robin_pick("t", [], 0)


def test_score_is_explained_and_capped() -> None:
    rules = ScoringRules.load()
    lead = make_lead(phone_is_mobile=True, marketing_consent=True, email="a@b.vn", source=Source(channel="REFERRAL", data_origin="FIRST_PARTY"))
    score, reasons = rules.score(lead)
    assert score == sum(r.points for r in reasons)
    assert {"channel", "data_origin", "completeness.phone", "mobile_phone", "marketing_consent", "product_interest"} <= {r.rule for r in reasons}
    busy, _ = rules.score(lead, ["CALCULATOR_USED"] * 50 + ["BRANCH_VISIT"] * 3 + ["PRICING_VIEW"] * 10)
    assert busy == DEFAULT_RULES["max_score"]
    bought, _ = rules.score(make_lead(source=Source(channel="IMPORT", data_origin="THIRD_PARTY"), product_interest="", full_name=""))
    assert 0 <= bought < score


def test_behaviour_points_are_capped_per_kind() -> None:
    rules = ScoringRules({**DEFAULT_RULES, "max_score": 1000})
    base, _ = rules.score(make_lead())
    views, reasons = rules.score(make_lead(), ["PAGE_VIEW"] * 40)
    assert views - base == DEFAULT_RULES["behaviour"]["PAGE_VIEW"]["max"]
    assert any(r.detail.startswith("40 ×") for r in reasons)


def test_clean_collects_every_violation() -> None:
    data, violations = clean(LeadDraft(phone="123", email="bad", province_code="00", requested_amount_minor=-1, currency="XYZ"))
    assert data is None
    assert {v.field for v in violations} == {
        "contact.phone",
        "contact.email",
        "contact.province_code",
        "source.channel",
        "requested_amount.amount_minor",
        "requested_amount.currency_code",
    }
    data, violations = clean(
        LeadDraft(full_name=" Lê  Thị Hoa ", email="HOA@X.VN", source=Source(channel="BRANCH"), requested_amount_minor=50_000_000)
    )
    assert violations == [] and data is not None
    assert (data.full_name, data.email, data.currency) == ("Lê Thị Hoa", "hoa@x.vn", "VND")


def test_scoring_rules_come_from_a_file(tmp_path) -> None:  # type: ignore[no-untyped-def]
    rules_file = tmp_path / "rules.json"
    rules_file.write_text('{"channel": {"WEB_FORM": 40}, "product_interest": {}, "mobile_phone": 0}', encoding="utf-8")
    rules = ScoringRules.load(str(rules_file))
    score, reasons = rules.score(make_lead())
    assert next(r for r in reasons if r.rule == "channel").points == 40
    assert not any(r.rule == "product_interest" for r in reasons)
    assert score == sum(r.points for r in reasons)
    bad = tmp_path / "bad.json"
    bad.write_text("[1, 2]", encoding="utf-8")
    with pytest.raises(ValueError, match="JSON object"):
        ScoringRules.load(str(bad))


def test_sales_sees_only_the_leads_it_works_on() -> None:
    from crm_lead.domain.model import visible_statuses

    assert visible_statuses((), sales_view=False) == ()
    assert visible_statuses((), sales_view=True) == ("CONTACTED", "CONVERTED", "MQL", "SQL")
    assert visible_statuses(("NEW", "SQL"), sales_view=True) == ("SQL",)
    assert visible_statuses(("NURTURE",), sales_view=True) is None
    assert visible_statuses(("NURTURE",), sales_view=False) == ("NURTURE",)

"""Pipelines as data: the seeded defaults, what a pipelines file must hold, and the move rules."""

from __future__ import annotations

import json

import pytest

from crm_common.errors import FailedPrecondition
from crm_opportunity.domain.model import CREDIT_PRODUCTS, ProductType
from crm_opportunity.domain.pipeline import PIPELINES, PipelineError, check_move, check_win, parse_pipelines


def document(**changes: object) -> str:
    raw = json.loads(
        json.dumps(
            {
                "pipelines": [
                    {"product": p.value, "version": 1, "stages": [{"name": f"s{i}", "probability": i * 10} for i in range(5)]} for p in ProductType
                ],
                "lost_reasons": [{"code": "NOT_ELIGIBLE", "label": "Không đủ điều kiện"}, {"code": "PRICE", "label": "Giá"}],
            }
        )
    )
    raw["pipelines"][0].update(changes)
    return json.dumps(raw)


def test_every_product_has_a_seeded_pipeline_of_5_to_7_stages() -> None:
    assert set(PIPELINES) == set(ProductType)
    assert all(5 <= len(p.stages) <= 7 for p in PIPELINES.values())


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"stages": [{"name": "a", "probability": 1}]}, "5 to 7 stages"),
        ({"product": "YACHT"}, "unknown product"),
        ({"stages": [{"name": "a", "probability": 1}] * 5}, "stage names repeat"),
        ({"stages": [{"name": f"s{i}", "probability": 120} for i in range(5)]}, "probability must be 0-100"),
        ({"stages": [{"name": f"s{i}", "probability": 1, "required_fields": ["colour"]} for i in range(5)]}, "unknown required fields"),
        ({"win_from": ["s9"]}, r"win_from names no stage of the pipeline: \['s9'\]"),
        ({"win_from": "s4"}, "win_from is a list of stage names"),
    ],
)
def test_a_bad_pipelines_file_names_what_is_wrong(changes: dict[str, object], message: str) -> None:
    with pytest.raises(PipelineError, match=message):
        parse_pipelines(document(**changes))


def test_a_product_without_a_pipeline_is_refused() -> None:
    raw = json.loads(document())
    raw["pipelines"].pop()
    with pytest.raises(PipelineError, match="no pipeline for"):
        parse_pipelines(json.dumps(raw))


def lost_reasons(*reasons: dict[str, object]) -> str:
    raw = json.loads(document())
    raw["lost_reasons"] = list(reasons)
    return json.dumps(raw)


def test_lost_reasons_apply_to_every_product_or_to_those_named() -> None:
    mortgage_only = {"code": "PROPERTY_LEGAL_ISSUE", "label": "Pháp lý", "products": ["MORTGAGE"]}
    pipelines = parse_pipelines(lost_reasons({"code": "NOT_ELIGIBLE", "label": "Không đủ", "requires_competitor": False}, mortgage_only))
    assert [r.code for r in pipelines[ProductType.MORTGAGE].lost_reasons] == ["NOT_ELIGIBLE", "PROPERTY_LEGAL_ISSUE"]
    assert pipelines[ProductType.CREDIT_CARD].lost_reason("PROPERTY_LEGAL_ISSUE") is None
    assert pipelines[ProductType.MORTGAGE].lost_reason("PROPERTY_LEGAL_ISSUE") is not None


def test_the_seeded_lost_reasons() -> None:
    competitor = PIPELINES[ProductType.CASA].lost_reason("COMPETITOR")
    assert competitor is not None and competitor.requires_competitor and competitor.label
    assert all(p.lost_reason("NOT_ELIGIBLE") for p in PIPELINES.values())


@pytest.mark.parametrize(
    ("reasons", "message"),
    [
        ([{"code": "price", "label": "Giá"}], "not 2-30 upper-case"),
        ([{"code": "NOT_ELIGIBLE", "label": "a"}, {"code": "NOT_ELIGIBLE", "label": "b"}], "repeats"),
        ([{"code": "NOT_ELIGIBLE", "label": " "}], "label required"),
        ([{"code": "NOT_ELIGIBLE"}], "lost_reasons\\[0\\]"),
        ([{"code": "NOT_ELIGIBLE", "label": "a", "products": ["YACHT"]}], "lost_reasons\\[0\\]"),
        # A declining LOS decision loses a credit product as NOT_ELIGIBLE.
        ([{"code": "PRICE", "label": "Giá"}], "CREDIT_CARD needs NOT_ELIGIBLE"),
        ([{"code": "NOT_ELIGIBLE", "label": "a", "products": sorted(CREDIT_PRODUCTS)}], "needs at least one reason"),
    ],
)
def test_a_bad_lost_reasons_list_names_what_is_wrong(reasons: list[dict[str, object]], message: str) -> None:
    with pytest.raises(PipelineError, match=message):
        parse_pipelines(lost_reasons(*reasons))


def test_move_rules() -> None:
    card = PIPELINES[ProductType.CREDIT_CARD]
    check_move(card, "needs_analysis", "qualification", set(), set())  # backward: always
    with pytest.raises(FailedPrecondition, match="field amount is not set"):
        check_move(card, "needs_analysis", "documents_collected", set(), set())
    with pytest.raises(FailedPrecondition, match="cannot skip"):
        check_move(card, "qualification", "documents_collected", {"amount"}, set())
    deposit = PIPELINES[ProductType.TERM_DEPOSIT]
    with pytest.raises(FailedPrecondition, match="cannot leave proposal for funds_committed: checklist item rate_offer_sent"):
        check_move(deposit, "qualification", "funds_committed", {"amount", "expected_close_at"}, set())


def test_win_rules() -> None:
    card = PIPELINES[ProductType.CREDIT_CARD]
    assert card.winning_stages == ("approved",)  # no win_from in the shipped file: the last stage
    with pytest.raises(FailedPrecondition, match=r"won from approved \(pipeline v1\); this one is at needs_analysis"):
        check_win(card, "needs_analysis", {"amount"}, set())
    with pytest.raises(FailedPrecondition, match="cannot win from approved: approved needs checklist item card_delivered is not done"):
        check_win(card, "approved", {"amount"}, set())
    check_win(card, "approved", set(), {"card_delivered"})
    deposit = PIPELINES[ProductType.TERM_DEPOSIT]  # may skip: every exit criterion on the way
    with pytest.raises(FailedPrecondition, match="cannot win from proposal: negotiation needs field expected_close_at is not set"):
        check_win(deposit, "proposal", {"amount"}, {"rate_offer_sent", "source_of_funds_declared"})
    check_win(deposit, "proposal", {"amount", "expected_close_at"}, {"rate_offer_sent", "source_of_funds_declared"})
    named = parse_pipelines(document(win_from=["s2", "s4"]))[next(iter(ProductType))]
    assert named.winning_stages == ("s2", "s4")
    check_win(named, "s2", set(), set())
    with pytest.raises(FailedPrecondition, match="won from s2 or s4"):
        check_win(named, "s3", set(), set())

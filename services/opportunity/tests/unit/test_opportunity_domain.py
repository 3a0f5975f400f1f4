"""The opportunity's domain rules: validation, money, the pipeline's entry stage, product names, amending."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from crm.common.v1 import common_pb2
from crm_common.errors import FailedPrecondition
from crm_common.grpc.enums import UNKNOWN, enum_name, enum_number
from crm_opportunity.domain.drafting import OpportunityDraft, clean_opportunity
from crm_opportunity.domain.model import Money, Opportunity, ProductType, Status
from crm_opportunity.domain.pipeline import pipeline_for

ACCOUNT = "3f2b8c1e-5d4a-4b7e-9c2d-1a2b3c4d5e6f"


def violations(**fields: Any) -> list[tuple[str, str]]:
    _, found = clean_opportunity(OpportunityDraft(**{"account_id": ACCOUNT, "product": "CREDIT_CARD", **fields}))
    return [(v.field, v.description) for v in found]


class TestClean:
    def test_a_complete_draft_is_clean(self) -> None:
        new, found = clean_opportunity(OpportunityDraft(ACCOUNT, "MORTGAGE", 2_500_000_000, "vnd", None, " rm-1 ", "team-hn", "lead-1", "camp-1"))
        assert found == []
        assert new is not None
        assert (new.product, new.amount, new.owner_id, new.team_id) == (ProductType.MORTGAGE, Money(2_500_000_000, "VND"), "rm-1", "team-hn")

    def test_no_amount_is_zero_dong(self) -> None:
        new, _ = clean_opportunity(OpportunityDraft(ACCOUNT, "CASA"))
        assert new is not None and new.amount == Money(0, "VND")

    def test_amount_without_currency_is_dong(self) -> None:
        new, _ = clean_opportunity(OpportunityDraft(ACCOUNT, "CASA", amount_minor=5_000))
        assert new is not None and new.amount == Money(5_000, "VND")

    def test_other_currencies_are_kept(self) -> None:
        new, _ = clean_opportunity(OpportunityDraft(ACCOUNT, "TERM_DEPOSIT", amount_minor=10_000, currency="USD"))
        assert new is not None and new.amount == Money(10_000, "USD")

    def test_every_violation_at_once(self) -> None:
        _, found = clean_opportunity(OpportunityDraft(amount_minor=-1, currency="dong", team_id="t" * 101))
        assert [(v.field, v.description) for v in found] == [
            ("account_id", "required"),
            ("product", "required"),
            ("amount.currency_code", "an ISO 4217 code: three letters, e.g. VND"),
            ("amount.amount_minor", "must not be negative"),
            ("team_id", "at most 100 characters"),
        ]

    @pytest.mark.parametrize(
        ("fields", "expected"),
        [
            ({"account_id": "acc-1"}, [("account_id", "not a valid account id")]),
            ({"product": "99"}, [("product", "unknown product 99")]),
            ({"amount_minor": -5}, [("amount.amount_minor", "must not be negative")]),
            ({"currency": "V1D"}, [("amount.currency_code", "an ISO 4217 code: three letters, e.g. VND")]),
            ({"currency": "VN"}, [("amount.currency_code", "an ISO 4217 code: three letters, e.g. VND")]),
            ({"source_lead_id": "x" * 101}, [("source_lead_id", "at most 100 characters")]),
            ({"owner_id": "x" * 101}, [("owner_id", "at most 100 characters")]),
            ({"campaign_id": "x" * 101}, [("campaign_id", "at most 100 characters")]),
        ],
    )
    def test_each_bad_field_is_named(self, fields: dict[str, Any], expected: list[tuple[str, str]]) -> None:
        assert violations(**fields) == expected

    def test_zero_is_a_valid_amount(self) -> None:
        assert violations(amount_minor=0) == []


class TestPipeline:
    @pytest.mark.parametrize("product", list(ProductType))
    def test_every_product_enters_at_qualification(self, product: ProductType) -> None:
        stage = pipeline_for(product).first
        assert (stage.name, stage.probability_percent) == ("qualification", 10)


class TestProductNames:
    def test_round_trip_for_every_product(self) -> None:
        for product in ProductType:
            assert enum_name(common_pb2.ProductType, enum_number(common_pb2.ProductType, product)) == str(product)

    def test_every_contract_product_is_known(self) -> None:
        names = {enum_name(common_pb2.ProductType, v) for v in common_pb2.ProductType.values()} - {""}
        assert names == {str(p) for p in ProductType}

    def test_unspecified_and_unknown(self) -> None:
        assert enum_name(common_pb2.ProductType, common_pb2.PRODUCT_TYPE_UNSPECIFIED) == ""
        assert enum_name(common_pb2.ProductType, 99) == UNKNOWN


def an_open_card() -> Opportunity:
    when = datetime(2026, 11, 2, tzinfo=UTC)
    return Opportunity(
        "opp-1",
        ACCOUNT,
        ProductType.CREDIT_CARD,
        Money(80_000_000),
        None,
        "rm-1",
        "team-a",
        "",
        "",
        Status.OPEN,
        "qualification",
        10,
        when,
        "rm-1",
        when,
        "rm-1",
    )


class TestAmend:
    NOW = datetime(2026, 11, 20, tzinfo=UTC)

    def test_only_what_differs_is_changed_and_stamped(self) -> None:
        card = an_open_card()
        changed = card.amend({"next_step": "Gọi lại", "team_id": "team-a", "amount": Money(90_000_000)}, "rm-2", self.NOW)
        assert changed == ["amount", "next_step"]
        assert (card.amount, card.next_step, card.updated_by, card.updated_at) == (Money(90_000_000), "Gọi lại", "rm-2", self.NOW)

    def test_nothing_changed_leaves_the_stamp(self) -> None:
        card = an_open_card()
        assert card.amend({"team_id": "team-a"}, "rm-2", self.NOW) == []
        assert card.updated_by == "rm-1"

    def test_a_probability_override_lasts_until_the_stage_moves_or_it_closes(self) -> None:
        card = an_open_card()
        assert card.amend({"probability_percent": 10}, "rm-1", self.NOW) == ["probability_percent"]  # same figure, now by hand
        assert card.probability_overridden
        assert card.amend({"probability_percent": 10}, "rm-1", self.NOW) == []
        card.move_to("needs_analysis", 25, "PIPELINE", "rm-1", self.NOW)
        assert (card.probability_percent, card.probability_overridden) == (25, False)
        card.amend({"probability_percent": 60}, "rm-1", self.NOW)
        card.win(None, "rm-1", self.NOW)
        assert (card.probability_percent, card.probability_overridden) == (100, False)

    def test_a_closed_opportunity_does_not_change(self) -> None:
        card = an_open_card()
        card.lose("PRICE", "", "rm-1", self.NOW)
        with pytest.raises(FailedPrecondition, match="reopen it"):
            card.amend({"next_step": "x"}, "rm-1", self.NOW)

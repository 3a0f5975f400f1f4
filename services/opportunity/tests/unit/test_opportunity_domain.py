"""The opportunity's domain rules: validation, money, the pipeline's entry stage, product names."""

from __future__ import annotations

from typing import Any

import pytest

from crm.common.v1 import common_pb2
from crm_opportunity.adapters.proto_mapping import product_name, product_to_proto
from crm_opportunity.domain.drafting import OpportunityDraft, clean_opportunity
from crm_opportunity.domain.model import Money, Product
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
        assert (new.product, new.amount, new.owner_id, new.team_id) == (Product.MORTGAGE, Money(2_500_000_000, "VND"), "rm-1", "team-hn")

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
    @pytest.mark.parametrize("product", list(Product))
    def test_every_product_enters_at_qualification(self, product: Product) -> None:
        stage = pipeline_for(product).first
        assert (stage.name, stage.probability_percent) == ("qualification", 10)


class TestProductNames:
    def test_round_trip_for_every_product(self) -> None:
        for product in Product:
            assert product_name(product_to_proto(product)) == str(product)

    def test_every_contract_product_is_known(self) -> None:
        names = {product_name(v) for v in common_pb2.ProductType.values()} - {""}
        assert names == {str(p) for p in Product}

    def test_unspecified_and_unknown(self) -> None:
        assert product_name(common_pb2.PRODUCT_TYPE_UNSPECIFIED) == ""
        assert product_name(99) == "99"

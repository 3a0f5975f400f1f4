"""Assignment rules: order, matching, explanations, overlapping and shadowed rules, scale."""

from __future__ import annotations

import random
import time

import pytest

from crm_common.errors import InvalidArgument
from crm_common.products import ProductType
from crm_territory.domain.hierarchy import Hierarchy, Level, NodeSpec, Segment, WealthTier
from crm_territory.domain.members import Member, Team
from crm_territory.domain.rules import Conditions, OwnerStrategy, Rule, RuleSet, Subject, SubjectKind, validate_rules

PRIVATE_AUM = 25_000_000_000
AFFLUENT_AUM = 1_000_000_000


def rules() -> list[Rule]:
    return [
        Rule(
            "R-PRIVATE",
            10,
            "VN.NORTH.HN.HNAFF",
            OwnerStrategy.NAMED_RM,
            Conditions(province_codes=frozenset({"01"}), aum_min=PRIVATE_AUM),
            owner_id="rm-p",
        ),
        Rule(
            "R-AFF",
            20,
            "VN.NORTH.HN.HNAFF",
            OwnerStrategy.LEAST_LOADED,
            Conditions(province_codes=frozenset({"01"}), tiers=frozenset({WealthTier.AFFLUENT})),
            team_id="T-HNAFF",
        ),
        Rule(
            "R-HOT",
            30,
            "VN.NORTH.HN.HN01",
            OwnerStrategy.ROUND_ROBIN,
            Conditions(branch_ids=frozenset({"B-HN01"}), lead_score_min=60),
            team_id="T-HN01",
        ),
        Rule("R-HN", 40, "VN.NORTH.HN.HN01", OwnerStrategy.SKILL_MATCH, Conditions(province_codes=frozenset({"01"})), team_id="T-HN01"),
        Rule("R-HCM", 40, "VN.SOUTH.HCM.HCM01", OwnerStrategy.LEAST_LOADED, Conditions(province_codes=frozenset({"79"})), team_id="T-HCM01"),
    ]


def lead(**attributes: object) -> Subject:
    return Subject(SubjectKind.LEAD, "lead-1", **attributes)  # type: ignore[arg-type]


def test_the_first_matching_rule_in_order_wins() -> None:
    rule_set = RuleSet(rules())
    assert rule_set.match(lead(province_code="01", aum=PRIVATE_AUM)).rule_id == "R-PRIVATE"  # type: ignore[union-attr]
    assert rule_set.match(lead(province_code="01", tier=WealthTier.AFFLUENT)).rule_id == "R-AFF"  # type: ignore[union-attr]
    assert rule_set.match(lead(province_code="01", branch_id="B-HN01", lead_score=75)).rule_id == "R-HOT"  # type: ignore[union-attr]
    assert rule_set.match(lead(province_code="01", branch_id="B-HN01", lead_score=20)).rule_id == "R-HN"  # type: ignore[union-attr]
    assert rule_set.match(lead(province_code="79")).rule_id == "R-HCM"  # type: ignore[union-attr]
    assert rule_set.match(lead(province_code="48")) is None


def test_the_explanation_says_why_each_earlier_rule_did_not_match() -> None:
    explanation = RuleSet(rules()).explain(lead(province_code="01", branch_id="B-HN01", lead_score=20, aum=5_000_000))
    assert explanation.rule is not None and explanation.rule.rule_id == "R-HN"
    assert [(e.rule_id, e.matched) for e in explanation.evaluations] == [
        ("R-PRIVATE", False),
        ("R-AFF", False),
        ("R-HOT", False),
        ("R-HCM", False),
        ("R-HN", True),
    ]
    private, affluent, hot, hcm, _ = explanation.evaluations
    assert [(f.attribute, f.expected, f.actual) for f in private.failures] == [("aum", f"from {PRIVATE_AUM}", "5000000")]
    assert [(f.attribute, f.expected, f.actual) for f in affluent.failures] == [("tiers", "one of AFFLUENT", "unset")]
    assert [(f.attribute, f.expected, f.actual) for f in hot.failures] == [("lead_score", "from 60", "20")]
    assert [(f.attribute, f.expected, f.actual) for f in hcm.failures] == [("province_codes", "one of 79", "01")]
    assert explanation.summary() == (
        "rule R-HN matched; earlier rules did not: R-PRIVATE (aum wants from 25000000000, has 5000000), "
        "R-AFF (tiers wants one of AFFLUENT, has unset), R-HOT (lead_score wants from 60, has 20), R-HCM (province_codes wants one of 79, has 01)"
    )


def test_every_failed_condition_of_a_rule_is_listed_and_no_match_is_explained() -> None:
    rule = Rule(
        "R-ALL",
        1,
        "VN",
        OwnerStrategy.LEAST_LOADED,
        Conditions(
            province_codes=frozenset({"79", "01"}),
            products=frozenset({ProductType.MORTGAGE}),
            segments=frozenset({Segment.SME}),
            languages=frozenset({"en"}),
        ),
        team_id="T",
    )
    explanation = RuleSet([rule]).explain(lead(province_code="48", products=frozenset({ProductType.CREDIT_CARD}), language="vi"))
    assert explanation.rule is None
    assert [(f.attribute, f.expected, f.actual) for f in explanation.evaluations[0].failures] == [
        ("province_codes", "one of 01, 79", "48"),
        ("languages", "one of en", "vi"),
        ("products", "one of MORTGAGE", "CREDIT_CARD"),
        ("segments", "one of SME", "unset"),
    ]
    assert explanation.summary().startswith("no rule matched: R-ALL (province_codes wants one of 01, 79, has 48;")


def test_bands_aum_upper_bound_is_exclusive_and_lead_score_bounds_inclusive() -> None:
    band = Rule("R", 1, "VN", OwnerStrategy.NAMED_RM, Conditions(aum_min=AFFLUENT_AUM, aum_max=PRIVATE_AUM), owner_id="x")
    scored = Rule("S", 2, "VN", OwnerStrategy.NAMED_RM, Conditions(lead_score_min=40, lead_score_max=60), owner_id="x")
    rule_set = RuleSet([band, scored])
    assert rule_set.match(lead(aum=AFFLUENT_AUM)) is band
    assert rule_set.match(lead(aum=PRIVATE_AUM - 1)) is band
    assert rule_set.match(lead(aum=PRIVATE_AUM)) is None
    assert rule_set.match(lead(lead_score=60)) is scored and rule_set.match(lead(lead_score=40)) is scored
    assert rule_set.match(lead(lead_score=61)) is None
    account = Subject(SubjectKind.ACCOUNT, "acc-1")  # no score, no AUM: fails both bands
    assert rule_set.match(account) is None
    assert [f.actual for f in rule_set.explain(account).evaluations[1].failures] == ["unset"]


def test_indexed_matching_agrees_with_the_full_explanation_on_random_subjects() -> None:
    generator = random.Random(13)
    provinces = ["01", "79", "48", "31", "92"]
    branches = [f"B{i}" for i in range(12)]
    rule_list = []
    for i in range(150):
        conditions = Conditions(
            province_codes=frozenset(generator.sample(provinces, generator.randint(0, 2))),
            branch_ids=frozenset(generator.sample(branches, generator.choice([0, 0, 1, 2]))),
            products=frozenset(generator.sample(list(ProductType), generator.randint(0, 2))),
            tiers=frozenset(generator.sample(list(WealthTier), generator.randint(0, 1))),
            languages=frozenset(generator.sample(["vi", "en"], generator.randint(0, 1))),
            aum_min=generator.choice([None, AFFLUENT_AUM]),
            lead_score_min=generator.choice([None, None, 50]),
        )
        rule_list.append(Rule(f"R{i:03d}", i, "VN", OwnerStrategy.NAMED_RM, conditions, owner_id="x"))
    rule_set = RuleSet(rule_list)
    for n in range(2000):
        subject = Subject(
            SubjectKind.LEAD,
            f"s{n}",
            province_code=generator.choice(provinces),
            branch_id=generator.choice(branches),
            products=frozenset(generator.sample(list(ProductType), generator.randint(0, 2))),
            tier=generator.choice([None, *WealthTier]),
            aum=generator.choice([None, 0, AFFLUENT_AUM, PRIVATE_AUM]),
            lead_score=generator.choice([None, 10, 70]),
            language=generator.choice(["", "vi", "en"]),
        )
        assert rule_set.match(subject) is rule_set.explain(subject).rule


def test_valid_rules_pass(hierarchy: Hierarchy, teams: list[Team], members: list[Member]) -> None:
    assert validate_rules(rules(), hierarchy, teams, members).shadowed_rule_ids == []


def test_overlapping_rules_at_the_same_priority_are_refused(hierarchy: Hierarchy, teams: list[Team]) -> None:
    overlapping = Rule(
        "R-HN-CARDS", 40, "VN.NORTH.HN.HN01", OwnerStrategy.ROUND_ROBIN, Conditions(products=frozenset({ProductType.CREDIT_CARD})), team_id="T-HN01"
    )
    with pytest.raises(InvalidArgument) as caught:
        validate_rules([*rules(), overlapping], hierarchy, teams)
    assert {(v.field, v.description) for v in caught.value.violations} == {
        ("rules[5]", "R-HN-CARDS overlaps R-HN at priority 40: a subject could match both; give one another priority"),
        ("rules[5]", "R-HN-CARDS overlaps R-HCM at priority 40: a subject could match both; give one another priority"),
    }


def test_rules_at_one_priority_with_disjoint_bands_do_not_overlap(hierarchy: Hierarchy, teams: list[Team]) -> None:
    low = Rule("LOW", 5, "VN.NORTH.HN.HN01", OwnerStrategy.ROUND_ROBIN, Conditions(aum_max=AFFLUENT_AUM), team_id="T-HN01")
    high = Rule("HIGH", 5, "VN.NORTH.HN.HNAFF", OwnerStrategy.ROUND_ROBIN, Conditions(aum_min=AFFLUENT_AUM), team_id="T-HNAFF")
    cold = Rule("COLD", 6, "VN.NORTH.HN.HN01", OwnerStrategy.ROUND_ROBIN, Conditions(lead_score_max=49), team_id="T-HN01")
    hot = Rule("HOT", 6, "VN.NORTH.HN.HN01", OwnerStrategy.ROUND_ROBIN, Conditions(lead_score_min=50), team_id="T-HN01")
    assert validate_rules([low, high, cold, hot], hierarchy, teams).shadowed_rule_ids == []


def test_a_rule_an_earlier_one_always_beats_is_reported_as_shadowed(hierarchy: Hierarchy, teams: list[Team]) -> None:
    broad = Rule("BROAD", 1, "VN.NORTH.HN.HN01", OwnerStrategy.ROUND_ROBIN, Conditions(province_codes=frozenset({"01", "79"})), team_id="T-HN01")
    narrow = Rule(
        "NARROW",
        2,
        "VN.NORTH.HN.HNAFF",
        OwnerStrategy.ROUND_ROBIN,
        Conditions(province_codes=frozenset({"01"}), tiers=frozenset({WealthTier.AFFLUENT})),
        team_id="T-HNAFF",
    )
    assert validate_rules([narrow, broad], hierarchy, teams).shadowed_rule_ids == ["NARROW"]


def test_rule_fields_owners_and_teams_are_checked(hierarchy: Hierarchy, teams: list[Team], members: list[Member]) -> None:
    bad = [
        Rule("", -1, "VN.EAST", OwnerStrategy.NAMED_RM, Conditions(province_codes=frozenset({"99"}), languages=frozenset({"Vietnamese"}))),
        Rule(
            "R2",
            1,
            "VN.SOUTH.HCM.HCM01",
            OwnerStrategy.ROUND_ROBIN,
            Conditions(aum_min=10, aum_max=10, lead_score_min=9, lead_score_max=1),
            team_id="T-HN01",
        ),
        Rule("R3", 2, "VN.SOUTH.HCM.HCM01", OwnerStrategy.NAMED_RM, owner_id="rm-a"),
        Rule("R3", 3, "VN", OwnerStrategy.LEAST_LOADED, owner_id="rm-a", team_id="T-NONE"),
    ]
    with pytest.raises(InvalidArgument) as caught:
        validate_rules(bad, hierarchy, teams, members)
    found = {(v.field, v.description) for v in caught.value.violations}
    assert found == {
        ("rules[0].rule_id", "required"),
        ("rules[0].priority", "0 or more"),
        ("rules[0].territory_id", "unknown territory 'VN.EAST'"),
        ("rules[0].owner_id", "required for NAMED_RM"),
        ("rules[0].conditions.province_codes", "'99' is not a GSO province code"),
        ("rules[0].conditions.languages", "'Vietnamese' is not a lower-case BCP 47 primary tag"),
        ("rules[1].team_id", "team T-HN01 is in VN.NORTH.HN.HN01, not on the path of VN.SOUTH.HCM.HCM01"),
        ("rules[1].conditions.aum_max", "must be above aum_min (the band is [min, max))"),
        ("rules[1].conditions.lead_score_max", "must be at least lead_score_min"),
        ("rules[2].owner_id", "rm-a works in VN.NORTH.HN.HN01, not on the path of VN.SOUTH.HCM.HCM01"),
        ("rules[3].rule_id", "duplicate of rules[2]"),
        ("rules[3].owner_id", "only NAMED_RM names an owner, not LEAST_LOADED"),
        ("rules[3].team_id", "unknown team 'T-NONE'"),
    }


def test_thousands_of_rules_at_one_priority_validate_and_match_without_a_cap() -> None:
    specs = [NodeSpec("VN", "", "Bank", Level.BANK), NodeSpec("P", "VN", "Hà Nội", Level.PROVINCE, province_code="01")]
    specs += [NodeSpec(f"B{i}", "P", f"branch {i}", Level.BRANCH, branch_id=f"B{i}") for i in range(5000)]
    tree = Hierarchy.build(specs)
    many = [
        Rule(f"R{i}", 100, f"VN.P.B{i}", OwnerStrategy.NAMED_RM, Conditions(branch_ids=frozenset({f"B{i}"})), owner_id=f"rm-{i}") for i in range(5000)
    ]
    many.append(Rule("CATCH-ALL", 999, "VN.P", OwnerStrategy.NAMED_RM, owner_id="rm-queue"))
    started = time.perf_counter()
    validate_rules(many, tree)
    rule_set = RuleSet(many)
    assert rule_set.match(lead(branch_id="B4321")).territory_id == "VN.P.B4321"  # type: ignore[union-attr]
    assert rule_set.match(lead(branch_id="elsewhere")).rule_id == "CATCH-ALL"  # type: ignore[union-attr]
    # Generous: the bucketed overlap check is near-linear; a quadratic one takes minutes here.
    assert time.perf_counter() - started < 10

"""A merge explained (each field's winner and rule) and undone (what the survivor gives back):
pure domain rules of domain/merges.py, no I/O."""

from __future__ import annotations

from dataclasses import replace

from test_duplicates import BORN, CCCD_AN, CMND_AN, EARLIER, EMAIL, EMAIL_2, NOW, PHONE, PHONE_2, A, B, account, business

from crm_account.domain.duplicates import plan_merge
from crm_account.domain.kyc import Kyc, KycStatus
from crm_account.domain.merges import RULES, MergeMoves, MovedRelationship, field_decisions, unmerged_survivor
from crm_account.domain.model import Address, Gender


def test_every_field_a_plan_can_hold_has_its_rule_in_words() -> None:
    for survivor, merged in ((account(A), account(B)), (business(A), business(B))):
        plan = plan_merge(survivor, merged)
        decisions = field_decisions(plan, survivor, merged)
        assert {d.field for d in decisions} == set(plan.field_sources) | {"kyc"}
        assert all(d.rule == RULES[d.field] and d.rule for d in decisions)


def test_the_winner_is_the_account_the_value_came_from() -> None:
    survivor = account(A, phones=(PHONE,), national_id=CMND_AN, national_id_legacy=True)
    merged = account(B, phones=(PHONE_2,), national_id=CCCD_AN, date_of_birth=BORN, gender=Gender.MALE)
    winners = {d.field: d.winner_id for d in field_decisions(plan_merge(survivor, merged), survivor, merged)}
    assert (winners["national_id"], winners["phones"], winners["full_name"], winners["date_of_birth"]) == (B, f"{A}+{B}", A, B)
    assert winners["kyc"] == A  # neither has a verification: the survivor's stands


def test_the_survivor_gives_back_what_it_took_unless_it_changed_since() -> None:
    before = account(A, phones=(PHONE,), emails=(EMAIL,), national_id=CMND_AN, national_id_legacy=True, updated_at=EARLIER)
    merged = account(
        B, phones=(PHONE_2,), emails=(EMAIL_2,), national_id=CCCD_AN, date_of_birth=BORN, gender=Gender.MALE, occupation="teacher", updated_at=NOW
    )
    merged.kyc = Kyc(status=KycStatus.VERIFIED, reference="ekyc-1")
    plan = plan_merge(before, merged)
    after_merge = replace(before, profile=plan.profile, kyc=merged.kyc)
    # Since the merge, someone corrected the occupation and added an email.
    current = replace(after_merge, profile=replace(plan.profile, occupation="engineer", emails=(*plan.profile.emails, "new@example.vn")))

    survivor, given_back = unmerged_survivor(current, before, merged, plan)

    p = survivor.profile
    assert (p.national_id, p.national_id_legacy, p.date_of_birth, p.gender) == (CMND_AN, True, None, None)
    assert (p.phones, p.emails) == ((PHONE,), (EMAIL, "new@example.vn"))
    assert p.occupation == "engineer"  # changed after the merge: the later decision stays
    assert survivor.kyc.status is KycStatus.NOT_STARTED
    assert sorted(given_back) == ["date_of_birth", "emails", "gender", "kyc", "national_id", "phones"]


def test_a_survivor_that_took_nothing_gives_nothing_back() -> None:
    before = account(A, phones=(PHONE,), address=Address("1 Tràng Tiền", "00001", "001", "01"), updated_at=NOW)
    merged = account(B, phones=(PHONE,), updated_at=EARLIER)
    plan = plan_merge(before, merged)
    survivor, given_back = unmerged_survivor(replace(before, profile=plan.profile), before, merged, plan)
    assert (survivor.profile, given_back) == (before.profile, [])


def test_what_moved_is_kept_as_json_and_read_back() -> None:
    moves = MergeMoves(holdings=["h-1"], relationships=[MovedRelationship("acc-9", "SPOUSE", "", NOW.isoformat(), "rm-1", True)])
    moves.household_id, moves.household_role, moves.survivor_joined_household = "hh-1", "HEAD", True
    assert MergeMoves.from_json(moves.to_json()) == moves

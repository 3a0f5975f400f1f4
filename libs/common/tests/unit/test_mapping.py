"""The common contracts' messages as every service's proto_mapping builds them, and id checks."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from crm_common.grpc.mapping import audit_stamps, money, page_response, timestamp
from crm_common.ids import is_valid_id
from crm_common.pagination import parse_page

T0 = datetime(2026, 1, 2, 3, 4, 5, 678000, tzinfo=UTC)


@dataclass(frozen=True)
class Record:
    created_at: datetime
    created_by: str
    updated_at: datetime | None
    updated_by: str


def test_a_timestamp_round_trips_and_none_leaves_the_field_unset() -> None:
    stamp = timestamp(T0)
    assert stamp is not None and stamp.ToDatetime(tzinfo=UTC) == T0
    assert timestamp(None) is None


def test_money_without_a_currency_is_in_dong() -> None:
    assert (money(150_000).currency_code, money(150_000).amount_minor) == ("VND", 150_000)
    assert money(995, "USD").currency_code == "USD"


def test_audit_stamps_carry_who_and_when() -> None:
    stamps = audit_stamps(Record(T0, "rm-1", None, "rm-2"))
    assert stamps.create_time.ToDatetime(tzinfo=UTC) == T0 and stamps.created_by == "rm-1"
    assert not stamps.HasField("update_time") and stamps.updated_by == "rm-2"


def test_the_page_token_is_what_parse_page_reads_back() -> None:
    key = {"created_at": "2026-01-02T03:04:05+00:00", "id": "x"}
    assert parse_page(10, page_response(key).next_page_token).after == key
    assert page_response(None).next_page_token == ""


def test_only_canonical_lower_case_uuids_are_ids() -> None:
    assert is_valid_id("6f1c2a8e-0000-4000-8000-000000000001")
    assert not is_valid_id("6F1C2A8E-0000-4000-8000-000000000001")
    assert not is_valid_id("6f1c2a8e000040008000000000000001")
    assert not is_valid_id("not-an-id")

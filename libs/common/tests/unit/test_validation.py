"""The request check every server runs before its servicer (crm_common.grpc.validation), the
idempotency key's caller scope, and the bounds on what an error status carries."""

from __future__ import annotations

import grpc
import pytest
from google.protobuf.timestamp_pb2 import Timestamp

from crm.lead.v1 import lead_pb2, lead_service_pb2
from crm_common import errors
from crm_common.grpc import validation
from crm_common.grpc.status import MAX_MESSAGE, to_grpc_status
from crm_common.unit_of_work import Idempotent

NUL = "must not contain NUL or other control characters"


def paths(request: object) -> list[tuple[str, str]]:
    return [(v.field, v.description) for v in validation.violations(request)]  # type: ignore[arg-type]


def test_a_clean_request_passes_and_line_breaks_and_tabs_are_text() -> None:
    lead = lead_pb2.LeadInput(contact=lead_pb2.ContactInput(full_name="Nguyễn Văn An 😀"), note="gọi lại\r\n\tchiều thứ hai")
    assert paths(lead_service_pb2.CreateLeadRequest(request_id="r-1", lead=lead)) == []


@pytest.mark.parametrize("bad", ["\x00", "a\x00b", "\x01", "\x1b[31m", "\x0b", "\x7f", "\x85", "\x9f"])
def test_nul_and_control_characters_are_refused_with_the_path_from_the_root(bad: str) -> None:
    request = lead_service_pb2.CreateLeadRequest(request_id="r-1", lead=lead_pb2.LeadInput(source=lead_pb2.LeadSource(utm=lead_pb2.Utm(term=bad))))
    assert paths(request) == [("lead.source.utm.term", NUL)]


def test_repeated_fields_and_messages_are_indexed() -> None:
    rows = [lead_pb2.LeadInput(note="ok"), lead_pb2.LeadInput(contact=lead_pb2.ContactInput(phone="09\x00"))]
    assert paths(lead_service_pb2.ImportLeadsRequest(request_id="r", rows=rows)) == [("rows[1].contact.phone", NUL)]
    assert paths(lead_service_pb2.SetTeamMembersRequest(team_id="t", member_ids=["a", "b\x02"])) == [("member_ids[1]", NUL)]


def test_lengths_are_checked_against_the_contracts_bound_or_the_generic_one() -> None:
    utm = lead_pb2.Utm(source="x" * 201, medium="x" * 200)
    request = lead_service_pb2.CreateLeadRequest(request_id="r", lead=lead_pb2.LeadInput(source=lead_pb2.LeadSource(utm=utm), note="x" * 4097))
    assert paths(request) == [("lead.source.utm.source", "at most 200 characters"), ("lead.note", "at most 4096 characters")]
    assert paths(lead_service_pb2.CreateLeadRequest(lead=lead_pb2.LeadInput(note="😀" * 4096))) == []  # characters, not bytes


def test_times_outside_what_python_and_postgresql_hold_are_refused() -> None:
    for seconds, nanos in [(253_402_300_800, 0), (-62_135_596_801, 0), (0, -1), (0, 1_000_000_000)]:
        request = lead_service_pb2.ConvertLeadRequest(request_id="r", expected_close_time=Timestamp(seconds=seconds, nanos=nanos))
        assert paths(request) == [("expected_close_time", "a time between 0001-01-01 and 9999-12-31")]
    assert paths(lead_service_pb2.ConvertLeadRequest(expected_close_time=Timestamp(seconds=253_402_300_799))) == []


def test_check_reports_the_first_ten_and_counts_the_rest() -> None:
    request = lead_service_pb2.SetTeamMembersRequest(member_ids=["\x00"] * 25)
    with pytest.raises(errors.InvalidArgument) as caught:
        validation.check(request)
    assert len(caught.value.violations) == validation.MAX_REPORTED
    assert caught.value.message.endswith("(and 15 more)")


def test_a_body_that_does_not_decode_becomes_undecodable_not_an_exception() -> None:
    decode = validation.safe_deserializer(lead_service_pb2.CreateLeadRequest.FromString)
    assert decode is not None
    assert decode(lead_service_pb2.CreateLeadRequest(request_id="r").SerializeToString()).request_id == "r"
    for body in [b"\xff\xff\xff", b"\x0a\x02\xc3\x28", b"\x12" + b"\x12\x7f" * 5]:  # garbage, bad UTF-8, truncated
        found = decode(body)
        assert isinstance(found, validation.Undecodable)
        assert found.error().violations == [errors.FieldViolation("", "the body is not a valid crm.lead.v1.CreateLeadRequest")]


def test_echoed_values_are_cut_short() -> None:
    assert errors.echo("79") == "'79'"
    assert errors.echo("x" * 10_000) == repr("x" * 64 + "…")
    assert len(errors.NotFound("lead", "x" * 10_000).message) < 100


@pytest.mark.parametrize("letter", ["x", "ệ"])
def test_a_status_never_carries_more_than_its_bounds(letter: str) -> None:
    huge = errors.InvalidArgument([errors.FieldViolation(letter * 500, letter * 5000)] * 50, letter * 20_000)
    status = to_grpc_status(huge)
    assert status.code == grpc.StatusCode.INVALID_ARGUMENT
    assert len(status.details) <= MAX_MESSAGE
    encoded_message = len(status.details.encode()) * 3  # grpc-message percent-encodes every non-ASCII byte
    assert encoded_message + sum(len(value) * 4 // 3 for _key, value in status.trailing_metadata) < 8 * 1024
    assert field_violations_of(status)  # still names the first fields


def field_violations_of(status: grpc.Status) -> list[str]:
    from google.rpc import error_details_pb2, status_pb2

    detail = status_pb2.Status.FromString(dict(status.trailing_metadata)["grpc-status-details-bin"]).details[0]
    bad = error_details_pb2.BadRequest()
    detail.Unpack(bad)
    return [v.field for v in bad.field_violations]


class TestIdempotencyKeyScope:
    def test_the_stored_key_depends_on_the_caller(self) -> None:
        alice, bob = Idempotent("r-1", "fp", "alice"), Idempotent("r-1", "fp", "bob")
        assert alice.stored_id != bob.stored_id and len(alice.stored_id) == 64
        assert alice.stored_id == Idempotent("r-1", "other", "alice").stored_id  # the payload is the fingerprint's business

    def test_no_caller_keys_by_the_request_id_itself(self) -> None:
        assert Idempotent("convert:lead-1", "fp").stored_id == "convert:lead-1"

    def test_the_caller_and_the_request_id_cannot_be_shifted_into_each_other(self) -> None:
        assert Idempotent("b\nc", "fp", "a").stored_id != Idempotent("c", "fp", "a\nb").stored_id
        assert Idempotent("x", "fp", "a:b").stored_id != Idempotent("b:x", "fp", "a").stored_id

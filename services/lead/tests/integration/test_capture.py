"""Capture through the real gRPC API: single, web form, bulk import; validation; duplicates; idempotency."""

from __future__ import annotations

import threading
import uuid

import grpc
import pytest

from crm.common.v1 import common_pb2
from crm.lead.v1 import lead_pb2
from crm.lead.v1 import lead_service_pb2 as svc
from crm_common.auth import issue_token
from crm_common.grpc.status import field_violations, resource_info
from crm_common.settings import DEV_JWT_KEY
from crm_common.testing import bearer


def token(subject: str, roles: list[str], ttl_seconds: int) -> str:
    return issue_token(subject, roles, DEV_JWT_KEY, ttl_seconds=ttl_seconds)


def rid() -> str:
    return str(uuid.uuid4())


def test_create_lead_normalises_scores_and_publishes(lead_input, app, admin) -> None:
    reply = app.stub.CreateLead(svc.CreateLeadRequest(request_id=rid(), lead=lead_input()), metadata=admin)
    lead = reply.lead
    assert lead.contact.full_name == "Nguyễn Văn An"
    assert lead.contact.phone.e164 == "+84912345678"
    assert lead.contact.email == "an.nguyen@example.com"
    assert lead.status == lead_pb2.LEAD_STATUS_MQL
    assert lead.source.utm.source == "facebook" and lead.source.cookie_id == "ck-123"
    assert lead.score == sum(r.points for r in lead.score_reasons) > 0
    assert {r.rule for r in lead.score_reasons} >= {"channel", "product_interest", "completeness.phone"}
    assert app.outbox_types() == ["LeadCaptured"]  # its status (MQL) travels in it


def test_lead_without_interest_stays_new(lead_input, app, admin) -> None:
    reply = app.stub.CreateLead(
        svc.CreateLeadRequest(request_id=rid(), lead=lead_input(product_interest=common_pb2.PRODUCT_TYPE_UNSPECIFIED)), metadata=admin
    )
    assert reply.lead.status == lead_pb2.LEAD_STATUS_NEW
    assert app.outbox_types() == ["LeadCaptured"]


def test_repeat_with_same_request_id_returns_first_result(lead_input, app, admin) -> None:
    request = svc.CreateLeadRequest(request_id=rid(), lead=lead_input())
    first = app.stub.CreateLead(request, metadata=admin)
    again = app.stub.CreateLead(request, metadata=admin)
    assert again.lead.lead_id == first.lead.lead_id
    assert app.count("leads") == 1
    assert app.outbox_types() == ["LeadCaptured"]


def test_request_id_reused_for_another_request_is_refused(lead_input, app, admin) -> None:
    key = rid()
    app.stub.CreateLead(svc.CreateLeadRequest(request_id=key, lead=lead_input()), metadata=admin)
    with pytest.raises(grpc.RpcError) as err:
        app.stub.CreateLead(svc.CreateLeadRequest(request_id=key, lead=lead_input(phone="0987654321", email="b@example.com")), metadata=admin)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert [f for f, _ in field_violations(err.value)] == ["request_id"]


def test_missing_request_id_is_invalid(lead_input, app, admin) -> None:
    with pytest.raises(grpc.RpcError) as err:
        app.stub.CreateLead(svc.CreateLeadRequest(lead=lead_input()), metadata=admin)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert field_violations(err.value)[0][0] == "request_id"


def test_bad_input_lists_every_field_violation_and_writes_nothing(lead_input, app, admin) -> None:
    bad = lead_input(phone="12345", email="not-an-email")
    bad.contact.province_code = "99"
    bad.contact.national_id = "12345"
    with pytest.raises(grpc.RpcError) as err:
        app.stub.CreateLead(svc.CreateLeadRequest(request_id=rid(), lead=bad), metadata=admin)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    fields = {f for f, _ in field_violations(err.value)}
    assert fields == {"lead.contact.phone", "lead.contact.email", "lead.contact.province_code", "lead.contact.national_id"}
    assert app.count("leads") == 0 and app.outbox_types() == []


def test_no_contact_point_and_no_channel_are_invalid(app, admin) -> None:
    bad = lead_pb2.LeadInput(contact=lead_pb2.ContactInput(full_name="Lê Thị B"))
    with pytest.raises(grpc.RpcError) as err:
        app.stub.CreateLead(svc.CreateLeadRequest(request_id=rid(), lead=bad), metadata=admin)
    assert {f for f, _ in field_violations(err.value)} == {"lead.contact", "lead.source.channel"}


def test_duplicate_open_lead_is_already_exists_with_the_existing_id(lead_input, app, admin) -> None:
    first = app.stub.CreateLead(svc.CreateLeadRequest(request_id=rid(), lead=lead_input()), metadata=admin)
    # Same phone written another way, other email.
    with pytest.raises(grpc.RpcError) as err:
        app.stub.CreateLead(svc.CreateLeadRequest(request_id=rid(), lead=lead_input(phone="+84 912-345-678", email="x@example.com")), metadata=admin)
    assert err.value.code() == grpc.StatusCode.ALREADY_EXISTS
    assert resource_info(err.value) == ("lead", first.lead.lead_id)


def test_concurrent_captures_of_one_person_create_one_lead(lead_input, app, admin) -> None:
    outcomes: list[str] = []

    def capture() -> None:
        try:
            app.stub.CreateLead(svc.CreateLeadRequest(request_id=rid(), lead=lead_input()), metadata=admin)
            outcomes.append("created")
        except grpc.RpcError as exc:
            outcomes.append(exc.code().name)

    threads = [threading.Thread(target=capture) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert outcomes.count("created") == 1
    assert sorted(set(outcomes)) == ["ALREADY_EXISTS", "created"]
    assert app.count("leads") == 1


def test_web_form_resubmission_updates_the_open_lead(app, admin) -> None:
    web = bearer("landing-backend", ["web_capture"])
    form = svc.CaptureWebFormRequest(
        request_id=rid(),
        full_name="Trần Thị Hoa",
        phone="0987654321",
        product_interest=common_pb2.PRODUCT_TYPE_UNSECURED_LOAN,
        campaign_id="cmp-1",
        utm=lead_pb2.Utm(source="google", medium="cpc"),
        cookie_id="ck-9",
    )
    first = app.stub.CaptureWebForm(form, metadata=web)
    assert not first.matched_open_lead
    assert first.lead.source.channel == lead_pb2.CHANNEL_WEB_FORM
    assert first.lead.source.data_origin == lead_pb2.DATA_ORIGIN_FIRST_PARTY
    again = svc.CaptureWebFormRequest()
    again.CopyFrom(form)
    again.request_id = rid()
    again.email = "hoa.tran@example.com"
    second = app.stub.CaptureWebForm(again, metadata=web)
    assert second.matched_open_lead
    assert second.lead.lead_id == first.lead.lead_id
    # The landing backend holds no pii.read: it sees the merged email masked; an RM sees it.
    assert second.lead.contact.email == "h***@example.com"
    assert app.stub.GetLead(svc.GetLeadRequest(lead_id=first.lead.lead_id), metadata=admin).lead.contact.email == "hoa.tran@example.com"
    assert second.lead.score > first.lead.score
    assert app.count("leads") == 1
    assert "LeadScored" in app.outbox_types()


def test_import_reports_each_row_and_never_fails_the_batch(lead_input, app) -> None:
    marketing = bearer("mkt-1", ["marketing"])
    existing = app.stub.CreateLead(svc.CreateLeadRequest(request_id=rid(), lead=lead_input()), metadata=marketing).lead
    rows = [
        lead_input(phone="0901111111", email="one@example.com"),
        lead_input(phone="not a phone", email="two@example.com"),
        lead_input(phone="0912345678", email="three@example.com"),  # duplicate of the existing lead
        lead_input(phone="0902222222", email="one@example.com"),  # duplicate of row 0
        lead_input(phone="0903333333", email="", source=lead_pb2.LeadSource()),  # import channel by default
    ]
    request = svc.ImportLeadsRequest(request_id=rid(), rows=rows)
    reply = app.stub.ImportLeads(request, metadata=marketing)
    statuses = [r.status for r in reply.results]
    assert statuses == [
        svc.IMPORT_ROW_STATUS_CREATED,
        svc.IMPORT_ROW_STATUS_INVALID,
        svc.IMPORT_ROW_STATUS_DUPLICATE,
        svc.IMPORT_ROW_STATUS_DUPLICATE,
        svc.IMPORT_ROW_STATUS_CREATED,
    ]
    assert reply.results[1].violations[0].field == "rows[1].contact.phone"
    assert reply.results[2].lead_id == existing.lead_id
    assert reply.results[3].lead_id == reply.results[0].lead_id
    assert (reply.created_count, reply.duplicate_count, reply.invalid_count) == (2, 2, 1)
    imported = app.stub.GetLead(svc.GetLeadRequest(lead_id=reply.results[4].lead_id), metadata=marketing).lead
    assert imported.source.channel == lead_pb2.CHANNEL_IMPORT
    assert app.stub.ImportLeads(request, metadata=marketing) == reply
    assert app.count("leads") == 3


def test_list_filters_and_pages(lead_input, app, admin) -> None:
    names = ["Nguyễn Văn An", "Nguyễn Thị Bình", "Trần Văn Cường", "Lê Đức Dũng", "Phạm Thu Hà"]
    for i, name in enumerate(names):
        lead = lead_input(phone=f"09{i + 1}1234567", email=f"p{i}@example.com")
        lead.contact.full_name = name
        app.stub.CreateLead(svc.CreateLeadRequest(request_id=rid(), lead=lead), metadata=admin)
    seen: list[str] = []
    token = ""
    while True:
        page = app.stub.ListLeads(svc.ListLeadsRequest(page=common_pb2.PageRequest(page_size=2, page_token=token)), metadata=admin)
        seen.extend(x.lead_id for x in page.leads)
        token = page.page.next_page_token
        if not token:
            break
    assert len(seen) == 5 == len(set(seen))
    by_name = app.stub.ListLeads(svc.ListLeadsRequest(query="nguyen"), metadata=admin)
    assert sorted(x.contact.full_name for x in by_name.leads) == ["Nguyễn Thị Bình", "Nguyễn Văn An"]
    by_word = app.stub.ListLeads(svc.ListLeadsRequest(query="duc"), metadata=admin)
    assert [x.contact.full_name for x in by_word.leads] == ["Lê Đức Dũng"]
    by_phone = app.stub.ListLeads(svc.ListLeadsRequest(query="+84 931 234 567"), metadata=admin)
    assert [x.contact.full_name for x in by_phone.leads] == ["Trần Văn Cường"]
    with pytest.raises(grpc.RpcError) as err:
        app.stub.ListLeads(svc.ListLeadsRequest(page=common_pb2.PageRequest(page_token="garbage!")), metadata=admin)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT


def test_unauthenticated_and_unauthorised_calls_are_refused(lead_input, app) -> None:
    request = svc.CreateLeadRequest(request_id=rid(), lead=lead_input())
    with pytest.raises(grpc.RpcError) as err:
        app.stub.CreateLead(request)
    assert err.value.code() == grpc.StatusCode.UNAUTHENTICATED
    with pytest.raises(grpc.RpcError) as err:
        app.stub.CreateLead(request, metadata=[("authorization", "Bearer not.a.jwt")])
    assert err.value.code() == grpc.StatusCode.UNAUTHENTICATED
    with pytest.raises(grpc.RpcError) as err:
        app.stub.CreateLead(request, metadata=bearer("agent-1", ["telesales"]))
    assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED
    with pytest.raises(grpc.RpcError) as err:
        app.stub.CreateLead(request, metadata=[("authorization", "Bearer " + token("old", ["admin"], ttl_seconds=-10))])
    assert err.value.code() == grpc.StatusCode.UNAUTHENTICATED
    assert app.count("leads") == 0


def test_unknown_lead_is_not_found(app, admin) -> None:
    with pytest.raises(grpc.RpcError) as err:
        app.stub.GetLead(svc.GetLeadRequest(lead_id="no-such-lead"), metadata=admin)
    assert err.value.code() == grpc.StatusCode.NOT_FOUND
    assert resource_info(err.value) == ("lead", "no-such-lead")


def test_a_capture_racing_an_uncommitted_duplicate_retries_into_already_exists(lead_input, app, admin) -> None:
    """The one-statement capture cannot see another transaction's uncommitted lead; the unique
    index makes it wait, then fail, and the handler's retry answers ALREADY_EXISTS."""
    import dataclasses

    from crm_common.auth import Principal, use_principal
    from crm_lead.adapters.repository import LeadRepository

    first = app.stub.CreateLead(svc.CreateLeadRequest(request_id=rid(), lead=lead_input()), metadata=admin).lead
    with use_principal(Principal("service:lead", ("service",))):  # a use case called outside an RPC: the service's own identity
        template = app.use_cases.lookup.get_lead(first.lead_id)[0]
    rival = dataclasses.replace(template, lead_id=str(uuid.uuid4()), phone_e164="+84977111222", email="rival@example.com")
    with app.engine.connect() as conn, conn.begin() as tx:
        LeadRepository(conn, app.pii).add(rival)  # written, not committed
        outcome: list[object] = []
        capture = threading.Thread(
            target=lambda: outcome.append(_capture(app, admin, lead_input(phone="0977 111 222", email="someone.else@example.com")))
        )
        capture.start()
        capture.join(0.5)
        if app.engine.dialect.name == "postgresql":
            assert capture.is_alive(), "the capture should be waiting on the unique index"
        tx.commit()
    capture.join(10)
    assert outcome == [("ALREADY_EXISTS", rival.lead_id)]


def _capture(app, admin, lead: lead_pb2.LeadInput) -> object:
    try:
        app.stub.CreateLead(svc.CreateLeadRequest(request_id=rid(), lead=lead), metadata=admin, timeout=10)
    except grpc.RpcError as exc:
        info = resource_info(exc)
        return (exc.code().name, info[1] if info else None)
    return "created"


def test_lead_qualified_marks_later_moves_to_mql_and_sql(lead_input, app, admin) -> None:
    new = app.stub.CreateLead(
        svc.CreateLeadRequest(request_id=rid(), lead=lead_input(product_interest=common_pb2.PRODUCT_TYPE_UNSPECIFIED)), metadata=admin
    ).lead
    assert new.status == lead_pb2.LEAD_STATUS_NEW
    # The same person comes back through a form, now interested in a product: MQL.
    form = svc.CaptureWebFormRequest(
        request_id=rid(), full_name="Nguyễn Văn An", phone="0912345678", product_interest=common_pb2.PRODUCT_TYPE_MORTGAGE
    )
    promoted = app.stub.CaptureWebForm(form, metadata=admin)
    assert promoted.matched_open_lead and promoted.lead.status == lead_pb2.LEAD_STATUS_MQL
    qualified = [e for e in app.outbox_types() if e == "LeadQualified"]
    assert qualified == ["LeadQualified"]


def test_contact_data_is_masked_for_readers_without_a_pii_permission(lead_input, app, admin) -> None:
    lead = app.stub.CreateLead(svc.CreateLeadRequest(request_id=rid(), lead=lead_input()), metadata=admin).lead
    # A reporting client with marketing's role: every lead (leads.read, leads.read_all), no pii.read.
    reader = bearer("reporting-job", ["marketing"])
    seen = app.stub.GetLead(svc.GetLeadRequest(lead_id=lead.lead_id), metadata=reader).lead
    assert seen.contact.phone.e164 == "+849*****678"
    assert seen.contact.email == "a***@example.com"
    assert seen.contact.full_name == "Nguyễn Văn An"  # names are not masked
    assert app.stub.GetLead(svc.GetLeadRequest(lead_id=lead.lead_id), metadata=admin).lead.contact.phone.e164 == "+84912345678"


def test_a_value_the_contract_does_not_know_is_invalid_not_an_internal_error(lead_input, app, admin) -> None:
    newer = lead_input()
    newer.source.channel = 99  # a newer client's channel
    with pytest.raises(grpc.RpcError) as err:
        app.stub.CreateLead(svc.CreateLeadRequest(request_id=rid(), lead=newer), metadata=admin)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert field_violations(err.value) == [("lead.source.channel", "unknown value 99")]
    rows = [lead_input(), lead_input(phone="0987654321", email="b@example.com")]
    rows[1].product_interest = 42  # type: ignore[assignment]
    with pytest.raises(grpc.RpcError) as err:
        app.stub.ImportLeads(svc.ImportLeadsRequest(request_id=rid(), rows=rows), metadata=admin)
    assert field_violations(err.value) == [("rows[1].product_interest", "unknown value 42")]
    assert app.count("leads") == 0

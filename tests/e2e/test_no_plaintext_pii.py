"""Canary PII: plant a distinctive person's data through the real flows (capture a lead, work and
convert it, create an account, record consent, write activities about them), then look for it
in plain text in every service's database (`pg_dump --data-only`) and in every message the suite
published during the run (tapped from the start, crm_common.testing_e2e.MessageTap): raw bytes
and decoded protobuf. Zero hits: PII is encrypted at rest and masked or absent in transit.

Erased records are out of scope (they hold no PII by construction); this is about live data.
"""

from __future__ import annotations

import importlib
import pkgutil
import random
import subprocess
import unicodedata
import uuid
from dataclasses import dataclass
from functools import cache

from google.protobuf import text_format
from google.protobuf.message import Message
from sqlalchemy import create_engine, make_url, text

import crm
from crm.account.v1 import account_pb2
from crm.account.v1 import account_service_pb2 as account_svc
from crm.common.v1 import common_pb2
from crm.lead.v1 import lead_pb2
from crm.lead.v1 import lead_service_pb2 as lead_svc
from crm.opportunity.v1 import opportunity_pb2
from crm.opportunity.v1 import opportunity_service_pb2 as opp_svc
from crm_common.contact import fold
from crm_common.testing import bearer, wait_until
from crm_common.testing_e2e import Suite, TappedMessage

MARKETING = bearer("mkt-canary", ["marketing"])
MANAGER = bearer("head-of-sales", ["branch_manager"], branches=["HCM-01"])
AGENT = bearer("agent-canary", ["telesales"])
RM = bearer("rm-canary", ["rm"])


def rid() -> str:
    return str(uuid.uuid4())


@dataclass(frozen=True)
class Canary:
    """A made-up person whose every datum is distinctive enough to be found anywhere."""

    full_name: str
    phone_local: str  # 09xxxxxxxx
    email: str  # as typed, mixed case
    national_id: str  # 12-digit CCCD

    @property
    def forms(self) -> list[str]:
        """Every plain form the data may take once stored or sent."""
        subscriber = self.phone_local[1:]
        stripped = "".join(c for c in unicodedata.normalize("NFD", self.full_name) if unicodedata.category(c) != "Mn")
        given = self.full_name.split()[-1]
        return list(
            dict.fromkeys(
                [
                    self.full_name,
                    unicodedata.normalize("NFD", self.full_name),
                    fold(self.full_name),
                    stripped,
                    # The distinctive given name alone, with and without diacritics (a blocking key, a search column).
                    given,
                    fold(given),
                    f"+84{subscriber}",
                    self.phone_local,
                    f"84{subscriber}",
                    self.email.lower(),
                    self.national_id,
                ]
            )
        )


def canary(full_name: str) -> Canary:
    digits = "".join(random.choices("0123456789", k=7))
    tag = "".join(random.choices("abcdefghijklmnopqrstuvwxyz", k=6))
    # 079: Hồ Chí Minh; 1: a woman born in the 1900s; then birth year 92 and six digits.
    national_id = "079192" + "".join(random.choices("0123456789", k=6))
    return Canary(full_name, "098" + digits, f"Canary.{tag}@Example.VN", national_id)


def plant_through_a_lead(suite: Suite, person: Canary) -> tuple[str, str, str]:
    """Capture → contact → qualify → convert; returns (lead, account, opportunity) ids."""
    about = f"{person.full_name} ({person.phone_local}, {person.email}, CCCD {person.national_id})"
    lead = suite.lead.CreateLead(
        lead_svc.CreateLeadRequest(
            request_id=rid(),
            lead=lead_pb2.LeadInput(
                contact=lead_pb2.ContactInput(
                    full_name=person.full_name, phone=person.phone_local, email=person.email, national_id=person.national_id, province_code="79"
                ),
                product_interest=common_pb2.PRODUCT_TYPE_CREDIT_CARD,
                source=lead_pb2.LeadSource(channel=lead_pb2.CHANNEL_LANDING_PAGE, campaign_id="cmp-canary"),
                requested_amount=common_pb2.Money(currency_code="VND", amount_minor=30_000_000),
                marketing_consent=True,
                note=f"khách {about} hỏi thẻ tín dụng",
            ),
        ),
        metadata=MARKETING,
    ).lead
    suite.lead.AssignLead(
        lead_svc.AssignLeadRequest(request_id=rid(), lead_id=lead.lead_id, owner_id="agent-canary", branch_id="HCM-01"), metadata=MANAGER
    )
    suite.lead.RecordContactAttempt(
        lead_svc.RecordContactAttemptRequest(
            request_id=rid(),
            lead_id=lead.lead_id,
            channel=lead_pb2.CONTACT_CHANNEL_PHONE,
            outcome=lead_pb2.CONTACT_OUTCOME_REACHED,
            note=f"đã gọi {about}",
        ),
        metadata=AGENT,
    )
    suite.lead.QualifyLead(lead_svc.QualifyLeadRequest(request_id=rid(), lead_id=lead.lead_id), metadata=AGENT)
    suite.lead.AssignLead(lead_svc.AssignLeadRequest(request_id=rid(), lead_id=lead.lead_id, owner_id="rm-canary"), metadata=MANAGER)
    conversion = suite.lead.ConvertLead(lead_svc.ConvertLeadRequest(request_id=rid(), lead_id=lead.lead_id), metadata=RM).conversion
    return lead.lead_id, conversion.account_id, conversion.opportunity_id


def plant_an_account(suite: Suite, person: Canary) -> str:
    account = account_pb2.AccountInput(
        type=account_pb2.ACCOUNT_TYPE_PERSON,
        full_name=person.full_name,
        phones=[person.phone_local],
        emails=[person.email],
        national_id=person.national_id,
        address=account_pb2.Address(line="12 Lê Lợi", province_code="79"),
    )
    return str(suite.account.CreateAccount(account_svc.CreateAccountRequest(request_id=rid(), account=account), metadata=RM).account.account_id)


def plant_consent(suite: Suite, account_id: str, person: Canary) -> None:
    suite.account.RecordConsent(
        account_svc.RecordConsentRequest(
            request_id=rid(),
            account_id=account_id,
            purpose=account_pb2.CONSENT_PURPOSE_MARKETING,
            channel=account_pb2.CONTACT_CHANNEL_SMS,
            status=account_pb2.CONSENT_STATUS_GRANTED,
            source="call_center",
            evidence_ref=f"rec-{person.national_id[-4:]}",
        ),
        metadata=RM,
    )


def plant_activities(suite: Suite, opportunity_id: str, account_id: str, person: Canary) -> str:
    about = f"{person.full_name}, {person.phone_local}, {person.email}, CCCD {person.national_id}"
    call = suite.opportunity.CreateActivity(
        opp_svc.CreateActivityRequest(
            request_id=rid(),
            kind=opportunity_pb2.ACTIVITY_KIND_CALL,
            opportunity_id=opportunity_id,
            subject=f"Gọi {person.full_name}",
            notes=f"Hẹn {about} buổi tối",
        ),
        metadata=RM,
    ).activity
    suite.opportunity.CompleteActivity(
        opp_svc.CompleteActivityRequest(
            request_id=rid(), activity_id=call.activity_id, outcome=f"{person.full_name} đồng ý, gửi hồ sơ qua {person.email}"
        ),
        metadata=RM,
    )
    suite.opportunity.CreateActivity(
        opp_svc.CreateActivityRequest(
            request_id=rid(), kind=opportunity_pb2.ACTIVITY_KIND_NOTE, account_id=account_id, subject=f"Ghi chú về {person.full_name}", notes=about
        ),
        metadata=RM,
    )
    return str(call.activity_id)


@cache
def event_classes() -> dict[str, type[Message]]:
    """Every event message of the contracts by name (the routing key is the event type)."""
    found: dict[str, type[Message]] = {}
    for module in pkgutil.walk_packages(crm.__path__, "crm."):
        if module.name.endswith(".events_pb2"):
            events = importlib.import_module(module.name)
            for name in events.DESCRIPTOR.message_types_by_name:
                found[name] = getattr(events, name)
    return found


def message_text(message: TappedMessage) -> str:
    """The raw body as text (protobuf strings are UTF-8 inside it), its headers, and the decoded message."""
    parts = [message.body.decode("utf-8", "replace"), repr(message.headers)]
    cls = event_classes().get(message.routing_key)
    if cls is not None:
        try:
            parts.append(text_format.MessageToString(cls.FromString(message.body), as_utf8=True))
        except Exception:  # a poison message another test planted on purpose: its raw bytes are scanned
            pass
    return "\n".join(parts)


def dump(database_url: str) -> tuple[str, int]:
    """`pg_dump --data-only` of a service's database, and how many rows it holds."""
    url = make_url(database_url).set(drivername="postgresql").render_as_string(hide_password=False)
    done = subprocess.run(["pg_dump", "--data-only", "--no-owner", "--dbname", url], capture_output=True, text=True, timeout=120, check=True)
    rows, copying = 0, False
    for line in done.stdout.splitlines():
        if line.startswith("COPY "):
            copying = True
        elif line == "\\.":
            copying = False
        elif copying:
            rows += 1
    return done.stdout, rows


def hits(haystack: str, people: list[Canary]) -> list[str]:
    lowered = haystack.lower()
    return [form for person in people for form in person.forms if form.lower() in lowered]


def outboxes_drained(suite: Suite) -> bool:
    for spec in suite.specs.values():
        if spec.database_url:
            engine = create_engine(spec.database_url)
            with engine.connect() as conn:
                pending = conn.scalar(text("SELECT count(*) FROM outbox"))
            engine.dispose()
            if pending:
                return False
    return True


def test_no_plaintext_canary_pii_at_rest_or_in_transit(suite: Suite) -> None:
    assert suite.tap is not None
    people = [canary("Tôn Nữ Hoàng Yếncanary"), canary("Đoàn Thị Mỹcanary")]
    lead_id, converted_account, opportunity_id = plant_through_a_lead(suite, people[0])
    plant_consent(suite, converted_account, people[0])
    other_account = plant_an_account(suite, people[1])
    plant_consent(suite, other_account, people[1])
    activity_id = plant_activities(suite, opportunity_id, converted_account, people[0])
    plant_activities(suite, opportunity_id, other_account, people[1])

    # Every event of the flows published (the outboxes empty) and consumed (the acquisition recorded).
    acquired = account_svc.GetAccountRequest(account_id=converted_account)
    wait_until(lambda: suite.account.GetAccount(acquired, metadata=RM).account.acquisition.lead_id == lead_id, what="LeadConverted consumed")
    wait_until(lambda: outboxes_drained(suite), what="every outbox relayed to the broker")

    def tapped() -> list[TappedMessage] | None:
        messages = suite.tap.messages()  # type: ignore[union-attr]
        completed = [m for m in messages if m.routing_key == "ActivityCompleted" and activity_id.encode() in m.body]
        return messages if completed else None

    messages = wait_until(tapped, what="the canary's ActivityCompleted on the tap")
    # The scan is not vacuous: the canary's records and events are there, only never in clear.
    assert {"LeadConverted", "AccountCreated", "ConsentChanged", "ActivityCompleted"} <= {m.routing_key for m in messages}
    assert any(lead_id.encode() in m.body for m in messages)

    found: dict[str, list[str]] = {}
    rows = 0
    for name, spec in sorted(suite.specs.items()):
        if not spec.database_url:
            continue
        data, count = dump(spec.database_url)
        rows += count
        expected_id = {"lead": lead_id, "account": other_account, "opportunity": activity_id}.get(name)
        assert expected_id is None or expected_id in data, f"{name}: the canary's rows are not in the dump"
        if leaked := hits(data, people):
            found[f"database {name}"] = leaked
    for message in messages:
        if leaked := hits(message_text(message), people):
            found.setdefault(f"message {message.exchange} {message.routing_key}", []).extend(leaked)
    print(f"canary scan: {rows} row(s) in {sum(1 for s in suite.specs.values() if s.database_url)} database(s), {len(messages)} message(s)")
    assert found == {}, "plaintext canary PII found:\n" + "\n".join(f"  {where}: {sorted(set(forms))}" for where, forms in sorted(found.items()))

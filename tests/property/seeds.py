"""One valid request per write that stores caller text, to mutate one string field at a time: random
requests rarely get past the domain's own checks, these reach the database."""

from __future__ import annotations

from google.protobuf import text_format
from google.protobuf.message import Message
from google.protobuf.message_factory import GetMessageClass

_UTM = 'utm { source: "google" medium: "cpc" campaign: "tet-2027" term: "the tin dung" content: "banner-1" }'
_SOURCE = (
    f'source {{ channel: CHANNEL_WEB_FORM campaign_id: "cmp-1" {_UTM} cookie_id: "ck-1" partner_id: "p-1"'
    ' landing_page_url: "https://bank.example/the" referrer_url: "https://search.example/?q=the" }'
)
_LEAD = f'contact {{ full_name: "Nguyễn Văn An" phone: "0912345678" email: "an@example.com" province_code: "79" }} {_SOURCE} note: "gọi buổi sáng"'
_ACCOUNT = (
    'full_name: "Trần Thị Ngọc" phones: "0987654321" emails: "ngoc@example.vn" occupation: "giáo viên"'
    ' owner_id: "rm-1" branch_id: "HCM-001" address { line: "1 Nguyễn Huệ" province_code: "79" }'
)

SEEDS: dict[str, str] = {
    "/crm.lead.v1.LeadService/CreateLead": f"lead {{ {_LEAD} }}",
    "/crm.lead.v1.LeadService/ImportLeads": f"rows {{ {_LEAD} }}",
    "/crm.lead.v1.LeadService/CaptureWebForm": (
        f'full_name: "Lê Văn Hùng" phone: "0912000111" email: "hung@example.com" campaign_id: "cmp-2" {_UTM}'
        ' cookie_id: "ck-2" landing_page_url: "https://bank.example/vay" referrer_url: "https://social.example/" message: "tư vấn giúp tôi"'
    ),
    "/crm.lead.v1.LeadService/SetTeamMembers": 'team_id: "team-hcm" member_ids: "agent-1" member_ids: "agent-2"',
    "/crm.account.v1.AccountService/CreateAccount": f"account {{ {_ACCOUNT} }}",
    "/crm.account.v1.AccountService/ResolvePersonAccount": (
        'full_name: "Phạm Minh Khoa" phone: "0977000222" email: "khoa@example.com" owner_id: "rm-2" source_lead_id: "lead-1"'
    ),
    "/crm.opportunity.v1.OpportunityService/CreateOpportunity": (
        'account_id: "0b8e3c2a-5d1f-4e7a-9c3b-2f6a8d9e1c47" product: PRODUCT_TYPE_CREDIT_CARD owner_id: "rm-1" team_id: "team-1"'
        ' source_lead_id: "lead-9" campaign_id: "cmp-1" territory_id: "VN-HCM"'
    ),
    "/crm.opportunity.v1.OpportunityService/CreateActivity": (
        'kind: ACTIVITY_KIND_CALL account_id: "0b8e3c2a-5d1f-4e7a-9c3b-2f6a8d9e1c47" owner_id: "rm-1"'
        ' subject: "gọi lại" notes: "khách hẹn chiều thứ hai"'
    ),
}


def seed(path: str, descriptor: object, request_id: str) -> Message:
    """The seed request of method `path` with a fresh request_id."""
    message = GetMessageClass(descriptor)()  # type: ignore[arg-type]
    text_format.Parse(SEEDS[path], message)
    message.request_id = request_id  # type: ignore[attr-defined]
    return message


def string_paths(message: Message, prefix: str = "") -> list[tuple[str, Message, str, int | None]]:
    """Every set string of `message`, at any depth: (path from the root, holder, field, index)."""
    found: list[tuple[str, Message, str, int | None]] = []
    for fd, value in message.ListFields():
        path = prefix + fd.name
        if fd.type == fd.TYPE_STRING:
            if fd.is_repeated:
                found.extend((f"{path}[{i}]", message, fd.name, i) for i in range(len(value)))
            else:
                found.append((path, message, fd.name, None))
        elif fd.type == fd.TYPE_MESSAGE:
            items = list(value) if fd.is_repeated else [value]
            for i, item in enumerate(items):
                found.extend(string_paths(item, f"{path}[{i}]." if fd.is_repeated else f"{path}."))
    return found


def put(holder: Message, field: str, index: int | None, value: str) -> None:
    if index is None:
        setattr(holder, field, value)
    else:
        getattr(holder, field)[index] = value

"""Domain ↔ protobuf for the account contracts (crm.account.v1), with PII masking."""

from __future__ import annotations

from datetime import datetime

from google.protobuf.timestamp_pb2 import Timestamp

from crm.account.v1 import account_pb2, account_service_pb2
from crm.common.v1 import common_pb2
from crm_account.domain.model import Acquisition, MatchField, PersonAccount
from crm_common.contact import mask_email, mask_national_id, mask_phone


def timestamp(value: datetime | None) -> Timestamp | None:
    if value is None:
        return None
    ts = Timestamp()
    ts.FromDatetime(value)
    return ts


def match_field_to_proto(field: MatchField | None) -> account_service_pb2.MatchField.ValueType:
    if field is None:
        return account_service_pb2.MATCH_FIELD_UNSPECIFIED
    return account_service_pb2.MatchField.Value(f"MATCH_FIELD_{field}")


def acquisition_to_proto(acquisition: Acquisition) -> account_pb2.Acquisition:
    return account_pb2.Acquisition(
        lead_id=acquisition.lead_id,
        channel=acquisition.channel,
        campaign_id=acquisition.campaign_id,
        utm_source=acquisition.utm_source,
        utm_medium=acquisition.utm_medium,
        utm_campaign=acquisition.utm_campaign,
        acquire_time=timestamp(acquisition.acquired_at),
    )


def account_to_proto(account: PersonAccount, show_pii: bool) -> account_pb2.Account:
    """The Account message; national id, phone and email masked unless `show_pii`."""
    phone, email, national_id = account.phone_e164, account.email, account.national_id
    if not show_pii:
        phone = mask_phone(phone) if phone else ""
        email = mask_email(email) if email else ""
        national_id = mask_national_id(national_id) if national_id else ""
    message = account_pb2.Account(
        account_id=account.account_id,
        type=account_pb2.AccountType.Value(f"ACCOUNT_TYPE_{account.account_type}"),
        lifecycle_stage=account_pb2.LifecycleStage.Value(f"LIFECYCLE_STAGE_{account.lifecycle_stage}"),
        full_name=account.full_name,
        phone=common_pb2.PhoneNumber(e164=phone) if phone else None,
        email=email,
        national_id=national_id,
        owner_id=account.owner_id,
        audit=common_pb2.AuditStamps(
            create_time=timestamp(account.created_at),
            created_by=account.created_by,
            update_time=timestamp(account.updated_at),
            updated_by=account.updated_by,
        ),
    )
    if account.acquisition is not None:
        message.acquisition.CopyFrom(acquisition_to_proto(account.acquisition))
    return message

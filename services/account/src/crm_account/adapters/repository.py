"""Reading and writing accounts with SQLAlchemy Core: one statement per operation."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, or_, select, update

from crm_account.adapters.orm import accounts
from crm_account.domain.model import AccountType, Acquisition, ContactKeys, LifecycleStage, PersonAccount
from crm_common.errors import NotFound
from crm_common.pagination import Page, newest_first

_KEY_COLUMNS = {"national_id": accounts.c.national_id, "phone_e164": accounts.c.phone_e164, "email": accounts.c.email}


def _acquisition_row(acquisition: Acquisition | None) -> dict[str, Any]:
    if acquisition is None:
        return {
            "acquisition_lead_id": "",
            "acquisition_channel": "",
            "acquisition_campaign_id": "",
            "acquisition_utm_source": "",
            "acquisition_utm_medium": "",
            "acquisition_utm_campaign": "",
            "acquired_at": None,
        }
    return {
        "acquisition_lead_id": acquisition.lead_id,
        "acquisition_channel": acquisition.channel,
        "acquisition_campaign_id": acquisition.campaign_id,
        "acquisition_utm_source": acquisition.utm_source,
        "acquisition_utm_medium": acquisition.utm_medium,
        "acquisition_utm_campaign": acquisition.utm_campaign,
        "acquired_at": acquisition.acquired_at,
    }


def _to_row(account: PersonAccount) -> dict[str, Any]:
    return {
        "account_id": account.account_id,
        "account_type": str(account.account_type),
        "lifecycle_stage": str(account.lifecycle_stage),
        "full_name": account.full_name,
        "national_id": account.national_id,
        "phone_e164": account.phone_e164,
        "email": account.email,
        "owner_id": account.owner_id,
        "source_lead_id": account.source_lead_id,
        **_acquisition_row(account.acquisition),
        "created_at": account.created_at,
        "created_by": account.created_by,
        "updated_at": account.updated_at,
        "updated_by": account.updated_by,
    }


def _to_account(row: Any) -> PersonAccount:
    acquisition = None
    if row.acquired_at is not None:
        acquisition = Acquisition(
            lead_id=row.acquisition_lead_id,
            channel=row.acquisition_channel,
            campaign_id=row.acquisition_campaign_id,
            utm_source=row.acquisition_utm_source,
            utm_medium=row.acquisition_utm_medium,
            utm_campaign=row.acquisition_utm_campaign,
            acquired_at=row.acquired_at,
        )
    return PersonAccount(
        account_id=row.account_id,
        account_type=AccountType(row.account_type),
        lifecycle_stage=LifecycleStage(row.lifecycle_stage),
        full_name=row.full_name,
        national_id=row.national_id,
        phone_e164=row.phone_e164,
        email=row.email,
        owner_id=row.owner_id,
        source_lead_id=row.source_lead_id,
        acquisition=acquisition,
        created_at=row.created_at,
        created_by=row.created_by,
        updated_at=row.updated_at,
        updated_by=row.updated_by,
    )


class AccountRepository:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def add(self, account: PersonAccount) -> None:
        """Raises IntegrityError when another account holds one of its keys."""
        self.conn.execute(accounts.insert().values(_to_row(account)))

    def get(self, account_id: str, for_update: bool = False) -> PersonAccount:
        query = select(accounts).where(accounts.c.account_id == account_id)
        if for_update:
            query = query.with_for_update()
        row = self.conn.execute(query).first()
        if row is None:
            raise NotFound("account", account_id)
        return _to_account(row)

    def sharing_keys(self, keys: ContactKeys) -> list[PersonAccount]:
        """Every account holding any of `keys` (at most one per key)."""
        clauses = [_KEY_COLUMNS[name] == value for name, value in vars(keys).items() if value]
        if not clauses:
            return []
        return [_to_account(r) for r in self.conn.execute(select(accounts).where(or_(*clauses))).all()]

    def search(self, keys: ContactKeys, page: Page) -> tuple[list[PersonAccount], dict[str, Any] | None]:
        """Accounts holding all of `keys`, newest first; also the key to continue after (None at the end)."""
        clauses = [_KEY_COLUMNS[name] == value for name, value in vars(keys).items() if value]
        rows, after = newest_first(self.conn, select(accounts).where(*clauses), accounts.c.created_at, accounts.c.account_id, page)
        return [_to_account(r) for r in rows], after

    def save_acquisition(self, account: PersonAccount) -> None:
        self.conn.execute(
            update(accounts)
            .where(accounts.c.account_id == account.account_id)
            .values(**_acquisition_row(account.acquisition), updated_at=account.updated_at, updated_by=account.updated_by)
        )

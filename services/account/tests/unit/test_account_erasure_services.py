"""Which services an erasure waits for: ACCOUNT_ERASURE_SERVICES, else every other service of the
suite holding a person's data (CRM_PII_SERVICES, which the chart sets, else the registry)."""

from __future__ import annotations

from crm_account.bootstrap import erasure_services
from crm_account.config import AccountSettings
from crm_common.registry import services


def test_default_is_every_other_pii_service_of_the_registry() -> None:
    expected = tuple(d.name for d in services() if d.pii and d.name != "account")
    assert erasure_services(AccountSettings()) == expected == ("lead", "opportunity")


def test_the_chart_list_then_the_variable_win() -> None:
    assert erasure_services(AccountSettings(crm_pii_services="account,lead,opportunity,service-case")) == ("lead", "opportunity", "service-case")
    assert erasure_services(AccountSettings(crm_pii_services="account,lead", account_erasure_services="lead, opportunity ")) == (
        "lead",
        "opportunity",
    )
    assert erasure_services(AccountSettings(account_erasure_services="")) == ()

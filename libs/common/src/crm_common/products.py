"""The bank's product types as every service names them: crm.common.v1.ProductType without its
prefix (the lead's interest, the opportunity's product, the account's holdings)."""

from __future__ import annotations

from enum import StrEnum


class ProductType(StrEnum):
    CREDIT_CARD = "CREDIT_CARD"
    UNSECURED_LOAN = "UNSECURED_LOAN"
    MORTGAGE = "MORTGAGE"
    TERM_DEPOSIT = "TERM_DEPOSIT"
    CASA = "CASA"
    BANCASSURANCE = "BANCASSURANCE"
    AUTO_LOAN = "AUTO_LOAN"

"""Contract enums ↔ domain names (crm_common.grpc.enums), on the suite's own contracts."""

from __future__ import annotations

import pytest

from crm.common.v1 import common_pb2
from crm.lead.v1 import lead_pb2
from crm_common.errors import InvalidArgument
from crm_common.grpc.enums import UNKNOWN, enum_name, enum_number


@pytest.mark.parametrize("enum", [common_pb2.ProductType, lead_pb2.Channel, lead_pb2.LeadStatus])
def test_every_value_round_trips_without_its_prefix(enum: object) -> None:
    for number in enum.values():  # type: ignore[attr-defined]
        name = enum_name(enum, number)
        assert enum_number(enum, name) == number
        assert name == "" if number == 0 else enum.Name(number).endswith("_" + name)  # type: ignore[attr-defined]


def test_names() -> None:
    assert enum_name(common_pb2.ProductType, common_pb2.PRODUCT_TYPE_CREDIT_CARD) == "CREDIT_CARD"
    assert enum_number(lead_pb2.Channel, "WEB_FORM") == lead_pb2.CHANNEL_WEB_FORM
    assert enum_number(lead_pb2.Channel, "") == enum_number(lead_pb2.Channel, None) == 0


def test_an_unknown_number_is_left_to_the_domain_or_refused_for_a_named_field() -> None:
    assert enum_name(lead_pb2.Channel, 99) == UNKNOWN
    with pytest.raises(InvalidArgument) as refused:
        enum_name(lead_pb2.Channel, 99, field="source.channel")
    assert [(v.field, v.description) for v in refused.value.violations] == [("source.channel", "unknown value 99")]

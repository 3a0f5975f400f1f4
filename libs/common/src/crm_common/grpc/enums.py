"""Between the contracts' enums and the domain's names: CHANNEL_WEB_FORM ↔ 'WEB_FORM'.

Every enum of the contracts opens with `<PREFIX>_UNSPECIFIED = 0` (buf's STANDARD lint), so its
prefix is read off that value and callers name only the enum.
"""

from __future__ import annotations

import functools
from enum import StrEnum
from typing import Any

from crm_common.errors import FieldViolation, InvalidArgument

# The name of a number this build's contract does not know (a newer caller's value).
UNKNOWN = "?"


def _prefix(enum: Any) -> str:
    return str(enum.DESCRIPTOR.values_by_number[0].name).removesuffix("UNSPECIFIED")


# Both directions computed once per enum: every reply and event maps several enums.
@functools.cache
def _names(enum: Any) -> dict[int, str]:
    prefix = _prefix(enum)
    return {number: str(name).removeprefix(prefix) for name, number in enum.items()}


@functools.cache
def _numbers(enum: Any) -> dict[str, int]:
    return {name: number for number, name in _names(enum).items()}


def enum_name(enum: Any, number: int, field: str = "") -> str:
    """The domain's name of a contract number: '' for UNSPECIFIED. A number the contract does not
    know is UNKNOWN for the domain to refuse, or, when the request `field` is named, INVALID_ARGUMENT
    at once (for values the domain takes as given)."""
    if number == 0:
        return ""
    name = _names(enum).get(number)
    if name is None:
        if field:
            raise InvalidArgument(FieldViolation(field, f"unknown value {number}"))
        return UNKNOWN
    return name


def enum_number(enum: Any, name: StrEnum | str | None) -> Any:
    """The contract's number for a domain name ('' or None: UNSPECIFIED)."""
    if not name:
        return 0
    number = _numbers(enum).get(name)
    if number is None:
        raise ValueError(f"{enum.DESCRIPTOR.full_name} has no value named {_prefix(enum)}{name}")
    return number

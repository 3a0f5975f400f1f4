"""The deadline of the RPC being served, so outgoing calls never outlive it."""

from __future__ import annotations

import time
from contextvars import ContextVar

_deadline: ContextVar[float | None] = ContextVar("crm_deadline", default=None)


def set_deadline(remaining_seconds: float | None) -> object:
    value = None if remaining_seconds is None else time.monotonic() + remaining_seconds
    return _deadline.set(value)


def reset_deadline(token: object) -> None:
    _deadline.reset(token)  # type: ignore[arg-type]


def remaining_seconds() -> float | None:
    deadline = _deadline.get()
    return None if deadline is None else max(0.0, deadline - time.monotonic())

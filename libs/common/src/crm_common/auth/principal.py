"""Who is calling: set for the duration of one RPC or one event, read by handlers and clients."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Principal:
    subject: str
    roles: tuple[str, ...] = ()
    permissions: frozenset[str] = field(default_factory=frozenset)
    # Where the caller works, from its token (claim names: JWT_*_CLAIM); they widen its data
    # scope as far as its roles' reach allows (crm_common.auth.scopes).
    teams: tuple[str, ...] = ()
    branches: tuple[str, ...] = ()
    territories: tuple[str, ...] = ()
    # The bearer token as received, forwarded on calls to other services.
    token: str = ""
    # The OAuth client the token was issued to (its `client_id` or `azp` claim), for the audit log.
    client_id: str = ""

    def can(self, permission: str) -> bool:
        return permission in self.permissions


ANONYMOUS = Principal(subject="anonymous")

_current: ContextVar[Principal] = ContextVar("crm_principal", default=ANONYMOUS)


def current_principal() -> Principal:
    return _current.get()


@contextlib.contextmanager
def use_principal(principal: Principal) -> Iterator[Principal]:
    token = _current.set(principal)
    try:
        yield principal
    finally:
        _current.reset(token)

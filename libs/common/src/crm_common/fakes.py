"""In-memory stand-ins for `SqlUnitOfWork`, for service-layer unit tests (no database).

A service's fake unit of work subclasses `FakeUnitOfWork` and builds its fake repositories in
`bind(state)`, over a private copy of the database's committed state: what a use case wrote is
kept only when it commits, as in a real transaction. The database records every commit, the
events published (in order) and the idempotency keys and inbox marks, for tests to assert on.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from types import TracebackType
from typing import Any, Generic, Self, TypeVar

from google.protobuf.message import Message

from crm_common.unit_of_work import check_request_id, check_same_request

S = TypeVar("S")


@dataclass
class FakeDatabase(Generic[S]):
    """Committed state only; `state` is the service's own tables (any deep-copyable object)."""

    state: S
    events: list[Message] = field(default_factory=list)
    # (method, request_id) → (fingerprint, result_ref)
    idempotency: dict[tuple[str, str], tuple[str, str]] = field(default_factory=dict)
    inbox: set[tuple[str, str]] = field(default_factory=set)
    commits: int = 0

    def event_types(self) -> list[str]:
        return [type(e).__name__ for e in self.events]


class FakeUnitOfWork(Generic[S]):
    def __init__(self, db: FakeDatabase[S], **options: Any) -> None:
        self.db = db

    def __enter__(self) -> Self:
        self._begin()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self._begin()  # whatever was not committed is rolled back

    def _begin(self) -> None:
        self.state: S = copy.deepcopy(self.db.state)
        self.pending: list[Message] = []
        self._keys: dict[tuple[str, str], tuple[str, str]] = {}
        self._claims: set[tuple[str, str]] = set()
        self.bind(self.state)

    def bind(self, state: S) -> None:
        """Builds the fake repositories over this transaction's copy of the state."""

    def publish(self, *events: Message) -> None:
        self.pending.extend(events)

    def commit(self, wrote_events: bool = False) -> None:
        self.db.state = self.state
        self.db.events.extend(self.pending)
        self.db.idempotency.update(self._keys)
        self.db.inbox |= self._claims
        self.db.commits += 1
        self._begin()

    def claim_event(self, consumer: str, event_id: str) -> bool:
        key = (consumer, event_id)
        if key in self.db.inbox or key in self._claims:
            return False
        self._claims.add(key)
        return True

    def previous_result(self, method: str, request_id: str, fingerprint: str) -> str | None:
        check_request_id(request_id)
        stored = self._keys.get((method, request_id)) or self.db.idempotency.get((method, request_id))
        return None if stored is None else check_same_request(stored[0], fingerprint, stored[1])

    def remember_result(self, method: str, request_id: str, fingerprint: str, result_ref: str) -> None:
        self._keys[(method, request_id)] = (fingerprint, result_ref)


class FakeClock:
    """A clock the test moves by hand; pass it as a use case's `clock`."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)

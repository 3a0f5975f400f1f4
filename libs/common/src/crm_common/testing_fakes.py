"""In-memory stand-ins for the platform's unit of work, for service-layer unit tests without a
database (the cosmicpython habit: test a use case's rule against fakes, keep the real database
for the integration tier).

`FakeStore` plays the database: the state a service's fake repositories keep, the events
published (the outbox), the events consumed (the inbox) and the idempotency records. Each
`FakeUnitOfWork` works on a copy of it, so what a use case does not commit is lost, as with a
rolled-back transaction, and `run_idempotent` behaves as on SQL (a repeated request_id answers
with the first call's result; the same request_id with another request is INVALID_ARGUMENT).
A service subclasses FakeUnitOfWork and opens its fake repositories over `self.state`:

    class FakeLeadUnitOfWork(FakeUnitOfWork[LeadState]):
        def open_repositories(self) -> None:
            self.leads = FakeLeadRepository(self.state)

`RecordingEvents` stands in for a service's event builder and `FakeClock` for its clock.
Like crm_common.testing, nothing here imports pytest.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from datetime import datetime, timedelta
from types import TracebackType
from typing import Any, Generic, Self, TypeVar

from crm_common.unit_of_work import check_request_id, check_same_request

S = TypeVar("S")


class FakeStore(Generic[S]):
    """What every unit of work of one test sees, as a database: only committed changes land here."""

    def __init__(self, state: S) -> None:
        self.state = state
        # Events of committed units of work, in publishing order (the outbox).
        self.published: list[Any] = []
        # (consumer, event_id) of the events handled (the inbox).
        self.inbox: set[tuple[str, str]] = set()
        # (method, request_id) → (request fingerprint, result_ref) (the idempotency keys).
        self.results: dict[tuple[str, str], tuple[str, str]] = {}
        self.commits = 0


class FakeUnitOfWork(Generic[S]):
    """SqlUnitOfWork's contract over a FakeStore: publish, commit, claim_event and the
    idempotency records run_idempotent uses."""

    def __init__(self, store: FakeStore[S]) -> None:
        self.store = store

    def open_repositories(self) -> None:
        """Builds the service's fake repositories over `self.state` (a subclass's hook)."""

    def __enter__(self) -> Self:
        self.state: S = copy.deepcopy(self.store.state)
        self._inbox = set(self.store.inbox)
        self._results = dict(self.store.results)
        self._events: list[Any] = []
        self.open_repositories()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        # Nothing to roll back: the uncommitted copy is dropped with this unit of work.
        self._events = []

    def publish(self, *events: Any) -> None:
        self._events.extend(events)

    def commit(self, wrote_events: bool = False) -> None:
        self.store.state = copy.deepcopy(self.state)
        self.store.inbox = set(self._inbox)
        self.store.results = dict(self._results)
        self.store.published.extend(self._events)
        self.store.commits += 1
        self._events = []

    def claim_event(self, consumer: str, event_id: str) -> bool:
        if (consumer, event_id) in self._inbox:
            return False
        self._inbox.add((consumer, event_id))
        return True

    def previous_result(self, method: str, request_id: str, fingerprint: str) -> str | None:
        check_request_id(request_id)
        stored = self._results.get((method, request_id))
        return None if stored is None else check_same_request(stored[0], fingerprint, stored[1])

    def remember_result(self, method: str, request_id: str, fingerprint: str, result_ref: str) -> None:
        self._results[(method, request_id)] = (fingerprint, result_ref)


@dataclass(frozen=True)
class Recorded:
    """An event as RecordingEvents built it: the builder method's name and its arguments."""

    name: str
    args: tuple[Any, ...]


class RecordingEvents:
    """A service's event builder as a recorder: `events.created(account, "req-1")` returns
    Recorded("created", (account, "req-1")), which a use case then publishes."""

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        return lambda *args: Recorded(name, args)


class FakeClock:
    """A clock that stands still until moved."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, by: timedelta) -> None:
        self.now += by

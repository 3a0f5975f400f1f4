"""In-memory stand-ins for the platform's unit of work, for service-layer unit tests without a
database (the cosmicpython habit: test a use case's rule against fakes, keep the real database
for the integration tier).

`FakeStore` plays the database: the state a service's fake repositories keep, the events
published (the outbox), the events consumed (the inbox) and the idempotency records. Each
`FakeUnitOfWork` works on a copy of the state, so what a use case does not commit is lost, as
with a rolled-back transaction, and `run_idempotent` behaves as on SQL (a repeated request_id
answers with the first call's result; the same request_id with another request is
INVALID_ARGUMENT; another caller's request_id is another key). `caller_key` builds a command's
key as a servicer does, scoped to the current principal. A service subclasses FakeUnitOfWork and opens its fake repositories over
`self.state`:

    class FakeLeadUnitOfWork(FakeUnitOfWork[LeadTables]):
        def open_repositories(self) -> None:
            self.leads = FakeLeadRepository(self.state)

`RecordingEvents` stands in for a service's event builder (or pass the real one, whose protobuf
events `FakeStore.event_types` names) and `FakeClock` for its clock.
Like crm_common.testing, nothing here imports pytest.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from datetime import datetime, timedelta
from types import TracebackType
from typing import Any, Generic, Self, TypeVar

from crm_common.auth import current_principal
from crm_common.unit_of_work import Idempotent, check_request_id, check_same_request

S = TypeVar("S")


class FakeStore(Generic[S]):
    """What every unit of work of one test sees, as a database: only committed changes land here."""

    def __init__(self, state: S) -> None:
        self.state = state
        # Events of committed units of work, in publishing order (the outbox).
        self.published: list[Any] = []
        # (consumer, event_id) of the events handled (the inbox).
        self.inbox: set[tuple[str, str]] = set()
        # (method, stored id) → (request fingerprint, result_ref) (the idempotency keys; the
        # stored id is scoped to the caller, Idempotent.stored_id).
        self.results: dict[tuple[str, str], tuple[str, str]] = {}
        self.commits = 0

    def event_types(self) -> list[str]:
        """The class names of the published events, in order (for protobuf events)."""
        return [type(event).__name__ for event in self.published]


class FakeUnitOfWork(Generic[S]):
    """SqlUnitOfWork's contract over a FakeStore: publish, commit, claim_event and the
    idempotency records run_idempotent uses."""

    def __init__(self, store: FakeStore[S], single_statement: bool = False) -> None:
        # single_statement only changes how SqlUnitOfWork talks to PostgreSQL; accepted so
        # a service can pass its unit of work's options through, nothing to do in memory.
        self.store = store

    def open_repositories(self) -> None:
        """Builds the service's fake repositories over `self.state` (a subclass's hook)."""

    def __enter__(self) -> Self:
        self.state: S = copy.deepcopy(self.store.state)
        self._claims: set[tuple[str, str]] = set()
        self._results: dict[tuple[str, str], tuple[str, str]] = {}
        self._events: list[Any] = []
        self.open_repositories()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        # Nothing to roll back: the uncommitted copy is dropped with this unit of work.
        self._claims, self._results, self._events = set(), {}, []

    def publish(self, *events: Any) -> None:
        self._events.extend(events)

    def commit(self, wrote_events: bool = False) -> None:
        self.store.state = copy.deepcopy(self.state)
        # Merged, not replaced: rows another unit of work committed meanwhile stay, as in SQL.
        self.store.inbox |= self._claims
        self.store.results.update(self._results)
        self.store.published.extend(self._events)
        self.store.commits += 1
        self._claims, self._results, self._events = set(), {}, []

    def claim_event(self, consumer: str, event_id: str) -> bool:
        key = (consumer, event_id)
        if key in self.store.inbox or key in self._claims:
            return False
        self._claims.add(key)
        return True

    def previous_result(self, method: str, key: Idempotent) -> str | None:
        check_request_id(key.request_id)
        row = (method, key.stored_id)
        stored = self._results.get(row) or self.store.results.get(row)
        return None if stored is None else check_same_request(stored[0], key.fingerprint, stored[1])

    def remember_result(self, method: str, key: Idempotent, result_ref: str) -> None:
        self._results[(method, key.stored_id)] = (key.fingerprint, result_ref)


def caller_key(request_id: str, fingerprint: str) -> Idempotent:
    """A request's idempotency key as `crm_common.grpc.requests.idempotency_key` builds it: scoped
    to the current principal's subject."""
    return Idempotent(request_id, fingerprint, current_principal().subject)

    def take_audit_row(self, *object_ids: str) -> dict[str, object] | None:
        # Use-case tests serve no gRPC call, so there is no call to audit (crm_common.audit).
        return None


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
    """A clock that stands still until moved: `clock.advance(minutes=5)`."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        """Moves the clock by timedelta(**delta)."""
        self.now += timedelta(**delta)

"""The fake unit of work keeps SqlUnitOfWork's contract: only commits land, with their events;
run_idempotent answers a repeat with the first result, and only to the caller who sent it; a redelivered event is claimed once."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from google.protobuf.empty_pb2 import Empty
from google.protobuf.wrappers_pb2 import StringValue

from crm_common.auth import Principal, use_principal
from crm_common.errors import FailedPrecondition, InvalidArgument
from crm_common.testing_fakes import FakeClock, FakeStore, FakeUnitOfWork, Recorded, RecordingEvents, caller_key
from crm_common.unit_of_work import Idempotent, run_idempotent


class Counters(FakeUnitOfWork[dict[str, int]]):
    """A unit of work whose one 'repository' is a dict of counters."""

    def open_repositories(self) -> None:
        self.counters = self.state


def increment(uow: Counters, name: str) -> int:
    uow.counters[name] = uow.counters.get(name, 0) + 1
    uow.publish(RecordingEvents().incremented(name))
    return uow.counters[name]


def test_only_committed_changes_and_their_events_land() -> None:
    store = FakeStore[dict[str, int]]({})
    with Counters(store) as uow:
        increment(uow, "a")
        uow.commit()
    with pytest.raises(FailedPrecondition), Counters(store) as uow:
        increment(uow, "a")
        raise FailedPrecondition("refused after the change")
    with Counters(store) as uow:
        increment(uow, "b")  # never committed
    assert (store.state, store.commits) == ({"a": 1}, 1)
    assert store.published == [Recorded("incremented", ("a",))]


def test_run_idempotent_answers_a_repeat_with_the_first_result() -> None:
    store = FakeStore[dict[str, int]]({})
    calls = []

    def first(uow: Counters) -> tuple[int, str]:
        calls.append("first")
        value = increment(uow, "a")
        return value, str(value)

    def run(fingerprint: str) -> int:
        return run_idempotent(lambda: Counters(store), "Increment", Idempotent("req-1", fingerprint), first, lambda uow, ref: int(ref))

    assert run("same") == 1
    assert run("same") == 1
    assert (calls, store.state, len(store.published)) == (["first"], {"a": 1}, 1)
    with pytest.raises(InvalidArgument, match="already used for a different request"):
        run("another request")


def test_a_request_id_is_the_callers_own() -> None:
    """As on SQL: another caller reusing a request_id runs a new request, never gets the first
    caller's result; the record is kept under the scoped key's stored id, not the raw request_id."""
    store = FakeStore[dict[str, int]]({})

    def first(uow: Counters) -> tuple[int, str]:
        value = increment(uow, "a")
        return value, str(value)

    def run(subject: str) -> int:
        with use_principal(Principal(subject)):
            return run_idempotent(lambda: Counters(store), "Increment", caller_key("req-1", "same"), first, lambda uow, ref: int(ref))

    assert (run("alice"), run("bob"), run("alice"), run("bob")) == (1, 2, 1, 2)
    assert store.state == {"a": 2}
    assert sorted(store.results) == sorted(
        [("Increment", Idempotent("req-1", "same", "alice").stored_id), ("Increment", Idempotent("req-1", "same", "bob").stored_id)]
    )
    assert ("Increment", "req-1") not in store.results


def test_an_event_is_claimed_once_and_only_when_committed() -> None:
    store = FakeStore[dict[str, int]]({})
    with Counters(store) as uow:
        assert uow.claim_event("svc.on_thing", "e-1")
    with Counters(store) as uow:
        assert uow.claim_event("svc.on_thing", "e-1")  # the first claim was rolled back
        uow.commit()
    with Counters(store) as uow:
        assert not uow.claim_event("svc.on_thing", "e-1")
    assert store.inbox == {("svc.on_thing", "e-1")}


def test_units_of_work_open_at_once_keep_each_others_records() -> None:
    """A commit adds its inbox marks and idempotency keys to the store's, as rows in SQL would."""
    store = FakeStore[dict[str, int]]({})
    with Counters(store) as outer, Counters(store, single_statement=True) as inner:
        assert outer.claim_event("svc.on_thing", "e-1")
        outer.remember_result("Increment", Idempotent("req-1", "fp-1"), "1")
        assert inner.claim_event("svc.on_thing", "e-2")
        inner.remember_result("Increment", Idempotent("req-2", "fp-2"), "2")
        inner.commit()
        assert not outer.claim_event("svc.on_thing", "e-2")
        assert outer.previous_result("Increment", Idempotent("req-2", "fp-2")) == "2"
        outer.commit()
    assert store.inbox == {("svc.on_thing", "e-1"), ("svc.on_thing", "e-2")}
    assert store.results == {("Increment", "req-1"): ("fp-1", "1"), ("Increment", "req-2"): ("fp-2", "2")}


def test_event_types_names_the_committed_events_in_order() -> None:
    store = FakeStore[dict[str, int]]({})
    with Counters(store) as uow:
        uow.publish(StringValue(value="x"), Empty())
        uow.commit()
        uow.publish(Empty())  # never committed
    assert store.event_types() == ["StringValue", "Empty"]


def test_the_clock_stands_still_until_moved() -> None:
    clock = FakeClock(datetime(2026, 11, 23, tzinfo=UTC))
    assert clock() == clock()
    clock.advance(days=1)
    assert clock() == datetime(2026, 11, 24, tzinfo=UTC)

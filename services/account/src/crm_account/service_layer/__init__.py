"""Use cases: each runs in one unit of work (state, outbox and idempotency record together)."""

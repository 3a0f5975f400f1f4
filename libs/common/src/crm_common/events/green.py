"""Making a process fit for nameko: eventlet first, then libraries that must cooperate with it.

Imported by `crm-<service> worker` before anything else; it imports nothing of ours, so nothing
opens a socket before the monkey-patching.
"""

from __future__ import annotations

import os


def prepare_worker_process() -> None:
    import eventlet

    eventlet.monkey_patch()
    # psycopg's C wait blocks in poll(), which eventlet cannot see: every database wait would
    # stall all the worker's greenthreads (two 0.5 s queries took 1.0 s). select() is patched,
    # hence cooperative (0.5 s).
    os.environ.setdefault("PSYCOPG_WAIT_FUNC", "wait_select")

"""The worker process's database waits cooperate with eventlet (a fresh process: monkey-patching
cannot be undone in this one)."""

from __future__ import annotations

import subprocess
import sys

PROBE = """
from crm_common.events.green import prepare_worker_process
prepare_worker_process()
import time, eventlet, psycopg, psycopg.waiting
def nap():
    with psycopg.connect("host=127.0.0.1 user=postgres dbname=postgres") as conn:
        conn.execute("select pg_sleep(0.5)")
started = time.perf_counter()
for thread in [eventlet.spawn(nap) for _ in range(3)]:
    thread.wait()
print(psycopg.waiting.wait.__name__, round(time.perf_counter() - started, 2))
"""


def test_database_waits_in_the_worker_let_other_greenthreads_run() -> None:
    done = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr[-2000:]
    wait_function, seconds = done.stdout.split()
    assert wait_function == "wait_select"
    assert float(seconds) < 1.2  # three 0.5 s queries side by side, not one after another (1.5 s)

"""The image's dev-only restart wrapper (deploy/docker/dev_reload.py), run for real on this machine."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

from deploy_helpers import ROOT

WRAPPER = ROOT / "deploy" / "docker" / "dev_reload.py"
CHILD = "import os, pathlib, sys, time; pathlib.Path(sys.argv[1]).open('a').write(f'{os.getpid()}\\n'); time.sleep(60)"


def wait_for(predicate, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def test_restarts_on_trigger_and_stops_cleanly(tmp_path):
    pids, trigger = tmp_path / "pids", tmp_path / "restart"
    proc = subprocess.Popen(
        [sys.executable, str(WRAPPER), "--watch", str(trigger), "--interval", "0.1", "--grace", "2", "--", sys.executable, "-c", CHILD, str(pids)]
    )
    try:
        assert wait_for(lambda: pids.exists() and len(pids.read_text().split()) == 1)
        trigger.write_text("1")
        assert wait_for(lambda: len(pids.read_text().split()) == 2), "no restart after the trigger file changed"
        first, second = pids.read_text().split()
        assert first != second
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
    finally:
        proc.kill()


def test_a_crashing_child_ends_the_wrapper_with_its_status(tmp_path):
    result = subprocess.run(
        [sys.executable, str(WRAPPER), "--watch", str(tmp_path / "restart"), "--", sys.executable, "-c", "raise SystemExit(3)"], timeout=30
    )
    assert result.returncode == 3

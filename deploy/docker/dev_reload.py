#!/usr/bin/env python3
"""Dev-only process supervisor: restarts a command when a trigger file changes.

Tilt's live_update syncs code into the running container and then writes the
trigger file (``/tmp/.restart-proc``); this wrapper stops the child with SIGTERM
(SIGKILL after the grace period) and starts it again. It only exists in the
image's ``dev`` stage and is put in front of the command by the dev values.

Usage: crm-dev-reload [--watch FILE] [--grace SECONDS] -- COMMAND [ARGS...]
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time


def _mtime(path: str) -> float | None:
    try:
        return os.stat(path).st_mtime_ns
    except FileNotFoundError:
        return None


def _stop(child: subprocess.Popen[bytes], grace: float) -> int:
    if child.poll() is None:
        child.send_signal(signal.SIGTERM)
        try:
            child.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            child.kill()
    return child.wait()


def _exit_status(code: int) -> int:
    """Shell convention: a child killed by signal N gives 128 + N."""
    return 128 - code if code < 0 else code


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="crm-dev-reload")
    parser.add_argument("--watch", default="/tmp/.restart-proc")
    # The API's shutdown takes its drain window and then its grace.
    default_grace = float(os.environ.get("GRPC_DRAIN_SECONDS", "0")) + float(os.environ.get("GRPC_GRACE_SECONDS", "20"))
    parser.add_argument("--grace", type=float, default=default_grace)
    parser.add_argument("--interval", type=float, default=0.5)
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("a command is required after --")

    stopping = False

    def _on_signal(signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)

    seen = _mtime(args.watch)
    child = subprocess.Popen(command)
    while True:
        time.sleep(args.interval)
        if stopping:
            code = _stop(child, args.grace)
            return 0 if code == -signal.SIGTERM else _exit_status(code)
        code = child.poll()
        if code is not None:
            # A crash ends the container so Kubernetes (and Tilt) see it.
            return _exit_status(code)
        current = _mtime(args.watch)
        if current != seen:
            seen = current
            print(f"crm-dev-reload: {args.watch} changed, restarting {command[0]}", file=sys.stderr, flush=True)
            _stop(child, args.grace)
            child = subprocess.Popen(command)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

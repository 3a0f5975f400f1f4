"""What runs beside a server in its process (the outbox relay, periodic jobs)."""

from __future__ import annotations

from typing import Protocol


class Background(Protocol):
    """Started after the server starts; stopped after it has drained, in reverse order."""

    def start(self) -> None: ...

    def stop(self) -> None: ...

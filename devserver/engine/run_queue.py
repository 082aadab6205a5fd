"""The bounded line of runs waiting for a free run worker, with each run's place in it.

The executor's own queue is unbounded; this is the bound in front of it. `ensure_room` refuses a run
when `limit` runs are already waiting (the API answers 429 with Retry-After), and every waiting run's
status shows its 1-based `queue_position`, updated whenever the line moves.
"""
from __future__ import annotations

import threading

from devserver.engine.run_state import RunState
from devserver.errors import TooBusy

RETRY_AFTER_SECONDS = 10


class QueueFull(TooBusy):
    """Too many runs are waiting for a worker; the client should try again later."""

    code = "queue_full"

    def __init__(self, limit: int):
        super().__init__(f"The server is busy: {limit} runs are already waiting. Try again in a few seconds.",
                         retry_after=RETRY_AFTER_SECONDS, details={"limit": limit})


class RunQueue:
    """Runs accepted but not yet started, in order."""

    def __init__(self, limit: int):
        self.limit = limit
        self._waiting: list[RunState] = []
        self._lock = threading.Lock()

    def ensure_room(self) -> None:
        """Raise QueueFull when `limit` runs are already waiting."""
        with self._lock:
            if len(self._waiting) >= self.limit:
                raise QueueFull(self.limit)

    def admit(self, state: RunState) -> None:
        """Put a run at the end of the line (callers check `ensure_room` first, under their own lock)."""
        with self._lock:
            self._waiting.append(state)
            state.touch(queue_position=len(self._waiting))

    def leave(self, state: RunState) -> None:
        """Take a run out of the line (a worker started it); everyone behind moves up."""
        with self._lock:
            if state not in self._waiting:
                return
            start = self._waiting.index(state)
            self._waiting.pop(start)
            state.touch(queue_position=None)
            for position, waiting in enumerate(self._waiting[start:], start=start + 1):
                waiting.touch(queue_position=position)

    def __len__(self) -> int:
        return len(self._waiting)

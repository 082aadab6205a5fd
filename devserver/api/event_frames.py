"""Server-sent event frames of one run, built by the same code for both servers.

The Flask route streams them from a generator (one thread per open stream: the test server and any
plain WSGI server); the async gateway (`devserver.asgi`) streams them from the event loop (no thread
per open stream). Both call `EventCursor.step`, which returns the frames due now and whether the
stream has ended. The cursor is built inside the Flask request, after access checks, so `view_item`
and `view_status` can carry whatever projection that request is entitled to.
"""
from __future__ import annotations

import json
import threading
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Callable

from devserver.engine.run_state import RunState
from devserver.errors import TooBusy

HANDOFF = "devserver.handoff"  # WSGI environ key: set by the async gateway, takes a cursor or WaitStart
OPENING = "retry: 2000\n\n"
HEARTBEAT = ": heartbeat\n\n"
View = Callable[[dict[str, Any]], dict[str, Any]]


def sse(event: str, data: dict[str, Any], event_id: int | None = None) -> str:
    """Return one server-sent event frame."""
    head = f"id: {event_id}\n" if event_id is not None else ""
    return f"{head}event: {event}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"


def _same(value: dict[str, Any]) -> dict[str, Any]:
    return value


@dataclass
class EventCursor:
    """Where one listener is in a live run's events."""

    state: RunState
    after: int
    view_item: View = _same
    view_status: View = _same
    on_close: Callable[[], None] = lambda: None  # whoever streams it calls this once at the end
    version: str | None = field(default=None, init=False)

    def step(self) -> tuple[list[str], bool]:
        """Return the frames due since the last step, and whether the stream is finished."""
        state, frames = self.state, []
        items = state.items_after(self.after)
        snapshot = self.view_status(state.status_dict())
        for item in items:
            self.after = item["sequence"]
            frames.append(sse(item["item_type"], {"item": self.view_item(item), "status": snapshot}, self.after))
        if not items and self.version is not None and snapshot["updated_at"] != self.version:
            frames.append(sse("progress", {"status": snapshot}))  # progress or queue changes carry no item
        self.version = snapshot["updated_at"]
        if state.terminal and not state.items_after(self.after):
            frames.append(sse("end", {"status": self.view_status(state.status_dict())}))
            return frames, True
        return frames, False


@dataclass
class WaitStart:
    """A `?wait=` POST handed to the async gateway: wait for `state` up to `seconds`, then answer its status."""

    state: RunState
    seconds: float


class TooManyStreams(TooBusy):
    code = "too_many_streams"

    def __init__(self, limit: int):
        super().__init__(f"This device already has {limit} live event streams open; close some, or poll "
                         "the status URL instead.", retry_after=5, details={"limit": limit})


class StreamCounter:
    """Open event streams per client address, with a cap."""

    def __init__(self, limit: int):
        self.limit = limit
        self._open: Counter[str] = Counter()
        self._lock = threading.Lock()

    def open(self, client: str) -> None:
        """Count a new stream for `client`, or raise TooManyStreams."""
        with self._lock:
            if self._open[client] >= self.limit:
                raise TooManyStreams(self.limit)
            self._open[client] += 1

    def close(self, client: str) -> None:
        """Count a stream as closed."""
        with self._lock:
            self._open[client] -= 1
            if self._open[client] <= 0:
                del self._open[client]

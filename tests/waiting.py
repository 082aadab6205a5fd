"""Waiting on a state, not on the clock: poll a condition until it holds."""
from __future__ import annotations

import time
from typing import Any, Callable


def until(check: Callable[[], Any], what: str, limit: float = 120.0) -> Any:
    """Return the first truthy value of `check()`; the limit only stops a broken test from hanging."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError(f"never reached: {what}")


TERMINAL = frozenset({"succeeded", "blocked", "failed", "cancelled", "interrupted"})


def finished(client: Any, run_id: str, limit: float = 900.0) -> dict[str, Any]:
    """Poll a run's status through a Flask test client until its phase has ended; return that status.

    A slow machine makes a phase take longer, never makes the next step start too early."""
    status: dict[str, Any] = {}

    def done() -> bool:
        status.update(client.get(f"/api/pipeline/{run_id}/status").get_json())
        return status.get("status") in TERMINAL

    until(done, f"run {run_id} to finish its phase", limit)
    return status

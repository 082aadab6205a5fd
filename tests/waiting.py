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


def run_coroutine(coroutine: Any) -> Any:
    """Run a coroutine to its end in a thread of its own and return its result.

    pytest-playwright's sync API keeps an event loop running in the main thread once a browser test has
    run, and `asyncio.run` refuses to start inside it; a fresh thread has no loop."""
    import asyncio
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coroutine).result()

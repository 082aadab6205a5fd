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


def body(response: Any) -> Any:
    """The JSON body of a Flask test response or an httpx response (None if there is none)."""
    if hasattr(response, "get_json"):
        return response.get_json(silent=True)
    try:
        return response.json()
    except ValueError:
        return None


def finished(client: Any, run_id: str, limit: float = 900.0) -> dict[str, Any]:
    """Poll a run's status through a Flask test client (or an httpx client) until its phase has ended;
    return that status.

    A slow machine makes a phase take longer, never makes the next step start too early."""
    status: dict[str, Any] = {}

    def done() -> bool:
        status.update(body(client.get(f"/api/pipeline/{run_id}/status")))
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


def phase_done(client: Any, path: str, method: str = "post", **kwargs: Any) -> Any:
    """POST (or `method`, e.g. the scene editor's PUT) a pipeline phase through a Flask test client (or an
    httpx client), then wait on the run's status until the phase has ended; return that status response
    (what `?wait=` answers, without its clock).

    A request that started no run (an error, a 4xx) is returned as it is."""
    started = getattr(client, method)(path, **kwargs)
    run_id = (body(started) or {}).get("run_id")
    if started.status_code != 202 or not run_id:
        return started
    finished(client, run_id)
    return client.get(f"/api/pipeline/{run_id}/status")

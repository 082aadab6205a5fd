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

"""Several servers behind one backend (`COMFYUI_URL=http://gpu1:8188,http://gpu2:8188`).

The existing engines scale out; DevServer only routes. A job goes to the least-busy server that has
not just failed (fewest jobs of ours running on it; ties go to the one used least recently, so load
spreads evenly). A server whose job failed because it was unreachable or silent is skipped for
`skip_seconds`, and the router's retry of that job lands on another one. When every server failed
recently, the one that failed longest ago is tried anyway: skipping all of them would turn a short
outage into a refusal.
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Callable, Generic, Sequence, TypeVar

T = TypeVar("T")


@dataclass
class _Slot:
    busy: int = 0
    down_until: float = 0.0
    last_used: float = 0.0


class InstancePool(Generic[T]):
    """Pick the least-busy healthy member; remember which ones failed just now."""

    def __init__(self, members: Sequence[T], skip_seconds: float = 30.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.members = list(members)
        self.skip_seconds = skip_seconds
        self._clock = clock
        self._slots = {id(m): _Slot() for m in self.members}
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self.members)

    def ranked(self, exclude: Sequence[T] = ()) -> list[T]:
        """Return the members best first: healthy before recently failed, then least busy, then least used."""
        with self._lock:
            return self._ranked(exclude)

    def _ranked(self, exclude: Sequence[T]) -> list[T]:
        now = self._clock()
        skipped = {id(m) for m in exclude}

        def rank(member: T) -> tuple[bool, float, int, float]:
            slot = self._slots[id(member)]
            down = slot.down_until > now
            return down, slot.down_until if down else 0.0, slot.busy, slot.last_used

        return sorted((m for m in self.members if id(m) not in skipped), key=rank)

    def take(self, exclude: Sequence[T] = ()) -> T | None:
        """Return the best member not in `exclude` and count a job on it (None when none is left).

        Picking and counting happen under one lock, so two jobs arriving together spread out.
        """
        with self._lock:
            ranked = self._ranked(exclude)
            if not ranked:
                return None
            slot = self._slots[id(ranked[0])]
            slot.busy += 1
            slot.last_used = self._clock()
            return ranked[0]

    def release(self, member: T) -> None:
        """Stop counting a job on `member`."""
        with self._lock:
            self._slots[id(member)].busy -= 1

    def failed(self, member: T) -> None:
        """Skip `member` for a while (it was unreachable or went silent)."""
        with self._lock:
            self._slots[id(member)].down_until = self._clock() + self.skip_seconds

    def succeeded(self, member: T) -> None:
        """Take `member` back at once (a job or a health probe worked)."""
        with self._lock:
            self._slots[id(member)].down_until = 0.0

    def describe(self, member: T) -> dict[str, float | int | bool]:
        """Return what /api/health shows about one member besides its own health."""
        now = self._clock()
        with self._lock:
            slot = self._slots[id(member)]
            return {"busy": slot.busy, "skipped": slot.down_until > now,
                    "skipped_for": round(max(0.0, slot.down_until - now), 1)}

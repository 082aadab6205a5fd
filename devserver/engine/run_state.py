"""The live state of one run: what the status endpoint shows and what server-sent events carry.

One `RunState` per run, owned by the orchestrator. Each phase of the student's flow (stage2 →
optimize → generation) works on the same state under the same run id. Every change goes through
`publish(item)`, which stores the event and wakes the SSE listeners; `status()` builds the JSON the
API returns. Nothing here is shared between runs.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable

TERMINAL = frozenset({"succeeded", "blocked", "failed", "cancelled", "interrupted"})
MAX_LIVE_ITEMS = 5000  # per run; older items stay on disk and are served from there


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


@dataclass
class OutputState:
    """One chosen output within a generation (a loop iteration of stages 3–4)."""

    index: int
    output_config: str
    media_type: str
    status: str = "queued"
    prompt: str | None = None
    negative_prompt: str | None = None
    seed: int | None = None
    url: str | None = None
    mime: str | None = None
    file: str | None = None
    progress: dict[str, int] | None = None
    queue_position: int | None = None
    error: dict[str, Any] | None = None
    block: dict[str, Any] | None = None
    model: str | None = None
    backend: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class RunState:
    """Everything the API shows about one run, guarded by one condition variable."""

    run_id: str
    schema: str | None
    safety_level: str
    lang: str
    input_text: str
    context_prompt: str | None = None
    session: str | None = None
    student: str | None = None  # pseudonym of the student who started the run (staff: "staff-<id>")
    status: str = "queued"
    phase: str = "stage2"
    stage: str | None = None
    step: str | None = None
    progress: dict[str, int] | None = None
    queue_position: int | None = None
    translation: str | None = None
    interception: dict[str, Any] = field(default_factory=lambda: {
        "task_instruction": None, "context": None, "input": None, "iterations": [], "result": None})
    optimizations: dict[str, dict[str, Any]] = field(default_factory=dict)
    outputs: list[OutputState] = field(default_factory=list)
    block: dict[str, Any] | None = None
    error: dict[str, Any] | None = None
    created_at: str = field(default_factory=now_iso)
    updated_at: str = field(default_factory=now_iso)
    generation_count: int = 0
    phase_count: int = 0  # phases queued so far; the access limits cap it so a run cannot grow forever
    fingerprints: dict[str, str] = field(default_factory=dict)
    current_fingerprint: str | None = None
    items: list[dict[str, Any]] = field(default_factory=list)
    cond: threading.Condition = field(default_factory=threading.Condition, repr=False)
    cancel_requested: bool = False
    models: set[str] = field(default_factory=set)  # "backend/model" actually used, for the index
    notices: list[dict[str, str]] = field(default_factory=list)  # the quality gate kept an earlier text

    @property
    def terminal(self) -> bool:
        return self.status in TERMINAL

    def touch(self, **changes: Any) -> None:
        """Apply field changes and wake listeners (for changes that carry no event item)."""
        with self.cond:
            for key, value in changes.items():
                setattr(self, key, value)
            self.updated_at = now_iso()
            self.cond.notify_all()

    def publish(self, item: dict[str, Any]) -> None:
        """Store an event item (already numbered by the recorder) and wake every listener."""
        with self.cond:
            self.items.append(item)
            if len(self.items) > MAX_LIVE_ITEMS:
                del self.items[: len(self.items) - MAX_LIVE_ITEMS]
            self.updated_at = now_iso()
            self.cond.notify_all()

    def items_after(self, sequence: int) -> list[dict[str, Any]]:
        with self.cond:
            return [i for i in self.items if i.get("sequence", 0) > sequence]

    def wait(self, sequence: int, version: str, timeout: float) -> None:
        """Block until an item after `sequence` exists or the state changed, or `timeout` passes."""
        with self.cond:
            self.cond.wait_for(lambda: self.updated_at != version or
                               (self.items and self.items[-1].get("sequence", 0) > sequence), timeout)

    def status_dict(self) -> dict[str, Any]:
        """Return the status JSON (the API's source of truth for a run)."""
        with self.cond:
            return {
                "run_id": self.run_id, "status": self.status, "phase": self.phase, "stage": self.stage,
                "step": self.step, "progress": self.progress, "queue_position": self.queue_position,
                "safety_level": self.safety_level, "schema": self.schema, "lang": self.lang,
                "session": self.session, "student": self.student, "phase_count": self.phase_count,
                "input_text": self.input_text, "context_prompt": self.context_prompt,
                "translation": self.translation, "interception": _copy(self.interception),
                "optimizations": _copy(self.optimizations),
                "outputs": [o.to_dict() for o in self.outputs],
                "block": self.block, "error": self.error, "models": sorted(self.models),
                "created_at": self.created_at, "updated_at": self.updated_at,
                "notices": _copy(self.notices),
            }


@dataclass(frozen=True)
class RunOwner:
    """Who starts a run: its workshop session, the student's pseudonym, the session's base safety level,
    and `admit(state_or_None, phase, request)`, which raises when a limit forbids the phase."""

    session: str | None
    student: str | None
    level: str | None = None
    admit: Callable[[RunState | None, str, Any], None] | None = None


def _copy(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy(v) for v in value]
    return value

"""The live state of one run: what the status endpoint shows and what server-sent events carry.

One `RunState` per run, owned by the orchestrator. Each phase of the student's flow (stage2 →
optimize → generation) works on the same state under the same run id. Request threads read it
(`status_dict`, `items_after`, SSE) while a run worker changes it, so every change is a method that
holds the state's lock and wakes the listeners: phases never poke its dicts and lists directly.
Events go through `publish(item)`; `status_dict()` builds the JSON the API returns. Nothing here is
shared between runs.
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
    scene: str | None = None  # the storyboard scene (its id) this output draws

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
    storyboard: dict[str, Any] | None = None  # a storyboard run: title, logline, scenes (engine/storyboard.py)
    listeners: list[Callable[[], None]] = field(default_factory=list, repr=False)

    @property
    def terminal(self) -> bool:
        return self.status in TERMINAL

    def touch(self, **changes: Any) -> None:
        """Apply field changes and wake listeners (for changes that carry no event item)."""
        with self.cond:
            for key, value in changes.items():
                setattr(self, key, value)
            self.updated_at = now_iso()
            self._wake()

    def subscribe(self, listener: Callable[[], None]) -> None:
        """Call `listener` (quickly, from the changing thread) after every change; async streams use it."""
        with self.cond:
            self.listeners = [*self.listeners, listener]

    def unsubscribe(self, listener: Callable[[], None]) -> None:
        """Stop calling a listener."""
        with self.cond:
            self.listeners = [fn for fn in self.listeners if fn is not listener]

    def _wake(self) -> None:
        self.cond.notify_all()
        for listener in self.listeners:
            listener()

    def accept(self, phase: str, fingerprint: str, safety_level: str) -> None:
        """Queue a new phase of this run (the request's fingerprint recognises a retried POST)."""
        with self.cond:
            self.safety_level = safety_level
            self.fingerprints[fingerprint] = phase
            self.current_fingerprint = fingerprint
            self.touch(status="queued", phase=phase, block=None, error=None, cancel_requested=False,
                       phase_count=self.phase_count + 1)

    def begin_interception(self, task_instruction: str, context: str, text: str, total: int) -> None:
        """Show the three parts of the interception before its first iteration."""
        with self.cond:
            self.interception = {"task_instruction": task_instruction, "context": context, "input": text,
                                 "iterations": [], "result": None}
            self.touch(progress={"current": 0, "total": total})

    def add_iteration(self, index: int, language: str | None, text: str, total: int,
                      back_translation: str | None = None) -> None:
        """Append one (checked) interception iteration (with its checked back-translation, if any)."""
        with self.cond:
            self.interception["iterations"] = [*self.interception["iterations"], {
                "index": index, "language": language, "text": text, "back_translation": back_translation}]
            self.touch(progress={"current": index, "total": total})

    def add_notice(self, notice: dict[str, str]) -> None:
        """Tell the student that the quality gate kept an earlier text (shown with the step)."""
        with self.cond:
            self.notices = [*self.notices, notice]
            self.touch()

    def finish_interception(self, text: str) -> None:
        """Store the interception's final text."""
        with self.cond:
            self.interception = {**self.interception, "result": text}
            self.touch(stage="stage2", step="interception")

    def set_optimization(self, output_id: str, **fields: Any) -> None:
        """Create or update the optimization entry of one output."""
        with self.cond:
            self.optimizations = {**self.optimizations,
                                  output_id: {**self.optimizations.get(output_id, {}), **fields}}
            self.touch()

    def start_generation(self, chosen: list[tuple[str, str]]) -> list[OutputState]:
        """Add one queued output per (output_config, media_type) and count the generation."""
        with self.cond:
            self.generation_count += 1
            outputs = [OutputState(index=len(self.outputs) + i, output_config=oid, media_type=media)
                       for i, (oid, media) in enumerate(chosen)]
            self.outputs = [*self.outputs, *outputs]
            self.touch()
            return outputs

    def set_storyboard(self, storyboard: dict[str, Any]) -> None:
        """Replace the storyboard (the brief, or the student's edited scenes)."""
        with self.cond:
            self.storyboard = _copy(storyboard)
            self.touch()

    def start_scenes(self, output_id: str, media_type: str) -> list[OutputState]:
        """Add one queued output per storyboard scene, in scene order, and link each scene to its output."""
        with self.cond:
            assert self.storyboard is not None
            self.generation_count += 1
            scenes = self.storyboard["scenes"]
            outputs = [OutputState(index=len(self.outputs) + i, output_config=output_id, media_type=media_type,
                                   scene=scene["id"]) for i, scene in enumerate(scenes)]
            self.outputs = [*self.outputs, *outputs]
            self.storyboard = {**self.storyboard, "output_config": output_id,
                               "scenes": [{**scene, "output": out.index} for scene, out in zip(scenes, outputs)]}
            self.touch()
            return outputs

    def update_output(self, out: OutputState, **fields: Any) -> None:
        """Change fields of one output together (a reader never sees half an update)."""
        with self.cond:
            for key, value in fields.items():
                setattr(out, key, value)
            self.touch()

    def add_model(self, ref: str) -> None:
        """Note a `backend/model` the run actually used."""
        with self.cond:
            self.models = self.models | {ref}

    def record_fields(self) -> dict[str, Any]:
        """Return the metadata snapshot the recorder stores (status plus what a restart needs)."""
        with self.cond:
            return {**self.status_dict(), "request_fingerprints": dict(self.fingerprints),
                    "current_fingerprint": self.current_fingerprint, "generation_count": self.generation_count}

    def publish(self, item: dict[str, Any]) -> None:
        """Store an event item (already numbered by the recorder) and wake every listener."""
        with self.cond:
            self.items.append(item)
            if len(self.items) > MAX_LIVE_ITEMS:
                del self.items[: len(self.items) - MAX_LIVE_ITEMS]
            self.updated_at = now_iso()
            self._wake()

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
                "notices": _copy(self.notices), "storyboard": _copy(self.storyboard),
            }


def restore(run_id: str, meta: dict[str, Any], safety_level: str) -> RunState:
    """Rebuild a run's state from its metadata snapshot (a run left unfinished counts as interrupted)."""
    state = RunState(run_id=run_id, schema=meta.get("schema"), safety_level=safety_level,
                     lang=meta.get("lang") or "de", input_text=meta.get("input_text") or "",
                     context_prompt=meta.get("context_prompt"), session=meta.get("session"),
                     student=meta.get("student"), phase_count=int(meta.get("phase_count") or 0))
    status = meta.get("status", "interrupted")
    state.status = status if status in TERMINAL else "interrupted"
    state.fingerprints.update(meta.get("request_fingerprints") or {})
    state.current_fingerprint = meta.get("current_fingerprint")
    state.generation_count = int(meta.get("generation_count") or 0)
    state.models.update(meta.get("models") or [])
    state.created_at = meta.get("created_at") or state.created_at
    state.outputs = [OutputState(**{k: v for k, v in o.items() if k in OUTPUT_FIELDS})
                     for o in meta.get("outputs") or [] if isinstance(o, dict)]
    state.translation = meta.get("translation")
    state.interception.update(meta.get("interception") or {})
    state.optimizations.update(meta.get("optimizations") or {})
    state.storyboard = meta.get("storyboard")
    return state


OUTPUT_FIELDS = frozenset(OutputState.__dataclass_fields__)


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

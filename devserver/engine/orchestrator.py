"""The orchestrator: owns every run's state machine and executes phases outside the request thread.

    queued → running(stage, step, progress) → succeeded | blocked | failed | cancelled | interrupted

`submit(phase, request)` validates references, creates or re-opens the run (a client-supplied run id
makes a retried POST idempotent), records it, and queues the phase on a thread pool behind a bounded
line (`RunQueue`: 429 when full, a visible queue position). Phases of one run
execute one after another (a per-run lock); different runs share nothing. Live states are kept for
recent runs; older runs are answered from their folders by the recorder.
"""
from __future__ import annotations

import logging
import threading
import uuid
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Callable

from devserver.engine import image_source
from devserver.engine.context import Blocked, Cancelled, PhaseContext
from devserver.engine.phases import PHASES
from devserver.engine.requests import Body, GenerationRequest, Stage2Request, StoryboardRequest
from devserver.engine.storyboard import STORYBOARD_PHASES, check_scene_request
from devserver.engine.run_queue import RunQueue
from devserver.recorder.items import BLOCKED_ITEMS
from devserver.engine.run_state import RunOwner, RunState, restore
from devserver.errors import AppError, Conflict, NotFound, ValidationFailed
from devserver.schemas.models import OutputChunk

log = logging.getLogger(__name__)
LIVE_RUNS = 500
RERUNNABLE = frozenset({"failed", "cancelled", "interrupted"})
ALL_PHASES = {**PHASES, **STORYBOARD_PHASES}
CREATING = frozenset({"stage2", "execute", "storyboard"})  # phases that start a run
CONTINUING = frozenset({"optimize", "generation", "scenes", "storyboard_generation"})  # need an existing run


@dataclass
class Services:
    """Everything a phase may call; built once per app."""

    catalog: Any
    router: Any
    safety: Any  # devserver.safety.service.SafetyService
    recorder: Any
    config: Any

    def chat(self, role: str, messages: Any, options: dict[str, Any], json_schema: Any = None,
             on_token: Any = None) -> Any:
        """Call a role's model; with LLM_SEED set, every call samples reproducibly (the seed is recorded)."""
        if self.config.LLM_SEED is not None and "seed" not in options:
            options = {**options, "seed": self.config.LLM_SEED}
        return self.router.chat(role, messages, options, json_schema=json_schema, on_token=on_token)

    def see(self, messages: Any, options: dict[str, Any]) -> Any:
        """Call VISION_MODEL alone (a text model down the fallback chain would answer without the picture)."""
        if self.config.LLM_SEED is not None and "seed" not in options:
            options = {**options, "seed": self.config.LLM_SEED}
        return self.router.chat_model(self.config.VISION_MODEL, messages, options, fallback=False)

    def before_media(self, chunk: OutputChunk) -> None:
        """Free the GPU memory of every role's unloadable model (Ollama) before a ComfyUI job, when configured."""
        if chunk.backend == "comfyui" and self.config.OLLAMA_UNLOAD_BEFORE_MEDIA:
            # the vision models (image check, picture description) hold GPU memory too
            seeing = [ref for ref in (self.config.IMAGE_CHECK_MODEL, self.config.VISION_MODEL) if ref]
            refs = {*self.config.MODEL_ROLE_MAP.values(), *seeing}
            for ref in sorted(refs):
                try:
                    self.router.unload_model(ref)
                except Exception:  # a failed unload only costs memory; the picture is still made
                    log.warning("could not unload %s before the media job", ref)


class Orchestrator:
    """Runs of one app."""

    def __init__(self, services: Services, workers: int = 4, queue_max: int = 100):
        self.services = services
        self._queue = RunQueue(queue_max)
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="run")
        self._runs: OrderedDict[str, RunState] = OrderedDict()
        self._locks: dict[str, threading.Lock] = {}
        self._cancels: dict[str, PhaseContext] = {}
        self._guard = threading.Lock()

    # -- submission -------------------------------------------------------------------------------
    def submit(self, phase: str, req: Body, owner: RunOwner | None = None) -> RunState:
        """Queue a phase for a new or existing run and return its live state (`owner`: who, and their limits)."""
        self._validate_refs(req)
        run_id = getattr(req, "run_id", None)
        fingerprint = f"{phase}:{req.fingerprint()}"
        with self._guard:
            state = self._runs.get(run_id) if run_id else None
            if state is None and run_id and (phase in CONTINUING or self.services.recorder.exists(run_id)):
                state = self._restore(run_id)  # after a restart, or once it left the live cache
            if state is not None and not state.fingerprints and not state.phase_count and phase in ("stage2", "execute"):
                state = None  # a run opened by a picture upload: its first phase starts it like a new run
            if state is not None:
                if self._is_retry(state, phase, fingerprint):
                    return state  # the same POST again: nothing is executed twice
                if not state.terminal:
                    raise Conflict("This run is still working on its previous step; try again when it has "
                                   "finished.", code="run_busy",
                                   details={"run_id": run_id, "phase": state.phase, "status": state.status})
            check_scene_request(state, req)
            if owner is not None and owner.admit is not None:
                owner.admit(state, phase, req)  # None for a new run
            self._queue.ensure_room()  # 429 before anything changes
            if state is None:
                state = self._new_state(run_id or str(uuid.uuid4()), req, owner)
            # a later phase may only make the level stricter, never looser
            state.accept(phase, fingerprint, self.services.safety.level(getattr(req, "safety_level", None),
                                                                        base=state.safety_level))
            self._queue.admit(state)
            lock = self._locks.setdefault(state.run_id, threading.Lock())
        self._record_submitted(state)
        self._executor.submit(self._run_phase, phase, req, state, lock)
        return state

    def _record_submitted(self, state: RunState) -> None:
        """Record the queued run before it waits, so a restart shows it `interrupted` (never a 404)."""
        try:
            self.services.recorder.open_run(state.run_id, state.record_fields())
        except Exception:  # the worker tries again and ends the run in a clear state
            log.exception("run %s: could not record it at submit", state.run_id)

    @staticmethod
    def _is_retry(state: RunState, phase: str, fingerprint: str) -> bool:
        """Tell whether a POST repeats one already taken (and must not run again), or raise 409.

        stage2/execute create a run: under a used run id only the identical request is accepted, and it
        runs again only if its first try ended failed, cancelled or interrupted. optimize/generation are
        deduplicated while the identical request is still queued or running; afterwards the same body
        is a new request ("generate again")."""
        current = state.current_fingerprint == fingerprint
        if phase in CREATING:
            if fingerprint not in state.fingerprints:
                raise Conflict("This run id is already used for another request.", code="run_id_conflict",
                               details={"run_id": state.run_id})
            return not (current and state.status in RERUNNABLE)
        return current and not state.terminal

    def _validate_refs(self, req: Body) -> None:
        catalog = self.services.catalog
        if isinstance(req, Stage2Request):
            cfg = catalog.interception(req.schema_)
            storyboard = catalog.pipeline(cfg.pipeline).type == "storyboard"
            if storyboard != isinstance(req, StoryboardRequest):  # a brief is not an interception, nor vice versa
                raise ValidationFailed(f"The attitude {cfg.id!r} " + ("makes a storyboard: use the storyboard phase."
                                       if storyboard else "is no storyboard attitude."),
                                       code="wrong_pipeline_kind", details={"schema": cfg.id})
        for oid in getattr(req, "output_configs", []) or []:
            catalog.output(oid)
        if getattr(req, "output_config", None):
            catalog.output(req.output_config)  # type: ignore[attr-defined]
        image_source.validate(self.services, req)

    def _new_state(self, run_id: str, req: Body, owner: RunOwner | None = None) -> RunState:
        # the session's level is the base; the request may only make it stricter
        level = self.services.safety.level(getattr(req, "safety_level", None), base=owner.level if owner else None)
        text = getattr(req, "input_text", None) or getattr(req, "prompt", None) or ""
        if not text and isinstance(req, GenerationRequest):
            text = next(iter(req.prompts.values()), "")
        state = RunState(run_id=run_id, schema=getattr(req, "schema_", None), safety_level=level,
                         lang=getattr(req, "lang", "de"), input_text=text,
                         context_prompt=getattr(req, "context_prompt", None),
                         session=owner.session if owner else getattr(req, "session", None),
                         student=owner.student if owner else None)
        self._remember(state)
        return state

    def _remember(self, state: RunState) -> None:
        """Keep a run live; forget the least recently used finished runs beyond LIVE_RUNS."""
        self._runs[state.run_id] = state
        excess = len(self._runs) - LIVE_RUNS
        for run_id in [rid for rid, s in self._runs.items() if s.terminal and rid != state.run_id][:max(0, excess)]:
            self._runs.pop(run_id)
            self._locks.pop(run_id, None)

    def _restore(self, run_id: str) -> RunState:
        """Bring a finished run back from its folder so a later phase can continue it."""
        meta = self.services.recorder.metadata(run_id)
        # the stricter of the stored level and today's server default (a missing level counts as kids)
        state = restore(run_id, meta, self.services.safety.level(meta.get("safety_level") or "kids"))
        self._remember(state)
        return state

    # -- execution --------------------------------------------------------------------------------
    def _run_phase(self, phase: str, req: Body, state: RunState, lock: threading.Lock) -> None:
        self._queue.leave(state)
        with lock:
            try:
                record = self.services.recorder.open_run(state.run_id, state.status_dict())
            except Exception:  # no record at all: the run still has to end in a clear state
                log.exception("run %s: could not open its record", state.run_id)
                state.touch(status="failed", error={"code": "storage_failed",
                                                    "message": "The run could not be recorded on the server."})
                return
            ctx = PhaseContext(state, record, self.services)
            self._cancels[state.run_id] = ctx
            try:
                state.touch(status="running", phase=phase)
                ctx.persist()
                ctx.emit("pipeline_start", metadata={"phase": phase,
                                                     "request": req.recorded()})
                if state.cancel_requested:
                    raise Cancelled("The run was cancelled before it started.")
                ALL_PHASES[phase](ctx, req)
                self._finish(ctx, "succeeded", "pipeline_complete", {"phase": phase})
            except Blocked as blocked:
                item = BLOCKED_ITEMS.get(blocked.block.get("stage"), "stage3_blocked")
                state.touch(block=blocked.block)
                self._finish(ctx, "blocked", item, blocked.block)
            except Cancelled:
                self._finish(ctx, "cancelled", "pipeline_cancelled", {"code": "cancelled"})
            except AppError as err:
                state.touch(error={"code": err.code, "message": err.message})
                self._finish(ctx, "failed", "pipeline_error", {"code": err.code, "message": err.message,
                                                              "details": err.details}, withheld=True)
            except Exception as exc:  # a bug must still end the run in a clear state
                log.exception("run %s phase %s crashed", state.run_id, phase)
                state.touch(error={"code": "internal_error", "message": "The server hit an unexpected error."})
                self._finish(ctx, "failed", "pipeline_error", {"code": "internal_error",
                                                              "message": type(exc).__name__}, withheld=True)
            finally:
                if self._cancels.get(state.run_id) is ctx:
                    self._cancels.pop(state.run_id)

    def _finish(self, ctx: PhaseContext, status: str, item_type: str, metadata: dict[str, Any],
                withheld: bool = False) -> None:
        state = ctx.state
        # Held throughout: nobody may see the terminal status before it and its last item are on disk.
        with state.cond:
            state.touch(status=status, queue_position=None,
                        **({} if status == "succeeded" else {"progress": None}))
            ctx.persist()
            ctx.emit(item_type, stage=state.stage, metadata={"status": status, **metadata}, withheld=withheld)

    # -- queries and control ----------------------------------------------------------------------
    def get(self, run_id: str) -> RunState | None:
        """Return the live state of a recent run (None when only its folder remains)."""
        with self._guard:
            state = self._runs.get(run_id)
            if state is not None:
                self._runs.move_to_end(run_id)
            return state

    def forget(self, run_id: str) -> None:
        """Drop a finished run's live state (after its record was deleted)."""
        with self._guard:
            state = self._runs.get(run_id)
            if state is not None and state.terminal:
                self._runs.pop(run_id)

    def status(self, run_id: str) -> dict[str, Any]:
        """Return the status JSON from memory, or from the run's folder."""
        state = self.get(run_id)
        if state is not None:
            return state.status_dict()
        return self.services.recorder.metadata(run_id)

    def cancel(self, run_id: str) -> dict[str, Any]:
        """Ask a run to stop; a running media job is interrupted at its backend."""
        state = self.get(run_id)
        if state is None:
            self.services.recorder.metadata(run_id)  # NotFound for unknown runs
            raise Conflict("This run has already finished.", code="run_not_running")
        if state.terminal:
            raise Conflict("This run has already finished.", code="run_not_running",
                           details={"status": state.status})
        state.touch(cancel_requested=True)
        self._queue.leave(state)  # it ends as cancelled as soon as a worker reaches it; nobody waits behind it
        ctx = self._cancels.get(run_id)
        if ctx is not None:
            ctx.cancel.cancel()
        return state.status_dict()

    def wait(self, run_id: str, seconds: float, until: Callable[[RunState], bool] | None = None) -> dict[str, Any]:
        """Block up to `seconds` for the run's current phase to reach a terminal status."""
        state = self.get(run_id)
        if state is None:
            raise NotFound(f"No run {run_id}.", code="run_not_found")
        done = until or (lambda s: s.terminal)
        with state.cond:
            state.cond.wait_for(lambda: done(state), timeout=max(0.0, seconds))
        return state.status_dict()

    def shutdown(self) -> None:
        for ctx in list(self._cancels.values()):
            ctx.cancel.cancel()
        self._executor.shutdown(wait=True, cancel_futures=True)

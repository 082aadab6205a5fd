"""Limits on starting work: runs per student per minute, outputs per run, phases per run, allowed choices.

Called by the orchestrator (through `RunOwner.admit`) under its lock, after it has decided whether a
POST starts a new run or continues one, so a check and the work it admits cannot be separated by a
second request. The per-minute count is a moving window per (session, student) in memory
(`limits`, the library under flask-limiter): a restart forgets it, which only ever loosens it for a
minute.

* a new run over the session's `runs_per_minute` → 429 with `Retry-After` (waiting helps); a picture
  upload over UPLOADS_PER_MINUTE → 429 `too_many_uploads` the same way;
* a run over the session's `max_outputs_per_run`, or over RUN_MAX_PHASES phases → 409 (waiting does
  not help: start a new run);
* an attitude or output the session does not allow → 403.
"""
from __future__ import annotations

import math
import time
from typing import Any

from limits import RateLimitItemPerMinute
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter

from devserver.access.principal import Principal
from devserver.access.workshops import Workshop, Workshops
from devserver.engine.run_state import RunOwner, RunState
from devserver.errors import Conflict, Forbidden, TooBusy


class RateLimited(TooBusy):
    """429: the student starts runs faster than the session allows (`retry_after` seconds)."""

    code = "too_many_runs"


class RunLimits:
    """The admission checks of one app."""

    def __init__(self, workshops: Workshops, max_phases: int):
        self.workshops = workshops
        self.max_phases = max_phases
        self._window = MovingWindowRateLimiter(MemoryStorage())

    def owner(self, principal: Principal, workshop: Workshop) -> RunOwner:
        """Return the RunOwner for a phase the caller starts in their session."""
        return RunOwner(session=workshop.id, student=principal.owner_id, level=workshop.safety_level,
                        admit=lambda state, phase, req: self.admit(principal, workshop, state, req))

    def admit(self, principal: Principal, workshop: Workshop, state: RunState | None, req: Any) -> None:
        """Raise when the phase is not allowed; count a new run against the per-minute limit."""
        session = workshop if state is None else self.workshops.get(state.session or workshop.id)
        self._check_choices(session, req)
        if state is None:
            self._check_outputs(session, 0, req.outputs_added(None))
            self._hit(principal, session)
            return
        if state.phase_count >= self.max_phases:
            raise Conflict(f"This run has taken its {self.max_phases} steps. Start a new run to go on.",
                           code="run_limit_reached", details={"limit": self.max_phases})
        self._check_outputs(session, len(state.outputs), req.outputs_added(state))

    @staticmethod
    def _check_choices(session: Workshop, req: Any) -> None:
        schema = getattr(req, "schema_", None)
        if schema and session.allowed_attitudes is not None and schema not in session.allowed_attitudes:
            raise Forbidden("This attitude is not part of your workshop.", code="attitude_not_allowed",
                            details={"schema": schema, "allowed": session.allowed_attitudes})
        chosen = list(getattr(req, "output_configs", None) or []) + \
            ([req.output_config] if getattr(req, "output_config", None) else [])
        refused = [o for o in chosen if session.allowed_outputs is not None and o not in session.allowed_outputs]
        if refused:
            raise Forbidden("This output is not part of your workshop.", code="output_not_allowed",
                            details={"outputs": refused, "allowed": session.allowed_outputs})

    @staticmethod
    def _check_outputs(session: Workshop, existing: int, new: int) -> None:
        if existing + new > session.max_outputs_per_run:
            raise Conflict(f"A run can have at most {session.max_outputs_per_run} results. Start a new run for more.",
                           code="output_limit_reached",
                           details={"limit": session.max_outputs_per_run, "existing": existing, "requested": new})

    def admit_upload(self, principal: Principal, workshop: Workshop, per_minute: int) -> None:
        """Count a picture upload against the caller's per-minute limit; raise 429 beyond it."""
        self._hit(principal, workshop, per_minute, "uploads", "too_many_uploads", "uploads")

    def _hit(self, principal: Principal, session: Workshop, per_minute: int | None = None, kind: str = "runs",
             code: str = "too_many_runs", what: str = "new runs") -> None:
        limit = session.runs_per_minute if per_minute is None else per_minute
        item = RateLimitItemPerMinute(limit)
        key = f"{kind}/{session.id}/{principal.owner_id}"
        if not self._window.hit(item, key):
            reset = self._window.get_window_stats(item, key).reset_time
            wait = max(1, math.ceil(reset - time.time()))
            raise RateLimited(f"Slow down a little: at most {limit} {what} a minute. "
                              f"Try again in {wait} seconds.", retry_after=wait, code=code)

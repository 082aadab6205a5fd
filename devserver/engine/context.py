"""What one phase of one run works with: the services, the live state, the record — and `emit`.

`emit` is the single path by which anything that happened reaches the outside: the recorder numbers
and persists the item (never raising), the live state publishes it to status and SSE listeners.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from devserver.backends.base import CancelToken
from devserver.engine.projection import project_item
from devserver.engine.run_state import RunState
from devserver.errors import AppError

log = logging.getLogger(__name__)


class Blocked(Exception):
    """A safety checkpoint stopped the phase (carries the block the status shows)."""

    def __init__(self, block: dict[str, Any]):
        super().__init__(block.get("category", "blocked"))
        self.block = block


class Cancelled(AppError):
    status, code = 409, "cancelled"


@dataclass
class PhaseContext:
    """Services and state for one phase of a run."""

    state: RunState
    record: Any  # devserver.recorder RunRecord
    services: Any  # devserver.engine.orchestrator.Services
    cancel: CancelToken = field(default_factory=CancelToken)

    def emit(self, item_type: str, *, stage: str | None = None, content: str | None = None,
             media_type: str = "text", stage_iteration: int | None = None, loop_iteration: int | None = None,
             metadata: dict[str, Any] | None = None, file: str | None = None,
             withheld: bool = False) -> dict[str, Any]:
        """Record an event and publish it to the run's live listeners.

        `withheld` items (a blocked model text, an error's technical details) are recorded in full for
        teachers and researchers, but students' views get them without content."""
        if withheld:
            metadata = {**(metadata or {}), "withheld": True}
        item = self.record.event(item_type, stage=stage, content=content, media_type=media_type,
                                 stage_iteration=stage_iteration, loop_iteration=loop_iteration,
                                 metadata=metadata, file=file)
        if metadata and metadata.get("model_used"):
            self.state.add_model(f"{metadata.get('backend')}/{metadata['model_used']}")
        for call in (metadata or {}).get("calls") or ():  # safety verdicts: guard, verify and vision models
            self.state.add_model(f"{call.get('backend')}/{call.get('model_used')}")
        # The live buffer feeds every SSE listener; it only ever holds the student projection, so no
        # stream can leak what a checkpoint withheld (staff read the full record).
        self.state.publish(project_item(item, "student"))
        return item

    def entity(self, kind: str, data: bytes | str, ext: str = "txt") -> str | None:
        """Save a numbered entity file; a recorder problem is logged and never stops the run."""
        try:
            return self.record.save_entity(kind, data, ext)
        except Exception:  # the recorder must never break a run
            log.exception("could not save entity %s for run %s", kind, self.state.run_id)
            return None

    def enter(self, stage: str, step: str) -> None:
        """Move the live state to a stage/step and record the transition."""
        previous = self.state.stage
        self.check_cancel()
        self.state.touch(stage=stage, step=step, progress=None)
        self.emit("stage_transition", stage=stage, metadata={"from": previous, "to": stage, "step": step})
        self.persist()  # metadata.json and the run index follow the live status, not only the end

    def check_cancel(self) -> None:
        if self.cancel.cancelled or self.state.cancel_requested:
            raise Cancelled("The run was cancelled.")

    def persist(self) -> None:
        """Write the metadata snapshot (atomically, by the recorder)."""
        try:
            self.record.update(**self.state.record_fields())
        except Exception:
            log.exception("could not persist metadata for run %s", self.state.run_id)

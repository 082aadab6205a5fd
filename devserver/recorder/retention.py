"""Retention and deletion of run records: a session's runs are deleted once its retention period ends.

Each workshop session has a retention period in days (set by its teacher); runs without a session,
and those of the built-in default session, follow `RETENTION_DAYS` (0 = kept until deleted by hand).
A background thread sweeps once `RETENTION_FIRST_SWEEP_SECONDS` after start-up and then every
`RETENTION_SWEEP_SECONDS`: every finished run created more than its period ago is deleted — folder,
media and index row. Runs still going are never deleted. Every deletion, by the sweep or by a teacher
("delete now"), is written to the audit log with who, when and why.
"""
from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Callable

from devserver.errors import AppError

log = logging.getLogger(__name__)

RetentionDays = Callable[[str | None], int]  # session id → days (0 = keep)
Audit = Callable[[str | None, str, str, str], None]  # session, run id, actor, reason


@dataclass
class Retention:
    """Deletes runs by hand or when their retention period is over; the recorder does the file work."""

    recorder: Any  # devserver.recorder.LivePipelineRecorder
    retention_days: RetentionDays
    audit: Audit
    forget: Callable[[str], None] = lambda run_id: None  # drop a run's live state (the orchestrator's)
    clock: Callable[[], datetime] = lambda: datetime.now(timezone.utc)
    _stop: threading.Event = field(default_factory=threading.Event)

    def delete_one(self, run_id: str, actor: str, reason: str) -> None:
        """Delete one run and audit it; NotFound for an unknown run, Conflict while it is going."""
        metadata = self.recorder.delete_run(run_id)
        self.forget(run_id)
        self.audit(metadata.get("session"), run_id, actor, reason)

    def delete(self, run_ids: list[str], actor: str, reason: str) -> dict[str, list[str]]:
        """Delete the given runs; return {deleted, skipped} (skipped: still going or already gone)."""
        deleted: list[str] = []
        skipped: list[str] = []
        for run_id in run_ids:
            try:
                self.delete_one(run_id, actor, reason)
            except AppError:
                skipped.append(run_id)
                continue
            deleted.append(run_id)
        return {"deleted": deleted, "skipped": skipped}

    def expired(self, now: datetime | None = None) -> list[str]:
        """Return the ids of finished runs whose session's retention period has ended."""
        moment = now or self.clock()
        ids: list[str] = []
        for session in self.recorder.index.sessions():
            days = self.retention_days(session)
            if days > 0:
                before = (moment - timedelta(days=days)).isoformat(timespec="microseconds")
                ids += self.recorder.index.finished_before(session, before)
        return ids

    def sweep(self, now: datetime | None = None) -> dict[str, list[str]]:
        """Delete every expired run (what the background thread does)."""
        result = self.delete(self.expired(now), "retention", "retention period of the session ended")
        if result["deleted"]:
            log.info("retention: deleted %d run(s)", len(result["deleted"]))
        return result

    def start(self, first_seconds: float, every_seconds: float) -> threading.Thread:
        """Sweep in a daemon thread: first after `first_seconds`, then every `every_seconds`."""
        def loop() -> None:
            wait = first_seconds
            while not self._stop.wait(wait):
                try:
                    self.sweep()
                except Exception:  # a failed sweep is retried next time, never kills the thread
                    log.exception("retention sweep failed")
                wait = every_seconds

        thread = threading.Thread(target=loop, name="retention", daemon=True)
        thread.start()
        return thread

    def stop(self) -> None:
        """Stop the background sweep."""
        self._stop.set()

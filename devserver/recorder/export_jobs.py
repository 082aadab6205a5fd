"""Bulk ZIP exports with media, built by a background job instead of inside a request.

`POST /api/exports` resolves the filters to run ids (in the request, so a teacher's session limit
applies) and hands them to `ExportJobs.start`, which answers at once; a worker thread writes the ZIP
to `<folder>/<job id>.zip.part` and renames it to `<job id>.zip` only when it is complete, so a
download never sees a torn archive. Progress (runs done of total, bytes written) is kept in memory.

Rules:

* a job belongs to the caller who started it: anyone else is told it does not exist (404);
* at most `max_active` jobs are queued or running at once; one more is a 429 (`Retry-After`);
* a finished job and its file are deleted `keep_seconds` after it finished (checked on every call and
  by `sweep`, which the app runs in a daemon thread); files that no live job owns and that are older
  than that (a previous process's jobs, a `.part` left by a crash) go too. Jobs do not survive a restart.
"""
from __future__ import annotations

import logging
import os
import threading
import time
import uuid
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterator

from devserver.errors import Conflict, NotFound, TooBusy
from devserver.recorder.export import write_bulk_zip

if TYPE_CHECKING:
    from devserver.recorder.recorder import LivePipelineRecorder

log = logging.getLogger(__name__)

JOB_LIMIT = 10_000  # runs per job: the ZIP's directory of entries is held in memory until it is closed
RETRY_AFTER_SECONDS = 30
ACTIVE = ("queued", "running")


class TooManyExports(TooBusy):
    """Every export slot is busy; the caller should try again later."""

    code = "too_many_exports"

    def __init__(self, limit: int):
        super().__init__(f"{limit} exports are being prepared already; try again when one of them is done.",
                         retry_after=RETRY_AFTER_SECONDS, details={"limit": limit})


class _Stopped(Exception):
    """The server is shutting down: the job gives up between two runs."""


def _iso(seconds: float | None) -> str | None:
    return None if seconds is None else datetime.fromtimestamp(seconds, timezone.utc).isoformat(timespec="seconds")


@dataclass
class ExportJob:
    """One background export: what it exports, for whom, and how far it got (guarded by ExportJobs' lock)."""

    id: str
    owner: str
    run_ids: list[str]
    selection: dict[str, Any]  # filters, total, offset, limit (for the manifest)
    media: bool
    created_at: float
    status: str = "queued"  # queued | running | done | failed
    runs_done: int = 0
    bytes: int = 0
    finished_at: float | None = None
    missing: list[str] = field(default_factory=list)
    error: dict[str, Any] | None = None

    def view(self, keep_seconds: float) -> dict[str, Any]:
        """Return what the status endpoint shows."""
        done = self.status == "done"
        return {"id": self.id, "status": self.status, "runs_done": self.runs_done, "runs_total": len(self.run_ids),
                "runs_matching": self.selection["total"],
                "truncated": self.selection["offset"] + len(self.run_ids) < self.selection["total"],
                "bytes": self.bytes, "media": self.media, "missing": self.missing, "error": self.error,
                "created_at": _iso(self.created_at), "finished_at": _iso(self.finished_at),
                "expires_at": _iso(self.finished_at + keep_seconds) if self.finished_at is not None else None,
                "status_url": f"/api/exports/{self.id}",
                "download_url": f"/api/exports/{self.id}/download" if done else None}


class ExportJobs:
    """The export jobs of one app: a bounded pool of worker threads and the finished files."""

    def __init__(self, recorder: "LivePipelineRecorder", folder: Path, *, keep_seconds: float, max_active: int,
                 clock: Callable[[], float] = time.time, pool: Executor | None = None):
        self.recorder = recorder
        self.folder = Path(folder)
        self.keep_seconds = keep_seconds
        self.max_active = max_active
        self.clock = clock
        self.folder.mkdir(parents=True, exist_ok=True)
        self._jobs: dict[str, ExportJob] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._pool = pool or ThreadPoolExecutor(max_workers=max(max_active, 1), thread_name_prefix="export-job")
        self.sweep()

    def path(self, job_id: str) -> Path:
        """Return where a finished job's ZIP lives (job ids are ours, never the caller's text)."""
        return self.folder / f"{job_id}.zip"

    def start(self, owner: str, run_ids: list[str], selection: dict[str, Any], *, media: bool) -> dict[str, Any]:
        """Queue a job for `owner` and return its status; TooManyExports when every slot is busy."""
        self.sweep()
        with self._lock:
            if sum(job.status in ACTIVE for job in self._jobs.values()) >= self.max_active:
                raise TooManyExports(self.max_active)
            job = ExportJob(str(uuid.uuid4()), owner, list(run_ids), dict(selection), media, self.clock())
            self._jobs[job.id] = job
            view = job.view(self.keep_seconds)
        self._pool.submit(self._run, job)
        return view

    def status(self, job_id: str, owner: str) -> dict[str, Any]:
        """Return a job's status (404 for an unknown or expired job, and for someone else's)."""
        self.sweep()
        with self._lock:
            return self._owned(job_id, owner).view(self.keep_seconds)

    def file(self, job_id: str, owner: str) -> Path:
        """Return the finished ZIP of a job; 409 while it is still being built or when it failed."""
        self.sweep()
        with self._lock:
            job = self._owned(job_id, owner)
            if job.status != "done":
                raise Conflict("This export is not ready: download it when its status is done.",
                               code="export_not_ready", details={"status": job.status})
            return self.path(job.id)

    def sweep(self, now: float | None = None) -> list[str]:
        """Delete finished jobs older than `keep_seconds` and their files, and files no live job owns."""
        moment = self.clock() if now is None else now
        cutoff = moment - self.keep_seconds
        with self._lock:
            expired = [j.id for j in self._jobs.values() if j.finished_at is not None and j.finished_at <= cutoff]
            for job_id in expired:
                del self._jobs[job_id]
            live = set(self._jobs)
        try:
            paths = list(self.folder.iterdir())
        except OSError:  # the folder is gone: nothing to delete, and a job there fails on its own
            paths = []
        for path in paths:
            job_id = path.name.split(".", 1)[0]
            try:
                if job_id in expired or (job_id not in live and path.stat().st_mtime <= cutoff):
                    path.unlink()
            except OSError:  # gone meanwhile, or not ours to delete: the next sweep tries again
                continue
        return expired

    def run_sweeps(self) -> threading.Thread:
        """Sweep in a daemon thread until `close`: every half keep time (1 s to 5 min), so a file outlives
        its keep time by at most that much."""
        every = min(max(self.keep_seconds / 2, 1.0), 300.0)

        def loop() -> None:
            while not self._stop.wait(every):
                try:
                    self.sweep()
                except OSError:
                    log.exception("export job sweep failed")

        thread = threading.Thread(target=loop, name="export-job-sweep", daemon=True)
        thread.start()
        return thread

    def close(self) -> None:
        """Stop the sweep and the running jobs (between two runs) and wait for the workers."""
        self._stop.set()
        self._pool.shutdown(wait=True, cancel_futures=True)

    # -- the worker -------------------------------------------------------------------------------
    def _owned(self, job_id: str, owner: str) -> ExportJob:
        job = self._jobs.get(job_id)
        if job is None or job.owner != owner:
            raise NotFound(f"No export job {job_id[:40]!r} (finished exports are kept for "
                           f"{int(self.keep_seconds)} seconds).", code="export_job_not_found")
        return job

    def _rows(self, job: ExportJob) -> Iterator[tuple[str, dict[str, Any] | None]]:
        for run_id in job.run_ids:
            yield run_id, self.recorder.index.get(run_id)

    def _progress(self, job: ExportJob, done: int, size: int) -> None:
        if self._stop.is_set():
            raise _Stopped
        with self._lock:
            job.runs_done, job.bytes = done, size

    def _finish(self, job: ExportJob, status: str, **fields: Any) -> None:
        with self._lock:
            job.status, job.finished_at = status, self.clock()
            for name, value in fields.items():
                setattr(job, name, value)

    def _run(self, job: ExportJob) -> None:
        part = self.folder / f"{job.id}.zip.part"
        with self._lock:
            job.status = "running"
        try:
            with open(part, "wb") as target:
                missing = write_bulk_zip(target, self.recorder, self._rows(job), job.selection, media=job.media,
                                         progress=lambda done, size: self._progress(job, done, size))
                target.flush()
                os.fsync(target.fileno())
                size = target.tell()
            os.replace(part, self.path(job.id))  # complete or absent: never a torn ZIP
        except _Stopped:
            part.unlink(missing_ok=True)
            self._finish(job, "failed", error={"code": "server_stopped",
                                               "message": "The server stopped while this export was built."})
        except Exception:  # a full disk, a broken run folder: the job fails, the server goes on
            log.exception("export job %s failed", job.id)
            part.unlink(missing_ok=True)
            self._finish(job, "failed", error={"code": "export_failed",
                                               "message": "The export could not be written (see the server log)."})
        else:
            self._finish(job, "done", missing=missing, bytes=size)

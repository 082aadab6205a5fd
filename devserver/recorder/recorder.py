"""The LivePipelineRecorder: crash-safe run folders under `exports/pipeline_runs/<run_id>/`.

The orchestrator opens a `RunRecord` per run (and again for each later phase of the same run), emits
items and metadata updates to it, and never looks at the filesystem. Readers (the status, media and
research endpoints) go through this class, which prefers a run's live in-memory record and falls back
to its folder. Layout and taxonomy: docs/RESEARCH_EXPORT.md.
"""
from __future__ import annotations

import logging
import os
import shutil
import sqlite3
import threading
import time
import weakref
from pathlib import Path
from typing import Any

from devserver.errors import AppError, ConfigError, Conflict, NotFound, ValidationFailed
from devserver.recorder import storage
from devserver.recorder.index import RunIndex
from devserver.recorder.items import ACTIVE_STATUSES, TERMINAL_STATUSES, now_iso, read_items
from devserver.recorder.record import ENTITY_RE, EVENTS, METADATA, RECORDER_ERRORS, RunRecord
from devserver.recorder.run_id import require_run_id, valid_run_id

log = logging.getLogger(__name__)

__all__ = ["LivePipelineRecorder", "RunRecord"]


def _defaults(run_id: str) -> dict[str, Any]:
    now = now_iso()
    return {"run_id": run_id, "status": "queued", "created_at": now, "updated_at": now, "phase": None,
            "schema": None, "safety_level": None, "session": None, "lang": None, "input_text": None,
            "models": [], "outputs": []}


class LivePipelineRecorder:
    """Owns `exports/pipeline_runs/` and `exports/index.sqlite`; hands out one RunRecord per live run."""

    def __init__(self, exports_dir: Path, *, fsync: bool = True, fsync_events: bool = False):
        self.exports_dir = Path(exports_dir)
        self.runs_dir = self.exports_dir / "pipeline_runs"
        self.fsync = fsync
        self.fsync_events = fsync_events
        try:
            self.runs_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ConfigError(f"Cannot create the run folder {self.runs_dir} ({exc.strerror}). "
                              "Set EXPORTS_DIR in .env to a writable folder.") from exc
        self.index = self._open_index(self.exports_dir / "index.sqlite")
        # Records the orchestrator still holds; a re-opened run continues in the same object.
        self._live: weakref.WeakValueDictionary[str, RunRecord] = weakref.WeakValueDictionary()
        self._lock = threading.Lock()

    def open_run(self, run_id: str, metadata: dict[str, Any]) -> RunRecord:
        """Start recording a new run, or continue an existing one (next phase); merge `metadata` in."""
        require_run_id(run_id)
        with self._lock:
            record = self._live.get(run_id) or self._load(run_id)
            self._live[run_id] = record
        record.update(**metadata)
        return record

    def exists(self, run_id: str) -> bool:
        """Return whether a run with this id has been recorded (invalid ids never exist)."""
        return valid_run_id(run_id) and (run_id in self._live or (self.runs_dir / run_id / METADATA).is_file())

    def metadata(self, run_id: str) -> dict[str, Any]:
        """Return a run's metadata snapshot; NotFound(code="run_not_found") if there is none."""
        require_run_id(run_id)
        record = self._live.get(run_id)
        if record is not None:
            return record.snapshot()
        try:
            data = storage.read_json(self.runs_dir / run_id / METADATA)
        except (FileNotFoundError, NotADirectoryError):
            raise self._not_found(run_id) from None
        except (OSError, ValueError) as exc:
            log.exception("run %s: metadata.json unreadable", run_id)
            raise AppError("The run record could not be read. The error was logged.",
                           code="run_record_unreadable", details={"run_id": run_id}) from exc
        return data

    def events(self, run_id: str, after: int = 0) -> list[dict[str, Any]]:
        """Return a run's items with a sequence number above `after`, in order."""
        require_run_id(run_id)
        record = self._live.get(run_id)
        if record is not None:
            return record.items(after)
        if not self.exists(run_id):
            raise self._not_found(run_id)
        return [i for i in read_items(self.runs_dir / run_id / EVENTS) if i.get("sequence", 0) > after]

    def entities(self, run_id: str) -> list[str]:
        """Return the names of a run's numbered entity files, in the order they were written."""
        require_run_id(run_id)
        if not self.exists(run_id):
            raise self._not_found(run_id)
        try:
            names = [e.name for e in os.scandir(self.runs_dir / run_id) if ENTITY_RE.fullmatch(e.name)]
        except OSError:
            return []
        return sorted(names, key=lambda n: (int(ENTITY_RE.fullmatch(n).group(1)), n))  # type: ignore[union-attr]

    def entity_path(self, run_id: str, filename: str) -> Path:
        """Return the path of one entity file of a run (names are checked, never joined blindly)."""
        require_run_id(run_id)
        if not isinstance(filename, str) or not ENTITY_RE.fullmatch(filename):
            raise ValidationFailed("An entity file name looks like 03_translation.txt.",
                                   code="invalid_entity_name", details={"file": str(filename)[:80]})
        path = self.runs_dir / run_id / filename
        if not path.is_file():
            raise NotFound(f"Run {run_id} has no file {filename}.", code="entity_not_found",
                           details={"run_id": run_id, "file": filename})
        return path

    def mark_interrupted(self) -> int:
        """Mark runs left queued/running by a previous server process as `interrupted`; return how many."""
        try:
            folders = {e.name for e in os.scandir(self.runs_dir) if valid_run_id(e.name) and e.is_dir()}
        except OSError:
            log.exception("cannot list %s", self.runs_dir)
            return 0
        # The index finds them fast; folders it has never seen (a crash before the first index write) too.
        candidates = (self.index.run_ids(ACTIVE_STATUSES) | (folders - self.index.run_ids())) & folders
        count = 0
        for run_id in sorted(candidates):
            if run_id in self._live:
                continue
            try:
                previous = storage.read_json(self.runs_dir / run_id / METADATA).get("status")
            except (OSError, ValueError, AttributeError):
                log.warning("run %s: no readable metadata.json; left as it is", run_id)
                continue
            record = self._load(run_id)
            if previous in TERMINAL_STATUSES:
                try:
                    self.index.upsert(record.snapshot())  # heal an index row that lagged behind
                except sqlite3.Error:
                    log.exception("run %s: could not update its index row", run_id)
                continue
            record.event("pipeline_interrupted", metadata={"previous_status": previous})
            outputs = [{**o, "status": "interrupted"} if isinstance(o, dict) and o.get("status") not in
                       TERMINAL_STATUSES | {"blocked"} else o for o in record.snapshot().get("outputs") or []]
            record.update(status="interrupted", interrupted_at=now_iso(), outputs=outputs)
            count += 1
        return count

    def delete_run(self, run_id: str) -> dict[str, Any]:
        """Delete a finished run's folder and index row; return its last metadata. A live run is a 409."""
        metadata = self.metadata(run_id)
        if metadata.get("status") not in TERMINAL_STATUSES:
            raise Conflict("The run is still going; cancel it before deleting it.", code="run_busy",
                           details={"run_id": run_id, "status": metadata.get("status")})
        with self._lock:
            self._live.pop(run_id, None)
            try:
                shutil.rmtree(self.runs_dir / run_id)
            except FileNotFoundError:
                pass
            self.index.delete(run_id)
        return metadata

    def close(self) -> None:
        """Close the index database."""
        self.index.close()

    def _load(self, run_id: str) -> RunRecord:
        """Build the writer of a run from its folder (creating the folder for a new run)."""
        folder = self.runs_dir / run_id
        metadata = _defaults(run_id)
        items: list[dict[str, Any]] = []
        next_entity = 1
        try:
            new = not folder.exists()
            folder.mkdir(exist_ok=True)
            if new and self.fsync:
                storage.fsync_dir(self.runs_dir)
            storage.remove_temp_files(folder)
            if storage.repair_torn_tail(folder / EVENTS):
                log.warning("run %s: cut a torn last line from events.jsonl", run_id)
            items = read_items(folder / EVENTS)
            numbers = [int(m.group(1)) for e in os.scandir(folder) if (m := ENTITY_RE.fullmatch(e.name))]
            next_entity = max(numbers, default=0) + 1
            stored = storage.read_json(folder / METADATA) if (folder / METADATA).is_file() else {}
            metadata.update(stored if isinstance(stored, dict) else {})
            metadata["run_id"] = run_id
        except RECORDER_ERRORS:
            log.exception("run %s: could not read its folder; recording goes on in memory", run_id)
        return RunRecord(run_id, folder, metadata, items, next_entity, index=self.index, fsync=self.fsync,
                         fsync_events=self.fsync_events)

    def _open_index(self, path: Path) -> RunIndex:
        """Open the index; a new, outdated or corrupt one is rebuilt from the run folders."""
        try:
            index = RunIndex(path)
        except sqlite3.OperationalError as exc:  # cannot open or write at all: a setup problem
            raise ConfigError(f"Cannot open the run index {path} ({exc}). "
                              "Set EXPORTS_DIR in .env to a writable folder.") from exc
        except sqlite3.DatabaseError:  # the file is not a database any more
            aside = path.with_name(f"{path.name}.corrupt-{int(time.time())}")
            log.exception("index %s is corrupt; moved to %s and rebuilt from the run folders", path, aside)
            path.rename(aside)
            for suffix in ("-wal", "-shm"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)
            index = RunIndex(path)
        if index.needs_rebuild:
            counts = index.rebuild(self.runs_dir)
            if counts["indexed"] or counts["skipped"]:
                log.info("built the run index from the folders: %s", counts)
        return index

    @staticmethod
    def _not_found(run_id: str) -> NotFound:
        return NotFound(f"No run with id {run_id} was recorded on this server.", code="run_not_found",
                        details={"run_id": run_id})

"""One run's writer: the item log, the numbered entity files and the metadata snapshot.

Every public method is safe to call from several threads and never raises because of the disk:
an OSError or an encoding problem is logged and swallowed, and the method still returns what it
built in memory, so a full disk or a deleted folder never breaks the run itself (DESIGN §6).
"""
from __future__ import annotations

import copy
import logging
import re
import sqlite3
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping

from devserver.backends.base import scrub
from devserver.recorder import storage
from devserver.recorder.items import STATUSES, build_item, encode_item, now_iso
from devserver.recorder.summary import summarize

if TYPE_CHECKING:
    from devserver.recorder.index import RunIndex

log = logging.getLogger(__name__)

METADATA = "metadata.json"
EVENTS = "events.jsonl"
ENTITY_RE = re.compile(r"^(\d{2,})_[a-z0-9][a-z0-9_]{0,39}\.[a-z0-9]{1,8}$")
_KIND_RE = re.compile(r"^[a-z0-9][a-z0-9_]{0,39}$")
_EXT_RE = re.compile(r"^[a-z0-9]{1,8}$")
# Failures a recorder swallows: the disk, the index, and values it cannot encode or scrub.
RECORDER_ERRORS = (OSError, sqlite3.Error, ValueError, TypeError, RecursionError)


def merge(target: dict[str, Any], fields: Mapping[str, Any]) -> None:
    """Merge `fields` into `target` in place: nested dicts merge key by key, anything else replaces."""
    for key, value in fields.items():
        if isinstance(value, Mapping) and isinstance(target.get(key), dict):
            merge(target[key], value)
        else:
            target[key] = copy.deepcopy(value)


class RunRecord:
    """The live writer of one run folder (obtained from `LivePipelineRecorder.open_run`)."""

    def __init__(self, run_id: str, folder: Path, metadata: dict[str, Any], items: list[dict[str, Any]],
                 next_entity: int, *, index: "RunIndex | None", fsync: bool, fsync_events: bool):
        self.run_id = run_id
        self.folder = folder
        self._meta = metadata
        self._items = items
        self._sequence = max((i.get("sequence", 0) for i in items), default=0)
        self._next_entity = next_entity
        self._index = index
        self._fsync = fsync
        self._fsync_events = fsync_events
        self._lock = threading.Lock()
        self._failed: set[str] = set()

    def event(self, item_type: str, *, stage: str | None = None, content: str | None = None,
              media_type: str = "text", stage_iteration: int | None = None, loop_iteration: int | None = None,
              metadata: dict[str, Any] | None = None, file: str | None = None) -> dict[str, Any]:
        """Append one item to the run's log and return it (with its sequence number and timestamp)."""
        with self._lock:
            item = build_item(self._sequence + 1, item_type, stage=stage, content=content, media_type=media_type,
                              stage_iteration=stage_iteration, loop_iteration=loop_iteration, file=file,
                              metadata=self._guard("scrub", scrub, metadata or {}) or {})
            self._sequence += 1
            self._items.append(item)
            self._guard("events", self._append, item)
        return dict(item)  # a copy: a caller adding keys for its own use must not change the record

    def save_entity(self, kind: str, data: bytes | str, ext: str = "txt") -> str:
        """Write the next numbered entity file (`03_translation.txt`) and return its name."""
        if not _KIND_RE.fullmatch(kind) or not _EXT_RE.fullmatch(ext):
            raise ValueError(f"entity kind {kind!r} / extension {ext!r} must be lower-case letters, digits, _")
        with self._lock:
            name = f"{self._next_entity:02d}_{kind}.{ext}"
            self._next_entity += 1
        payload = data.encode("utf-8") if isinstance(data, str) else data
        # Written outside the lock: a large video must not hold up the item log.
        self._guard("entity", storage.write_atomic, self.folder / name, payload, fsync=self._fsync)
        return name

    def update(self, **fields: Any) -> dict[str, Any]:
        """Merge `fields` into the metadata, replace metadata.json atomically, and return the snapshot."""
        if "status" in fields and fields["status"] not in STATUSES:
            raise ValueError(f"unknown status {fields['status']!r}; known: {', '.join(STATUSES)}")
        fields.pop("run_id", None)
        with self._lock:
            for key, value in fields.items():  # one field at a time: a bad value loses only itself
                clean = self._guard("scrub", scrub, {key: value})
                if clean is not None:
                    merge(self._meta, clean)
            self._meta["updated_at"] = now_iso()
            summary = self._guard("summary", summarize, self._items)
            if summary is not None:
                self._meta["summary"] = summary
            snapshot = copy.deepcopy(self._meta)
            self._persist(snapshot)
        return snapshot

    def snapshot(self) -> dict[str, Any]:
        """Return a copy of the current metadata."""
        with self._lock:
            return copy.deepcopy(self._meta)

    def items(self, after: int = 0) -> list[dict[str, Any]]:
        """Return the items with a sequence number above `after`."""
        with self._lock:
            return [dict(i) for i in self._items if i.get("sequence", 0) > after]

    def _persist(self, snapshot: dict[str, Any]) -> None:
        """Write the snapshot and its index row (caller holds the lock, so writes stay in order)."""
        if self._fsync:
            # The snapshot must never claim more than the item log holds after a power cut.
            self._guard("events", storage.fsync_file, self.folder / EVENTS)
        self._guard("metadata", self._write_metadata, snapshot)
        if self._index is not None:
            self._guard("index", self._index.upsert, snapshot)

    def _write_metadata(self, snapshot: dict[str, Any]) -> None:
        storage.write_atomic(self.folder / METADATA, storage.dump_json(snapshot), fsync=self._fsync)

    def _append(self, item: dict[str, Any]) -> None:
        storage.append_line(self.folder / EVENTS, encode_item(item), fsync=self._fsync_events)

    def _guard(self, what: str, func: Any, *args: Any, **kwargs: Any) -> Any:
        """Call `func`; on a recorder error log it (with traceback the first time) and return None."""
        try:
            result = func(*args, **kwargs)
        except RECORDER_ERRORS:
            if what in self._failed:
                log.warning("run %s: recording %s failed again", self.run_id, what)
            else:
                self._failed.add(what)
                log.exception("run %s: recording %s failed; the run goes on", self.run_id, what)
            return None
        self._failed.discard(what)
        return result

"""The run index (`exports/index.sqlite`): one row per run, for listing, filtering and stats.

The run folders are the source of truth; the index is a cache kept current by every metadata write
and rebuildable from the folders (`python -m devserver.recorder reindex`). WAL mode lets readers run
while a run writes; one connection behind a lock keeps it simple (statements take microseconds to a
few milliseconds, see tests/bench/bench_recorder.py).
"""
from __future__ import annotations

import json
import logging
import sqlite3
import threading
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Iterable, Iterator, Mapping

from devserver.recorder.items import TERMINAL_STATUSES, read_items
from devserver.recorder.run_id import valid_run_id
from devserver.recorder.summary import summarize
from devserver.recorder.storage import read_json

log = logging.getLogger(__name__)

PREVIEW_CHARS = 200
COLUMNS = ("run_id", "created_at", "updated_at", "status", "phase", "schema", "safety_level", "session",
           "lang", "media_types", "output_configs", "input_preview", "models", "student", "block_category",
           "released", "queue_wait_ms")
_LIST_COLUMNS = ("media_types", "output_configs", "models")  # stored as JSON arrays
_EQUALITY_FILTERS = ("status", "schema", "safety_level", "session", "student")
FILTERS = (*_EQUALITY_FILTERS, "media_type", "since", "until", "q", "safety_category", "moderation")
MODERATION = {"released": "runs.released = 1", "unreleased": "runs.status = 'blocked' AND runs.released = 0"}
ORDERS = {"-created_at": "created_at DESC, run_id DESC", "created_at": "created_at ASC, run_id ASC",
          "-updated_at": "updated_at DESC, run_id DESC", "updated_at": "updated_at ASC, run_id ASC"}

_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    run_id TEXT PRIMARY KEY, created_at TEXT NOT NULL, updated_at TEXT NOT NULL, status TEXT NOT NULL,
    phase TEXT, schema TEXT, safety_level TEXT, session TEXT, lang TEXT, media_types TEXT NOT NULL,
    output_configs TEXT NOT NULL, input_preview TEXT NOT NULL, models TEXT NOT NULL,
    block_category TEXT, released INTEGER NOT NULL DEFAULT 0, queue_wait_ms REAL NOT NULL DEFAULT 0,
    search_text TEXT NOT NULL,  -- casefolded preview: SQLite's LIKE folds ASCII only (Ä, ß ...)
    student TEXT  -- the pseudonym of the student who started the run
);
-- from the run's summary (devserver/recorder/summary.py): time per stage, and every safety category hit
CREATE TABLE IF NOT EXISTS run_stage (
    run_id TEXT NOT NULL REFERENCES runs(run_id) ON DELETE CASCADE, stage TEXT NOT NULL, ms REAL NOT NULL,
    PRIMARY KEY (stage, run_id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS run_category (
    run_id TEXT NOT NULL REFERENCES runs(run_id) ON DELETE CASCADE, category TEXT NOT NULL,
    PRIMARY KEY (category, run_id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS run_media (
    run_id TEXT NOT NULL REFERENCES runs(run_id) ON DELETE CASCADE, media_type TEXT NOT NULL,
    PRIMARY KEY (media_type, run_id)
) WITHOUT ROWID;
-- run_id ends every index so that "ORDER BY created_at DESC, run_id DESC" needs no sort step.
CREATE INDEX IF NOT EXISTS runs_created ON runs(created_at, run_id);
CREATE INDEX IF NOT EXISTS runs_updated ON runs(updated_at, run_id);
CREATE INDEX IF NOT EXISTS runs_status ON runs(status, created_at, run_id);
CREATE INDEX IF NOT EXISTS runs_schema ON runs(schema, created_at, run_id);
CREATE INDEX IF NOT EXISTS runs_safety ON runs(safety_level, created_at, run_id);
CREATE INDEX IF NOT EXISTS runs_session ON runs(session, created_at, run_id);
CREATE INDEX IF NOT EXISTS run_media_run ON run_media(run_id);
CREATE INDEX IF NOT EXISTS runs_student ON runs(student, created_at, run_id);
CREATE INDEX IF NOT EXISTS run_stage_run ON run_stage(run_id);
CREATE INDEX IF NOT EXISTS run_category_run ON run_category(run_id);
-- The number of runs, kept by triggers: an unfiltered page must not count 100k rows every time.
CREATE TABLE IF NOT EXISTS run_count (id INTEGER PRIMARY KEY CHECK (id = 0), n INTEGER NOT NULL);
INSERT OR IGNORE INTO run_count SELECT 0, COUNT(*) FROM runs;
CREATE TRIGGER IF NOT EXISTS runs_counted_in AFTER INSERT ON runs BEGIN UPDATE run_count SET n = n + 1; END;
CREATE TRIGGER IF NOT EXISTS runs_counted_out AFTER DELETE ON runs BEGIN UPDATE run_count SET n = n - 1; END;
"""
_CHILD_TABLES = ("run_media", "run_stage", "run_category")
SCHEMA_VERSION = 3  # bump when _SCHEMA changes: an older index is dropped and rebuilt from the folders


def parse_bound(value: str | date, *, end: bool) -> str:
    """Turn a since/until value (YYYY-MM-DD or ISO date-time) into a comparable UTC timestamp prefix."""
    if isinstance(value, str):
        value = date.fromisoformat(value) if len(value) == 10 else datetime.fromisoformat(value)
    if isinstance(value, datetime):
        aware = value if value.tzinfo else value.replace(tzinfo=timezone.utc)
        return aware.astimezone(timezone.utc).isoformat(timespec="microseconds")
    # A bare date covers the whole day: until=2024-05-01 means "before 2024-05-02".
    return (value + timedelta(days=1) if end else value).isoformat()


def _strings(values: Iterable[Any]) -> list[str]:
    return sorted({v for v in values if isinstance(v, str) and v})


def _timestamp(value: Any) -> str:
    """Normalise a stored timestamp to the recorder's fixed-width UTC form (unparsable → as is)."""
    if not isinstance(value, str) or not value:
        return ""
    try:
        return parse_bound(value, end=False) if len(value) != 10 else value
    except ValueError:
        return value


def _text(value: Any) -> str | None:
    return value if value is None or isinstance(value, str) else json.dumps(value, default=str)


def _number(value: Any) -> float:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else 0.0


def _as_list(value: Any) -> list[Any]:
    if isinstance(value, Mapping):
        return list(value.values())
    return list(value) if isinstance(value, (list, tuple)) else [value]


def index_row(metadata: Mapping[str, Any]) -> dict[str, Any]:
    """Derive the index row of a run from its metadata snapshot (tolerating odd field types)."""
    outputs = [o for o in _as_list(metadata.get("outputs") or []) if isinstance(o, Mapping)]
    text = metadata.get("input_text") if isinstance(metadata.get("input_text"), str) else ""
    created = _timestamp(metadata.get("created_at"))
    summary = metadata.get("summary") if isinstance(metadata.get("summary"), Mapping) else {}
    return {
        "run_id": metadata["run_id"], "created_at": created,
        "updated_at": _timestamp(metadata.get("updated_at")) or created,
        "status": _text(metadata.get("status")) or "queued",
        **{name: _text(metadata.get(name)) for name in ("phase", "schema", "safety_level", "session", "lang",
                                                         "student")},
        "media_types": _strings(o.get("media_type") for o in outputs),
        "output_configs": _strings([*(o.get("output_config") for o in outputs),
                                    *_as_list(metadata.get("output_configs") or [])]),
        "input_preview": " ".join(text.split())[:PREVIEW_CHARS],
        "models": _strings(_as_list(metadata.get("models") or [])),
        "block_category": _text(summary.get("block_category")), "released": 1 if summary.get("released") else 0,
        "queue_wait_ms": _number(summary.get("queue_wait_ms")),
        "stage_ms": {str(k): _number(v) for k, v in (summary.get("stage_ms") or {}).items()
                     if isinstance(summary.get("stage_ms"), Mapping)},
        "safety_categories": _strings(_as_list(summary.get("safety_categories") or [])),
    }


class RunIndex:
    """SQLite index of all runs; safe to share between threads."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._db.row_factory = sqlite3.Row
        with self._lock:
            self._db.execute("PRAGMA journal_mode=WAL")
            # NORMAL is durable enough in WAL mode for a cache that can be rebuilt from the folders.
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute("PRAGMA foreign_keys=ON")
            version = self._db.execute("PRAGMA user_version").fetchone()[0]
            # True when the rows cannot be trusted to be complete: the owner rebuilds from the folders.
            self.needs_rebuild = version != SCHEMA_VERSION
            if self.needs_rebuild:  # a fresh file, or tables of another layout: start from empty tables
                self._db.executescript("".join(f"DROP TABLE IF EXISTS {t}; "
                                               for t in (*_CHILD_TABLES, "runs", "run_count")))
            self._db.executescript(_SCHEMA)
            self._db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")

    def close(self) -> None:
        """Close the database connection."""
        with self._lock:
            self._db.close()

    def upsert(self, metadata: Mapping[str, Any]) -> None:
        """Insert or replace the row of one run from its metadata snapshot."""
        self.upsert_many([metadata])

    def upsert_many(self, snapshots: Iterable[Mapping[str, Any]], *, replace_all: bool = False) -> int:
        """Insert or replace many rows in one transaction (optionally emptying the index first)."""
        placeholders = ", ".join("?" for _ in COLUMNS)
        updates = ", ".join(f"{c}=excluded.{c}" for c in COLUMNS[1:])
        sql = (f"INSERT INTO runs ({', '.join(COLUMNS)}, search_text) VALUES ({placeholders}, ?) "
               f"ON CONFLICT(run_id) DO UPDATE SET {updates}, search_text=excluded.search_text")
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                if replace_all:
                    for table in (*_CHILD_TABLES, "runs"):
                        self._db.execute(f"DELETE FROM {table}")
                count = 0
                for count, row in enumerate(map(index_row, snapshots), start=1):  # lazily: 100k runs in a rebuild
                    values = [json.dumps(row[c]) if c in _LIST_COLUMNS else row[c] for c in COLUMNS]
                    self._db.execute(sql, [*values, row["input_preview"].casefold()])
                    for table in _CHILD_TABLES:
                        self._db.execute(f"DELETE FROM {table} WHERE run_id = ?", (row["run_id"],))
                    self._db.executemany("INSERT INTO run_media (run_id, media_type) VALUES (?, ?)",
                                         [(row["run_id"], m) for m in row["media_types"]])
                    self._db.executemany("INSERT INTO run_stage (run_id, stage, ms) VALUES (?, ?, ?)",
                                         [(row["run_id"], k, v) for k, v in row["stage_ms"].items()])
                    self._db.executemany("INSERT INTO run_category (run_id, category) VALUES (?, ?)",
                                         [(row["run_id"], c) for c in row["safety_categories"]])
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        return count

    def get(self, run_id: str) -> dict[str, Any] | None:
        """Return one run's row, or None."""
        with self._lock:
            row = self._db.execute(f"SELECT {', '.join(COLUMNS)} FROM runs WHERE run_id = ?", (run_id,)).fetchone()
        return self._decode(row) if row else None

    def list(self, filters: Mapping[str, Any] | None = None, limit: int = 50, offset: int = 0,
             order: str = "-created_at") -> dict[str, Any]:
        """Return one page of runs matching `filters` with the total count: {runs, total, limit, offset}."""
        if order not in ORDERS:
            raise ValueError(f"order must be one of {', '.join(ORDERS)}")
        where, params = self._where(filters or {})
        page_where, _ = self._where(filters or {}, paging=True)
        count = f"SELECT COUNT(*) FROM runs {where}" if where else "SELECT n FROM run_count"
        with self._lock:
            total = self._db.execute(count, params).fetchone()[0]
            rows = self._db.execute(f"SELECT {', '.join(COLUMNS)} FROM runs {page_where} ORDER BY {ORDERS[order]} "
                                    "LIMIT ? OFFSET ?", [*params, limit, offset]).fetchall()
        return {"runs": [self._decode(r) for r in rows], "total": total, "limit": limit, "offset": offset}

    def stats(self, filters: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Count the matching runs by status, schema, level, media type, day and block category; spread
        stage durations and queue waits (n, mean, p95 in ms)."""
        where, params = self._where(filters or {})
        joined = "JOIN runs USING (run_id) " + where

        def grouped(expr: str, source: str = "runs", clause: str = where) -> dict[str, int]:
            sql = f"SELECT {expr} AS k, COUNT(*) FROM {source} {clause} GROUP BY k ORDER BY k"
            return {("(none)" if k is None else str(k)): n for k, n in self._db.execute(sql, params).fetchall()}

        with self._lock:
            total = self._db.execute(f"SELECT COUNT(*) FROM runs {where}", params).fetchone()[0]
            blocked = grouped("block_category", "runs",
                              f"{where} {'AND' if where else 'WHERE'} runs.block_category IS NOT NULL")
            stages = {stage: self._spread(f"SELECT ms FROM run_stage {joined} {'AND' if where else 'WHERE'} stage = ?",
                                          [*params, stage])
                      for stage in grouped("stage", "run_stage " + joined, "")}
            waits = self._spread(f"SELECT queue_wait_ms FROM runs {where} {'AND' if where else 'WHERE'} "
                                 "queue_wait_ms > 0", params)
            return {"total": total, "by_status": grouped("status"), "by_schema": grouped("schema"),
                    "by_safety_level": grouped("safety_level"),
                    "by_media_type": grouped("run_media.media_type", "run_media " + joined if where else "run_media", ""),
                    "by_day": grouped("substr(created_at, 1, 10)"),
                    "by_block_category": blocked,
                    "block_rate_by_category": {k: round(n / total, 4) for k, n in blocked.items()} if total else {},
                    "stage_ms": stages, "queue_wait_ms": waits}

    def _spread(self, sql: str, params: list[Any]) -> dict[str, float | int | None]:
        """Return {n, mean, p95} of the values the query selects (caller holds the lock)."""
        values = sorted(v for (v,) in self._db.execute(sql, params).fetchall())
        if not values:
            return {"n": 0, "mean": None, "p95": None}
        return {"n": len(values), "mean": round(sum(values) / len(values), 1),
                "p95": round(values[min(len(values) - 1, int(0.95 * len(values)))], 1)}

    def delete(self, run_id: str) -> None:
        """Remove one run's row (its media, stage and category rows go with it)."""
        with self._lock:
            self._db.execute("DELETE FROM runs WHERE run_id = ?", (run_id,))

    def sessions(self) -> list[str | None]:
        """Return every session id that has runs (None for runs without a session)."""
        with self._lock:
            return [r[0] for r in self._db.execute("SELECT DISTINCT session FROM runs").fetchall()]

    def finished_before(self, session: str | None, before: str) -> list[str]:
        """Return the ids of a session's finished runs created before `before` (ISO UTC), oldest first."""
        marks = ", ".join("?" for _ in TERMINAL_STATUSES)
        with self._lock:
            rows = self._db.execute(f"SELECT run_id FROM runs WHERE session IS ? AND created_at < ? AND status IN "
                                    f"({marks}) ORDER BY created_at", (session, before, *sorted(TERMINAL_STATUSES)))
            return [r[0] for r in rows.fetchall()]

    def run_ids(self, statuses: Iterable[str] | None = None) -> set[str]:
        """Return the ids of all runs, or of those in the given statuses."""
        with self._lock:
            if statuses is None:
                rows = self._db.execute("SELECT run_id FROM runs").fetchall()
            else:
                wanted = list(statuses)
                marks = ", ".join("?" for _ in wanted)
                rows = self._db.execute(f"SELECT run_id FROM runs WHERE status IN ({marks})", wanted).fetchall()
        return {r[0] for r in rows}

    def rebuild(self, runs_dir: Path) -> dict[str, int]:
        """Replace the whole index with rows read from the run folders; return {indexed, skipped}."""
        skipped = 0

        def snapshots() -> Iterator[dict[str, Any]]:
            nonlocal skipped
            folders = sorted(Path(runs_dir).iterdir()) if Path(runs_dir).is_dir() else []
            for folder in folders:
                if not (folder.is_dir() and valid_run_id(folder.name)):
                    continue
                try:
                    metadata = read_json(folder / "metadata.json")
                    if not isinstance(metadata, dict) or metadata.get("run_id") != folder.name:
                        raise ValueError("metadata.json does not describe this folder's run")
                except (OSError, ValueError) as exc:
                    log.warning("reindex: skipped %s: %s", folder.name, exc)
                    skipped += 1
                    continue
                if "summary" not in metadata:  # recorded before summaries existed: derive it from the log
                    metadata["summary"] = summarize(read_items(folder / "events.jsonl"))
                yield metadata

        indexed = self.upsert_many(snapshots(), replace_all=True)
        return {"indexed": indexed, "skipped": skipped}

    def _where(self, filters: Mapping[str, Any], *, paging: bool = False) -> tuple[str, list[Any]]:
        """Build the WHERE clause; `paging` picks the media test that is fastest under ORDER BY ... LIMIT."""
        unknown = sorted(set(filters) - set(FILTERS))
        if unknown:
            raise ValueError(f"unknown filters {', '.join(unknown)}; known: {', '.join(FILTERS)}")
        clauses: list[str] = []
        params: list[Any] = []
        for name in _EQUALITY_FILTERS:
            if filters.get(name) is not None:
                clauses.append(f"runs.{name} = ?")
                params.append(filters[name])
        if filters.get("media_type") is not None:
            # Counting: collect the media type's runs once. Paging: walk the runs in order and probe,
            # which stops after one page instead of sorting every match (bench_recorder.py).
            clauses.append("EXISTS (SELECT 1 FROM run_media m WHERE m.media_type = ? AND m.run_id = runs.run_id)"
                           if paging else "runs.run_id IN (SELECT run_id FROM run_media WHERE media_type = ?)")
            params.append(filters["media_type"])
        if filters.get("since") is not None:
            clauses.append("runs.created_at >= ?")
            params.append(parse_bound(filters["since"], end=False))
        if filters.get("until") is not None:
            bound = parse_bound(filters["until"], end=True)
            clauses.append("runs.created_at < ?" if len(bound) == 10 else "runs.created_at <= ?")
            params.append(bound)
        if filters.get("safety_category") is not None:
            clauses.append("runs.run_id IN (SELECT run_id FROM run_category WHERE category = ?)")
            params.append(filters["safety_category"])
        if filters.get("moderation") is not None:
            clauses.append(MODERATION[filters["moderation"]])
        if filters.get("q"):
            escaped = str(filters["q"]).casefold().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            clauses.append("runs.search_text LIKE ? ESCAPE '\\'")
            params.append(f"%{escaped}%")
        return ("WHERE " + " AND ".join(clauses)) if clauses else "", params

    @staticmethod
    def _decode(row: sqlite3.Row) -> dict[str, Any]:
        return {c: json.loads(row[c]) if c in _LIST_COLUMNS else row[c] for c in COLUMNS}

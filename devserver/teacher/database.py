"""The teacher data file (`exports/teacher.sqlite`): one connection per app, serialised by a lock.

Teacher-made configs, their versions, students' own attitudes and the moderation audit log live
here — never inside `schemas/`, which stays read-only for the server.
"""
from __future__ import annotations

import sqlite3
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

SCHEMA = """
CREATE TABLE IF NOT EXISTS config_versions (
    config_id TEXT NOT NULL, version INTEGER NOT NULL, body TEXT, action TEXT NOT NULL,
    author TEXT NOT NULL, created_at TEXT NOT NULL, diff TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (config_id, version));
CREATE TABLE IF NOT EXISTS own_attitudes (
    id TEXT PRIMARY KEY, session_id TEXT NOT NULL, student_id TEXT NOT NULL, name TEXT NOT NULL,
    context TEXT NOT NULL, lang TEXT NOT NULL, published INTEGER NOT NULL DEFAULT 0,
    published_by TEXT, created_at TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS own_attitudes_session ON own_attitudes (session_id);
CREATE TABLE IF NOT EXISTS moderation_audit (
    id INTEGER PRIMARY KEY AUTOINCREMENT, session_id TEXT, run_id TEXT NOT NULL, action TEXT NOT NULL,
    actor TEXT NOT NULL, reason TEXT NOT NULL, created_at TEXT NOT NULL, details TEXT NOT NULL DEFAULT '{}');
CREATE INDEX IF NOT EXISTS moderation_audit_session ON moderation_audit (session_id);
"""


class TeacherDatabase:
    """A small SQLite file shared by the teacher stores of one app."""

    def __init__(self, path: Path):
        path.parent.mkdir(parents=True, exist_ok=True)
        self._conn = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._conn.row_factory = sqlite3.Row
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.executescript(SCHEMA)
        self._lock = threading.Lock()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """Yield the connection inside one write transaction (committed on success)."""
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    def query(self, sql: str, params: tuple = ()) -> list[sqlite3.Row]:
        """Run a read query and return every row."""
        with self._lock:
            return self._conn.execute(sql, params).fetchall()

    def close(self) -> None:
        with self._lock:
            self._conn.close()

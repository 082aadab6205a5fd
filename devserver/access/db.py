"""The access database (`<DATA_DIR>/access.sqlite`): accounts, logins, tokens, workshop sessions, students.

One connection behind a lock (statements take microseconds; logins and joins are rare compared to
runs). WAL mode so a reader never waits for a writer. Secrets are stored only as hashes: passwords
with Argon2, login ids and researcher tokens (random, 256 bit) with SHA-256.
"""
from __future__ import annotations

import sqlite3
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

_SCHEMA = """
CREATE TABLE IF NOT EXISTS users (
    id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE COLLATE NOCASE, role TEXT NOT NULL,
    password_hash TEXT NOT NULL, created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS logins (
    id_hash TEXT PRIMARY KEY, user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_at TEXT NOT NULL, expires_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS tokens (
    id INTEGER PRIMARY KEY, user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    label TEXT NOT NULL, token_hash TEXT NOT NULL UNIQUE, created_at TEXT NOT NULL,
    last_used_at TEXT, revoked_at TEXT
);
CREATE TABLE IF NOT EXISTS workshops (
    id TEXT PRIMARY KEY, code TEXT NOT NULL UNIQUE, title TEXT NOT NULL, safety_level TEXT NOT NULL,
    lang TEXT NOT NULL, allowed_attitudes TEXT, allowed_outputs TEXT, max_outputs_per_run INTEGER NOT NULL,
    runs_per_minute INTEGER NOT NULL, retention_days INTEGER NOT NULL,
    created_by INTEGER REFERENCES users(id) ON DELETE SET NULL, created_at TEXT NOT NULL, closed_at TEXT
);
CREATE TABLE IF NOT EXISTS students (
    pseudonym TEXT PRIMARY KEY, workshop_id TEXT NOT NULL REFERENCES workshops(id) ON DELETE CASCADE,
    joined_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS workshops_teacher ON workshops(created_by, created_at);
CREATE INDEX IF NOT EXISTS students_workshop ON students(workshop_id);
"""


class AccessDB:
    """A thread-safe SQLite connection with the access tables (or, given `schema`, other tables)."""

    def __init__(self, path: Path, schema: str = _SCHEMA):
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        self.path = Path(path)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._db.row_factory = sqlite3.Row
        with self._lock:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA foreign_keys=ON")
            self._db.executescript(schema)

    def query(self, sql: str, params: tuple[Any, ...] = ()) -> list[sqlite3.Row]:
        """Run a read statement and return all rows."""
        with self._lock:
            return self._db.execute(sql, params).fetchall()

    def one(self, sql: str, params: tuple[Any, ...] = ()) -> sqlite3.Row | None:
        """Run a read statement and return its first row (or None)."""
        rows = self.query(sql, params)
        return rows[0] if rows else None

    def execute(self, sql: str, params: tuple[Any, ...] = ()) -> int:
        """Run one write statement; return the number of changed rows."""
        with self._lock:
            return self._db.execute(sql, params).rowcount

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """Run several statements atomically."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

    def close(self) -> None:
        """Close the connection."""
        with self._lock:
            self._db.close()

"""The teacher data file (`<DATA_DIR>/teacher.sqlite`), beside the access database and like it.

Teacher-made configs, their versions, students' own attitudes and the moderation audit log live
here — never inside `schemas/`, which stays read-only for the server.
"""
from __future__ import annotations

from pathlib import Path

from devserver.access.db import AccessDB

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

def open_teacher_db(path: Path) -> AccessDB:
    """Open (and create) the teacher database at `path`."""
    return AccessDB(path, SCHEMA)

"""Versioned store of teacher-made interception configs (every save, delete and restore is a version).

A version keeps the exact JSON text that was saved, so a restore brings it back byte for byte. The
`version` field of a config is the store's version number, not part of the saved text.
"""
from __future__ import annotations

import difflib
import json
from typing import Any

from devserver.access.db import AccessDB
from devserver.errors import NotFound
from devserver.recorder.items import now_iso
from devserver.schemas.models import InterceptionConfig


def config_text(data: dict[str, Any]) -> str:
    """Return the stored JSON text of a config (without its `version`, which the store assigns)."""
    return json.dumps({k: v for k, v in data.items() if k != "version"}, ensure_ascii=False, indent=2) + "\n"


def _diff(before: str, after: str, config_id: str) -> str:
    return "".join(difflib.unified_diff(before.splitlines(keepends=True), after.splitlines(keepends=True),
                                        f"{config_id} (before)", f"{config_id} (after)"))


class ConfigStore:
    """Teacher configs and their history in the teacher database."""

    def __init__(self, db: AccessDB):
        self.db = db

    def _latest(self, conn: Any, config_id: str) -> Any:
        return conn.execute("SELECT * FROM config_versions WHERE config_id = ? ORDER BY version DESC LIMIT 1",
                            (config_id,)).fetchone()

    def _append(self, config_id: str, body: str | None, action: str, author: str) -> int:
        with self.db.transaction() as conn:
            latest = self._latest(conn, config_id)
            version = (latest["version"] if latest else 0) + 1
            before = (latest["body"] or "") if latest else ""
            conn.execute("INSERT INTO config_versions VALUES (?, ?, ?, ?, ?, ?, ?)",
                         (config_id, version, body, action, author, now_iso(), _diff(before, body or "", config_id)))
        return version

    def current(self, config_id: str) -> tuple[int, str] | None:
        """Return (version, text) of a live teacher config, or None (unknown or deleted)."""
        rows = self.db.query("SELECT version, body FROM config_versions WHERE config_id = ? "
                             "ORDER BY version DESC LIMIT 1", (config_id,))
        if not rows or rows[0]["body"] is None:
            return None
        return rows[0]["version"], rows[0]["body"]

    def save(self, config_id: str, data: dict[str, Any], author: str, action: str = "save") -> int:
        """Store a validated config as a new version; return its number."""
        return self._append(config_id, config_text(data), action, author)

    def delete(self, config_id: str, author: str) -> int:
        """Record a deletion (the history stays and can be restored)."""
        return self._append(config_id, None, "delete", author)

    def restore(self, config_id: str, version: int, author: str) -> int:
        """Make an old version current again, byte for byte; return the new version number."""
        body = self.version_text(config_id, version)
        return self._append(config_id, body, f"restore:{version}", author)

    def version_text(self, config_id: str, version: int) -> str:
        """Return the exact text of one saved version (NotFound for a deletion or an unknown version)."""
        rows = self.db.query("SELECT body FROM config_versions WHERE config_id = ? AND version = ?",
                             (config_id, version))
        if not rows or rows[0]["body"] is None:
            raise NotFound(f"Config {config_id!r} has no saved version {version}.", code="version_not_found",
                           details={"id": config_id, "version": version})
        return rows[0]["body"]

    def history(self, config_id: str) -> list[dict[str, Any]]:
        """Return every version of a config, newest first: who, when, what, and the diff to the one before."""
        rows = self.db.query("SELECT version, action, author, created_at, diff, body IS NULL AS deleted "
                             "FROM config_versions WHERE config_id = ? ORDER BY version DESC", (config_id,))
        return [{**dict(r), "deleted": bool(r["deleted"])} for r in rows]

    def known(self, config_id: str) -> bool:
        """Return whether the store has any history for this id (live or deleted)."""
        return bool(self.db.query("SELECT 1 FROM config_versions WHERE config_id = ? LIMIT 1", (config_id,)))

    def live_configs(self) -> dict[str, InterceptionConfig]:
        """Return every live teacher config, parsed, with its store version."""
        rows = self.db.query("SELECT v.config_id, v.version, v.body FROM config_versions v JOIN "
                             "(SELECT config_id, MAX(version) AS version FROM config_versions GROUP BY config_id) m "
                             "USING (config_id, version) WHERE v.body IS NOT NULL")
        out = {}
        for row in rows:
            data = {**json.loads(row["body"]), "version": row["version"]}
            out[row["config_id"]] = InterceptionConfig.model_validate(data)
        return out

"""Students' own attitudes: the rules a student wrote, saved under their pseudonymous id for a session.

The text is checked like any context (the "rules" checkpoint, at the session's level) before it is
kept; a run that uses it sends it as `context_prompt` with the `user_defined` config, so it passes
that checkpoint again. A teacher can publish one to the whole session (every student sees it).
"""
from __future__ import annotations

import uuid
from typing import Any

from devserver.access.db import AccessDB
from devserver.errors import NotFound, SafetyBlocked
from devserver.recorder.items import now_iso

FIELDS = "id, session_id, student_id, name, context, lang, published, published_by, created_at"


def _view(row: Any, student_id: str | None) -> dict[str, Any]:
    out = {k: row[k] for k in ("id", "name", "context", "lang", "created_at")}
    out.update(published=bool(row["published"]), own=row["student_id"] == student_id)
    return out


class OwnAttitudes:
    """Personal attitudes of students, per session."""

    def __init__(self, db: AccessDB, safety: Any):
        self.db, self.safety = db, safety

    def save(self, session_id: str, student_id: str, name: str, context: str, lang: str, level: str) -> dict[str, Any]:
        """Check the rules at the session's level and keep them; a blocked text is a 422 with the message."""
        for checkpoint, text in (("rules", name), ("rules", context)):
            verdict = self.safety.check(checkpoint, text, level)
            if verdict.decision != "allow":
                raise SafetyBlocked("These rules cannot be saved.", code="attitude_blocked",
                                    details={"message": self.safety.message(verdict, lang),
                                             "category": verdict.category})
        ident = uuid.uuid4().hex[:12]
        with self.db.transaction() as conn:
            conn.execute(f"INSERT INTO own_attitudes ({FIELDS}) VALUES (?, ?, ?, ?, ?, ?, 0, NULL, ?)",
                         (ident, session_id, student_id, name, context, lang, now_iso()))
        return self.get(session_id, ident, student_id)

    def get(self, session_id: str, ident: str, student_id: str | None = None) -> dict[str, Any]:
        """Return one attitude of the session (NotFound otherwise)."""
        rows = self.db.query(f"SELECT {FIELDS} FROM own_attitudes WHERE id = ? AND session_id = ?",
                             (ident, session_id))
        if not rows:
            raise NotFound("No such attitude in this session.", code="attitude_not_found", details={"id": ident})
        return _view(rows[0], student_id)

    def for_student(self, session_id: str, student_id: str) -> list[dict[str, Any]]:
        """Return the student's own attitudes and the session's published ones, newest first."""
        rows = self.db.query(f"SELECT {FIELDS} FROM own_attitudes WHERE session_id = ? AND "
                             "(student_id = ? OR published = 1) ORDER BY created_at DESC", (session_id, student_id))
        return [_view(r, student_id) for r in rows]

    def for_session(self, session_id: str) -> list[dict[str, Any]]:
        """Return every attitude of the session (teacher view), with its pseudonymous author."""
        rows = self.db.query(f"SELECT {FIELDS} FROM own_attitudes WHERE session_id = ? ORDER BY created_at DESC",
                             (session_id,))
        return [{**_view(r, None), "student_id": r["student_id"]} for r in rows]

    def publish(self, session_id: str, ident: str, teacher: str, published: bool = True) -> dict[str, Any]:
        """Show (or stop showing) a student's attitude to the whole session."""
        self.get(session_id, ident)
        with self.db.transaction() as conn:
            conn.execute("UPDATE own_attitudes SET published = ?, published_by = ? WHERE id = ?",
                         (int(published), teacher if published else None, ident))
        return self.get(session_id, ident)

    def delete(self, session_id: str, ident: str, student_id: str) -> None:
        """Delete one of the student's own attitudes."""
        if not self.get(session_id, ident, student_id)["own"]:
            raise NotFound("No such attitude of yours in this session.", code="attitude_not_found",
                           details={"id": ident})
        with self.db.transaction() as conn:
            conn.execute("DELETE FROM own_attitudes WHERE id = ?", (ident,))

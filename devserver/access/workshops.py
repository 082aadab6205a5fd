"""Workshop sessions: a teacher's settings for one class, a short join code, and the students who joined.

The built-in `default` session is not stored: it is the server's own settings (DEFAULT_SAFETY_LEVEL,
RUNS_PER_MINUTE, MAX_OUTPUTS_PER_RUN) and is where the one local person works when the server is
bound to a loopback address. Join codes use an alphabet without look-alikes (no 0/O, 1/I/L, 2/Z,
5/S, 8/B), are case-insensitive and tolerate spaces and dashes.
"""
from __future__ import annotations

import json
import secrets
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from typing import Any

from devserver.access.db import AccessDB
from devserver.errors import Conflict, NotFound

DEFAULT_ID = "default"
CODE_ALPHABET = "ACDEFGHJKMNPQRTUVWXY34679"
CODE_LENGTH = 6
_FIELDS = ("id", "code", "title", "safety_level", "lang", "allowed_attitudes", "allowed_outputs",
           "max_outputs_per_run", "runs_per_minute", "retention_days", "created_by", "created_at", "closed_at")
SETTINGS = ("title", "safety_level", "lang", "allowed_attitudes", "allowed_outputs", "max_outputs_per_run",
            "runs_per_minute", "retention_days")


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def normalise_code(raw: str) -> str:
    """Return a typed code in its stored form (upper case, no spaces or dashes)."""
    return "".join(ch for ch in (raw or "").upper() if ch not in " -\t")


@dataclass(frozen=True)
class Workshop:
    """One workshop session's settings."""

    id: str
    code: str | None
    title: str
    safety_level: str
    lang: str
    allowed_attitudes: list[str] | None  # None: every attitude
    allowed_outputs: list[str] | None  # None: every output
    max_outputs_per_run: int
    runs_per_minute: int
    retention_days: int
    created_by: int | None = None
    created_at: str | None = None
    closed_at: str | None = None

    @property
    def closed(self) -> bool:
        return self.closed_at is not None

    def for_student(self) -> dict[str, Any]:
        """Return what a joined student may know about the session (no code, no teacher)."""
        return {"id": self.id, "title": self.title, "safety_level": self.safety_level, "lang": self.lang,
                "allowed_attitudes": self.allowed_attitudes, "allowed_outputs": self.allowed_outputs,
                "max_outputs_per_run": self.max_outputs_per_run, "runs_per_minute": self.runs_per_minute,
                "closed": self.closed}

    def to_dict(self) -> dict[str, Any]:
        """Return every setting (for the session's teachers)."""
        return {**asdict(self), "closed": self.closed}


class Workshops:
    """Stored workshop sessions and their students."""

    def __init__(self, db: AccessDB, default: Workshop):
        self.db = db
        self.default = default

    def create(self, settings: dict[str, Any], created_by: int | None) -> Workshop:
        """Store a new session with a fresh join code."""
        values = {k: settings[k] for k in SETTINGS}
        with self.db.transaction() as tx:
            while True:  # 25^6 codes: a clash is rare, but a duplicate code must never be issued
                code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
                if not tx.execute("SELECT 1 FROM workshops WHERE code = ?", (code,)).fetchone():
                    break
            workshop = Workshop(id="ws-" + secrets.token_hex(5), code=code, created_by=created_by,
                                created_at=_now(), **values)
            row = [_encode(k, getattr(workshop, k)) for k in _FIELDS]
            tx.execute(f"INSERT INTO workshops ({', '.join(_FIELDS)}) VALUES ({', '.join('?' for _ in _FIELDS)})", row)
        return workshop

    def get(self, workshop_id: str) -> Workshop:
        """Return a session (the default one included) or raise NotFound."""
        if workshop_id == DEFAULT_ID:
            return self.default
        row = self.db.one(f"SELECT {', '.join(_FIELDS)} FROM workshops WHERE id = ?", (workshop_id,))
        if row is None:
            raise NotFound(f"No workshop session {workshop_id!r}.", code="session_not_found")
        return _decode(row)

    def by_code(self, code: str) -> Workshop | None:
        """Return the session with this join code (None when unknown)."""
        row = self.db.one(f"SELECT {', '.join(_FIELDS)} FROM workshops WHERE code = ?", (normalise_code(code),))
        return _decode(row) if row else None

    def list(self, created_by: int | None = None) -> list[Workshop]:
        """Return the stored sessions, newest first (only one teacher's when `created_by` is given)."""
        where, params = ("WHERE created_by = ?", (created_by,)) if created_by is not None else ("", ())
        rows = self.db.query(f"SELECT {', '.join(_FIELDS)} FROM workshops {where} ORDER BY created_at DESC, id", params)
        return [_decode(r) for r in rows]

    def ids_of(self, teacher_id: int) -> set[str]:
        """Return the ids of the sessions a teacher runs (the built-in default session counts for all)."""
        return {DEFAULT_ID} | {r[0] for r in self.db.query("SELECT id FROM workshops WHERE created_by = ?",
                                                            (teacher_id,))}

    def update(self, workshop_id: str, changes: dict[str, Any]) -> Workshop:
        """Change some settings of a stored session."""
        self._stored(workshop_id)
        sets = [k for k in changes if k in SETTINGS]
        if sets:
            self.db.execute(f"UPDATE workshops SET {', '.join(f'{k} = ?' for k in sets)} WHERE id = ?",
                            (*(_encode(k, changes[k]) for k in sets), workshop_id))
        return self.get(workshop_id)

    def close(self, workshop_id: str) -> Workshop:
        """Close a session: its students keep their runs but cannot start new ones."""
        self._stored(workshop_id)
        self.db.execute("UPDATE workshops SET closed_at = ? WHERE id = ? AND closed_at IS NULL", (_now(), workshop_id))
        return self.get(workshop_id)

    def join(self, workshop: Workshop) -> str:
        """Admit one more browser to a session; return its new pseudonym."""
        if workshop.closed:
            raise Conflict("This workshop has ended.", code="session_closed")
        pseudonym = "st-" + secrets.token_hex(6)
        self.db.execute("INSERT INTO students (pseudonym, workshop_id, joined_at) VALUES (?, ?, ?)",
                        (pseudonym, workshop.id, _now()))
        return pseudonym

    def student_count(self, workshop_id: str) -> int:
        """Count the browsers that joined a session."""
        return self.db.one("SELECT COUNT(*) FROM students WHERE workshop_id = ?", (workshop_id,))[0]

    def _stored(self, workshop_id: str) -> None:
        if workshop_id == DEFAULT_ID:
            raise Conflict("The built-in default session follows the server's settings and cannot be changed.",
                           code="default_session_fixed")
        self.get(workshop_id)


def _encode(name: str, value: Any) -> Any:
    return json.dumps(value) if name in ("allowed_attitudes", "allowed_outputs") and value is not None else value


def _decode(row: Any) -> Workshop:
    values = {k: row[k] for k in _FIELDS}
    for name in ("allowed_attitudes", "allowed_outputs"):
        values[name] = json.loads(values[name]) if values[name] is not None else None
    return Workshop(**values)

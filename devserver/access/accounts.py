"""Staff accounts (admin, teacher, researcher), their logins and their API tokens.

Passwords are hashed with Argon2 (argon2-cffi's defaults, RFC 9106 low-memory). Login ids and tokens
are 256-bit random strings; only their SHA-256 is stored, so a copy of the database opens nothing.
A wrong name and a wrong password take the same time and get the same answer.
"""
from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from argon2 import PasswordHasher, profiles
from argon2.exceptions import InvalidHashError, VerificationError

from devserver.access.db import AccessDB
from devserver.errors import Conflict, NotFound, ValidationFailed

STAFF_ROLES = ("admin", "teacher", "researcher")
NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,63}")
PASSWORD_MIN = 10


def now() -> datetime:
    return datetime.now(timezone.utc)


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds")


def digest(secret: str) -> str:
    """Return the stored form of a random login id or token."""
    return hashlib.sha256(secret.encode()).hexdigest()


@dataclass(frozen=True)
class User:
    """A staff account."""

    id: int
    name: str
    role: str

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "role": self.role}


def check_name(name: str) -> str:
    """Return a valid account name or raise ValidationFailed saying what is allowed."""
    if not NAME_RE.fullmatch(name or ""):
        raise ValidationFailed("A user name has 1–64 letters, digits or . _ @ - and starts with a letter or digit.",
                               code="invalid_user_name")
    return name


def check_password(password: str) -> str:
    """Return the password if it is long enough, else raise ValidationFailed."""
    if len(password or "") < PASSWORD_MIN:
        raise ValidationFailed(f"A password needs at least {PASSWORD_MIN} characters.", code="password_too_short")
    return password


class Accounts:
    """Users, logins and tokens in the access database."""

    def __init__(self, db: AccessDB, *, cheap_hashing: bool = False):
        self.db = db
        # Tests hash hundreds of passwords; the cheapest profile keeps them fast (never used outside TESTING).
        self.hasher = PasswordHasher.from_parameters(profiles.CHEAPEST) if cheap_hashing else PasswordHasher()
        self._dummy_hash = self.hasher.hash(secrets.token_hex(16))

    # -- users ------------------------------------------------------------------------------------
    def add(self, name: str, role: str, password: str) -> User:
        """Create an account; a taken name is a 409."""
        if role not in STAFF_ROLES:
            raise ValidationFailed(f"Role must be one of {', '.join(STAFF_ROLES)}.", code="invalid_role")
        check_name(name)
        pw_hash = self.hasher.hash(check_password(password))
        with self.db.transaction() as tx:
            if tx.execute("SELECT 1 FROM users WHERE name = ?", (name,)).fetchone():
                raise Conflict(f"There is already an account named {name!r}.", code="user_exists")
            cursor = tx.execute("INSERT INTO users (name, role, password_hash, created_at) VALUES (?, ?, ?, ?)",
                                (name, role, pw_hash, _iso(now())))
        return User(int(cursor.lastrowid or 0), name, role)

    def get(self, user_id: int) -> User | None:
        """Return the account with this id."""
        row = self.db.one("SELECT id, name, role FROM users WHERE id = ?", (user_id,))
        return User(row["id"], row["name"], row["role"]) if row else None

    def by_name(self, name: str) -> User:
        """Return the account with this name or raise NotFound."""
        row = self.db.one("SELECT id, name, role FROM users WHERE name = ?", (name,))
        if row is None:
            raise NotFound(f"No account named {name!r}.", code="user_not_found")
        return User(row["id"], row["name"], row["role"])

    def list(self) -> list[User]:
        """Return every account, by name."""
        rows = self.db.query("SELECT id, name, role FROM users ORDER BY name")
        return [User(r["id"], r["name"], r["role"]) for r in rows]

    def has_admin(self) -> bool:
        """Tell whether an admin account exists."""
        return self.db.one("SELECT 1 FROM users WHERE role = 'admin'") is not None

    def verify(self, name: str, password: str) -> User | None:
        """Return the account if the password matches; None for a wrong name or password (same cost)."""
        row = self.db.one("SELECT id, name, role, password_hash FROM users WHERE name = ?", (name,))
        try:
            self.hasher.verify(row["password_hash"] if row else self._dummy_hash, password)
        except (VerificationError, InvalidHashError):
            return None
        if row is None:
            return None
        if self.hasher.check_needs_rehash(row["password_hash"]):
            self.db.execute("UPDATE users SET password_hash = ? WHERE id = ?", (self.hasher.hash(password), row["id"]))
        return User(row["id"], row["name"], row["role"])

    def set_password(self, name: str, password: str) -> None:
        """Replace an account's password and end its logins."""
        user = self.by_name(name)
        pw_hash = self.hasher.hash(check_password(password))
        with self.db.transaction() as tx:
            tx.execute("UPDATE users SET password_hash = ? WHERE id = ?", (pw_hash, user.id))
            tx.execute("DELETE FROM logins WHERE user_id = ?", (user.id,))

    def remove(self, name: str) -> None:
        """Delete an account with its logins and tokens."""
        user = self.by_name(name)
        self.db.execute("DELETE FROM users WHERE id = ?", (user.id,))

    # -- logins (cookie sessions) -----------------------------------------------------------------
    def login(self, user: User, hours: int) -> str:
        """Start a login for the account; return the secret id for its cookie."""
        secret = secrets.token_urlsafe(32)
        moment = now()
        with self.db.transaction() as tx:
            tx.execute("DELETE FROM logins WHERE expires_at < ?", (_iso(moment),))
            tx.execute("INSERT INTO logins (id_hash, user_id, created_at, expires_at) VALUES (?, ?, ?, ?)",
                       (digest(secret), user.id, _iso(moment), _iso(moment + timedelta(hours=hours))))
        return secret

    def by_login(self, secret: str) -> User | None:
        """Return the account of a live login (None when unknown or expired)."""
        row = self.db.one("SELECT u.id, u.name, u.role FROM logins l JOIN users u ON u.id = l.user_id "
                          "WHERE l.id_hash = ? AND l.expires_at >= ?", (digest(secret), _iso(now())))
        return User(row["id"], row["name"], row["role"]) if row else None

    def logout(self, secret: str) -> None:
        """End a login."""
        self.db.execute("DELETE FROM logins WHERE id_hash = ?", (digest(secret),))

    # -- API tokens (researchers' scripts) --------------------------------------------------------
    def create_token(self, name: str, label: str = "") -> tuple[int, str]:
        """Create a bearer token acting as the account; return (id, token) — the token is shown only now."""
        user = self.by_name(name)
        secret = "dst_" + secrets.token_urlsafe(32)
        with self.db.transaction() as tx:
            cursor = tx.execute("INSERT INTO tokens (user_id, label, token_hash, created_at) VALUES (?, ?, ?, ?)",
                                (user.id, label[:100], digest(secret), _iso(now())))
        return int(cursor.lastrowid or 0), secret

    def by_token(self, secret: str) -> User | None:
        """Return the account of a live (not revoked) token and note its use."""
        row = self.db.one("SELECT t.id, u.id AS uid, u.name, u.role FROM tokens t JOIN users u ON u.id = t.user_id "
                          "WHERE t.token_hash = ? AND t.revoked_at IS NULL", (digest(secret),))
        if row is None:
            return None
        self.db.execute("UPDATE tokens SET last_used_at = ? WHERE id = ?", (_iso(now()), row["id"]))
        return User(row["uid"], row["name"], row["role"])

    def tokens(self) -> list[dict[str, Any]]:
        """List every token (never the secret)."""
        rows = self.db.query("SELECT t.id, u.name AS user, t.label, t.created_at, t.last_used_at, t.revoked_at "
                             "FROM tokens t JOIN users u ON u.id = t.user_id ORDER BY t.id")
        return [dict(r) for r in rows]

    def revoke_token(self, token_id: int) -> None:
        """Revoke a token at once; an unknown id is a 404."""
        if not self.db.execute("UPDATE tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL",
                               (_iso(now()), token_id)):
            raise NotFound(f"No active token {token_id}.", code="token_not_found")

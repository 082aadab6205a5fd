"""Who is calling: resolved once per request from a bearer token, a login cookie or a student's pass.

Order: `Authorization: Bearer` (scripts), the staff login cookie, the student's pass. Without any of
them the caller is the one local person of the built-in default session when the server is bound to
a loopback address, and anonymous otherwise. Nothing about the request's Host header or remote
address ever grants a role: "looking local" is not a credential.

A cookie that is forged, expired or belongs to a deleted account or session is dropped (the response
deletes it); routes that need an identity then answer 401, public routes serve the caller as if it
had never been sent.
"""
from __future__ import annotations

from dataclasses import dataclass

from flask import g, request

from devserver.access import cookies
from devserver.access.accounts import Accounts, User
from devserver.access.workshops import DEFAULT_ID, Workshops
from devserver.errors import NotFound, Unauthorized

LOCAL_STUDENT = "local"


@dataclass(frozen=True)
class Principal:
    """The caller of one request."""

    role: str  # anonymous | student | teacher | researcher | admin
    user: User | None = None  # staff only
    session: str | None = None  # students only: their workshop session
    student: str | None = None  # students only: their pseudonym
    via: str = "none"  # token | login | pass | loopback | none
    bad_cookie: bool = False  # a cookie was sent but is not valid (see module docstring)

    @property
    def is_staff(self) -> bool:
        return self.user is not None

    @property
    def owner_id(self) -> str | None:
        """Return the id that marks the runs this caller starts (a pseudonym, or staff-<user id>)."""
        if self.user is not None:
            return f"staff-{self.user.id}"
        return self.student

    def to_dict(self) -> dict[str, object]:
        """Return what `GET /api/auth/me` shows."""
        return {"role": self.role, "user": self.user.to_dict() if self.user else None, "session": self.session,
                "student": self.student, "via": self.via}


ANONYMOUS = Principal("anonymous")


def resolve(accounts: Accounts, workshops: Workshops, loopback: bool) -> Principal:
    """Return the caller of the current request (raises 401 only for a bad bearer token)."""
    header = request.headers.get("Authorization")
    if header is not None:
        scheme, _, secret = header.partition(" ")
        user = accounts.by_token(secret.strip()) if scheme.lower() == "bearer" and secret.strip() else None
        if user is None:
            raise Unauthorized("The bearer token is not valid (revoked or mistyped). Ask an admin for a new one.",
                               code="invalid_token")
        return Principal(user.role, user=user, via="token")
    sent = cookies.session_cookies()
    bad = False
    if sent["login"]:
        user = accounts.by_login(sent["login"])
        if user is not None:
            return Principal(user.role, user=user, via="login")
        bad = _drop("login")
    if sent["student"]:
        workshop_id, pseudonym = cookies.read_student(sent["student"]) or (None, None)
        if workshop_id is not None and pseudonym is not None and _known(workshops, workshop_id):
            return Principal("student", session=workshop_id, student=pseudonym, via="pass", bad_cookie=bad)
        bad = _drop("student")
    if loopback:
        return Principal("student", session=DEFAULT_ID, student=LOCAL_STUDENT, via="loopback", bad_cookie=bad)
    return Principal("anonymous", bad_cookie=bad)


def _drop(kind: str) -> bool:
    cookies.session_cookies()[kind] = None
    g.access_drop = (*g.get("access_drop", ()), kind)
    return True


def _known(workshops: Workshops, workshop_id: str) -> bool:
    try:
        workshops.get(workshop_id)
    except NotFound:
        return False
    return workshop_id != DEFAULT_ID  # the default session is never joined with a pass

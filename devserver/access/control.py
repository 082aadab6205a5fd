"""The access service of one app: accounts, workshop sessions, run ownership and the answers rules need.

Built by `devserver.access.init_app` and kept in `app.extensions["devserver.access"]`.
"""
from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Any

from flask import current_app, g

from devserver.access.accounts import Accounts
from devserver.access.principal import Principal
from devserver.engine.run_state import RunOwner
from devserver.access.workshops import DEFAULT_ID, Workshop, Workshops
from devserver.errors import Forbidden, NotFound, ValidationFailed


@dataclass(frozen=True)
class RunOwnerInfo:
    """The workshop session and the owner id a run was started under."""

    session: str
    student: str | None


def is_loopback(host: str) -> bool:
    """Tell whether a bind address reaches only this machine."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class AccessControl:
    """Answers the policy's questions about the current caller."""

    def __init__(self, accounts: Accounts, workshops: Workshops, *, loopback: bool):
        self.accounts = accounts
        self.workshops = workshops
        self.loopback = loopback
        self.setup_token: str | None = None  # the one-time admin set-up token (network bind, no admin yet)

    def setup_pending(self) -> bool:
        """Tell whether the first admin still has to be created with the console's set-up token."""
        if self.setup_token is not None and self.accounts.has_admin():
            self.setup_token = None  # an admin was made another way (the command line): the link is void
        return self.setup_token is not None

    # -- runs -------------------------------------------------------------------------------------
    def run_owner(self, run_id: str) -> RunOwnerInfo | None:
        """Return who started a run (live state first, then the index); None for an unknown run."""
        state = current_app.extensions["devserver.orchestrator"].get(run_id)
        if state is not None:
            return RunOwnerInfo(state.session or DEFAULT_ID, state.student)
        row = current_app.extensions["devserver.recorder"].index.get(run_id)
        if row is None:
            return None
        return RunOwnerInfo(row.get("session") or DEFAULT_ID, row.get("student"))

    def can_access_run(self, principal: Principal, run_id: str) -> bool:
        """Tell whether the caller may see and steer a run (its student, the session's teachers, staff)."""
        owner = self.run_owner(run_id)
        if owner is None:
            return False
        if principal.role in ("admin", "researcher"):
            return True
        if principal.role == "teacher" and principal.user is not None:
            return owner.student == principal.owner_id or owner.session in self.workshops.ids_of(principal.user.id)
        if principal.role == "student" and owner.session == principal.session:
            # the one local person of a loopback server owns every run of the default session
            return principal.via == "loopback" or owner.student == principal.student
        return False

    # -- sessions ---------------------------------------------------------------------------------
    def workshop_of(self, principal: Principal) -> Workshop:
        """Return the session the caller's runs go into (staff runs go into the default session)."""
        if principal.role == "student" and principal.session:
            return self.workshops.get(principal.session)
        return self.workshops.default

    def offers(self, principal: Principal, kind: str, config_id: str) -> bool:
        """Tell whether the caller's session offers an attitude (`kind="attitudes"`) or an output (`"outputs"`)."""
        allowed = getattr(self.workshop_of(principal), f"allowed_{kind}")
        return allowed is None or config_id in allowed

    def require_open_session(self, principal: Principal) -> None:
        """Refuse new work from a student whose session was closed."""
        if principal.role == "student" and self.workshop_of(principal).closed:
            raise Forbidden("This workshop has ended, so no new runs can be started. Your runs stay visible.",
                            code="session_closed")

    def require_session_access(self, principal: Principal, session_id: str) -> Workshop:
        """Return a session the caller may see (a teacher only their own; others get 404)."""
        try:
            workshop = self.workshops.get(session_id)
        except NotFound:
            raise NotFound(f"No workshop session {session_id[:40]!r}.", code="session_not_found") from None
        if principal.role == "teacher" and principal.user is not None and \
                session_id not in self.workshops.ids_of(principal.user.id):
            raise NotFound(f"No workshop session {session_id[:40]!r}.", code="session_not_found")
        return workshop

    def research_filters(self, principal: Principal, filters: dict[str, Any]) -> dict[str, Any]:
        """Limit a teacher's research query to one of their sessions (researchers and admins see all)."""
        if principal.role != "teacher" or principal.user is None:
            return filters
        own = sorted(self.workshops.ids_of(principal.user.id))
        session = filters.get("session")
        if session is None and len(own) == 1:
            return {**filters, "session": own[0]}
        if session is None:
            raise ValidationFailed("Teachers see the runs of one of their sessions at a time: add ?session=<id>.",
                                   code="session_required", details={"sessions": own})
        if session not in own:
            raise NotFound(f"No workshop session {str(session)[:40]!r}.", code="session_not_found")
        return filters


def principal() -> Principal:
    """Return the caller of the current request (resolved by the guard before the handler)."""
    return g.principal


def control() -> AccessControl:
    """Return the app's access service."""
    return current_app.extensions["devserver.access"]


def run_owner() -> RunOwner:
    """Return the owner (session, pseudonym, base level, limits) of work the caller starts now."""
    who = principal()
    return current_app.extensions["devserver.run_limits"].owner(who, control().workshop_of(who))

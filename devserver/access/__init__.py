"""Access control: roles, logins, workshop sessions, run ownership, limits (see docs/SECURITY.md).

`init_app(app, cfg)` opens `<DATA_DIR>/access.sqlite`, loads or creates the secret key, and installs
the guard (`guard.py`) that enforces `policy.POLICY` on every request.
"""
from __future__ import annotations

import logging
import os
import secrets
from pathlib import Path

from flask import Flask, request
from flask.sessions import SessionInterface
from flask_limiter import Limiter
from werkzeug.middleware.proxy_fix import ProxyFix

from config import Config
from devserver.access import guard
from devserver.access.accounts import Accounts
from devserver.access.control import AccessControl, is_loopback
from devserver.access.db import AccessDB
from devserver.access.limits import RunLimits
from devserver.access.workshops import DEFAULT_ID, Workshop, Workshops

log = logging.getLogger(__name__)
# Routes a password or code can be guessed at: limited per client address (flask-limiter, in memory).
GUESSABLE = ("auth.login", "auth.setup", "sessions.join")


def init_app(app: Flask, cfg: Config) -> AccessControl:
    """Wire access control into the app and return its service."""
    data = cfg.data_dir()
    db = AccessDB(data / "access.sqlite")
    app.config.update(SECRET_KEY=cfg.SECRET_KEY or _stored_secret(data / "secret_key"))
    app.session_interface = NoSession()  # access lives in its own cookies (cookies.py), never in flask.session
    if cfg.PROXY_HOPS:
        hops = cfg.PROXY_HOPS
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops, x_port=hops)  # type: ignore
    default = Workshop(id=DEFAULT_ID, code=None, title="Default", safety_level=cfg.DEFAULT_SAFETY_LEVEL,
                       lang=cfg.DEFAULT_LANGUAGE, allowed_attitudes=None, allowed_outputs=None,
                       max_outputs_per_run=cfg.MAX_OUTPUTS_PER_RUN, runs_per_minute=cfg.RUNS_PER_MINUTE,
                       retention_days=0)
    workshops = Workshops(db, default)
    control = AccessControl(Accounts(db, cheap_hashing=cfg.TESTING), workshops, loopback=is_loopback(cfg.HOST))
    limiter = Limiter(key_func=lambda: request.remote_addr or "unknown", app=app, storage_uri="memory://",
                      default_limits=[lambda: cfg.JOIN_RATE_LIMIT if request.endpoint == "sessions.join"
                                      else cfg.LOGIN_RATE_LIMIT], headers_enabled=True)
    # every other request skips the limiter at its first check (an exempt default limit is still resolved
    # per request: 0.1-0.6 ms of a status poll's ~1.5 ms)
    limiter.request_filter(lambda: request.endpoint not in GUESSABLE)
    app.extensions.update({"devserver.access": control, "devserver.access_db": db, "devserver.limiter": limiter,
                           "devserver.run_limits": RunLimits(workshops, cfg.RUN_MAX_PHASES)})
    guard.install(app, control, guard.allowed_hosts(cfg.HOST, cfg.ALLOWED_HOSTS))
    if not control.loopback and not control.accounts.has_admin():
        control.setup_token = secrets.token_urlsafe(24)
        _announce_setup(cfg, control.setup_token)
    return control


class NoSession(SessionInterface):
    """Flask's session, switched off: its default reads and signs a cookie on every request for nothing."""

    def open_session(self, app: Flask, request):  # type: ignore[no-untyped-def]
        return self.make_null_session(app)

    def save_session(self, app: Flask, session, response) -> None:  # type: ignore[no-untyped-def]
        return None


def _stored_secret(path: Path) -> str:
    """Return the secret key kept in the data folder, creating it (owner-only) on first start."""
    if path.is_file():
        return path.read_text(encoding="utf-8").strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    secret = secrets.token_urlsafe(48)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(secret + "\n")
    return secret


def _announce_setup(cfg: Config, token: str) -> None:
    """Print the one-time admin set-up link (like a notebook server's token) to the console."""
    host = "localhost" if cfg.HOST in guard.WILDCARD_BINDS else cfg.HOST
    base = cfg.PUBLIC_URL.rstrip("/") or f"http://{host}:{cfg.PORT}"
    log.warning("No admin account yet. Open this link once to create one (it works until an admin exists):\n"
                "    %s/setup?token=%s\n    or: python -m devserver.users add NAME --role admin", base, token)

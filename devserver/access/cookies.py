"""The three cookies: a staff login, a student's signed pass, and the CSRF token the web app echoes.

* `devserver_login` — a random login id (the server stores only its hash); HttpOnly.
* `devserver_student` — `{workshop id, pseudonym}` signed with SECRET_KEY (itsdangerous); HttpOnly.
* `csrf_token` — readable by the page's JavaScript, which sends it back as `X-CSRF-Token`. It is an
  HMAC of the session cookies under SECRET_KEY, so a token set by anyone else never matches, and it
  changes whenever the login or pass changes (signed double-submit).

All are SameSite=Lax and Secure when the request came over HTTPS (directly or through a proxy
counted in PROXY_HOPS). Handlers change cookies only through `set_login`/`set_student`/`clear_*`,
which also keep the CSRF cookie in step (`sync_csrf`, run after every request).
"""
from __future__ import annotations

import functools
import hashlib
import hmac
import time
from typing import Any

from flask import Response, current_app, g, request
from itsdangerous import BadSignature, URLSafeTimedSerializer

LOGIN_COOKIE = "devserver_login"
STUDENT_COOKIE = "devserver_student"
CSRF_COOKIE = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
STUDENT_DAYS = 7  # a workshop pass outlives a multi-day workshop, not a school year


def _secret() -> str:
    return current_app.config["SECRET_KEY"]


def _serializer(secret: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(secret, salt="devserver.student")


def sign_student(workshop_id: str, pseudonym: str) -> str:
    """Return the signed value of a student's pass."""
    return _serializer(_secret()).dumps({"w": workshop_id, "p": pseudonym})


def read_student(value: str) -> tuple[str, str] | None:
    """Return (workshop id, pseudonym) from a pass, or None when forged, malformed or expired."""
    verified = _verified_pass(_secret(), value)
    if verified is None or time.time() - verified[2] > STUDENT_DAYS * 86400:
        return None
    return verified[0], verified[1]


@functools.lru_cache(maxsize=4096)
def _verified_pass(secret: str, value: str) -> tuple[str, str, float] | None:
    """Return (workshop id, pseudonym, signing time) of a genuine pass, or None. Memoized: a class polls
    with the same few dozen passes every second, and a signature, once checked, stays valid under the
    same secret (the age is checked by the caller on every request)."""
    try:
        data, signed_at = _serializer(secret).loads(value, return_timestamp=True)
    except BadSignature:
        return None
    if not (isinstance(data, dict) and isinstance(data.get("w"), str) and isinstance(data.get("p"), str)):
        return None
    return data["w"], data["p"], signed_at.timestamp()


def csrf_for(login: str | None, student: str | None) -> str:
    """Return the CSRF token that belongs to these session cookies."""
    message = f"csrf|{login or ''}|{student or ''}".encode()
    return hmac.new(_secret().encode(), message, hashlib.sha256).hexdigest()[:40]


def session_cookies() -> dict[str, str | None]:
    """Return the session cookies as they stand for this request (changes made by the handler included)."""
    if "access_cookies" not in g:
        g.access_cookies = {"login": request.cookies.get(LOGIN_COOKIE), "student": request.cookies.get(STUDENT_COOKIE)}
    return g.access_cookies


def current_csrf() -> str | None:
    """Return the CSRF token for the current session cookies (None without any)."""
    cookies = session_cookies()
    return csrf_for(cookies["login"], cookies["student"]) if any(cookies.values()) else None


def _attrs(http_only: bool = True) -> dict[str, Any]:
    return {"httponly": http_only, "samesite": "Lax", "secure": request.is_secure, "path": "/"}


def set_login(response: Response, value: str, hours: int) -> None:
    """Put a staff login into the response."""
    response.set_cookie(LOGIN_COOKIE, value, max_age=hours * 3600, **_attrs())
    session_cookies()["login"] = value


def set_student(response: Response, value: str) -> None:
    """Put a student's pass into the response."""
    response.set_cookie(STUDENT_COOKIE, value, max_age=STUDENT_DAYS * 86400, **_attrs())
    session_cookies()["student"] = value


def clear(response: Response, kind: str) -> None:
    """Remove the `login` or `student` cookie."""
    response.delete_cookie(LOGIN_COOKIE if kind == "login" else STUDENT_COOKIE, **_attrs())
    session_cookies()[kind] = None


def sync_csrf(response: Response) -> Response:
    """Give the page the CSRF token of its current cookies (after every request)."""
    token = current_csrf()
    if token and request.cookies.get(CSRF_COOKIE) != token:
        response.set_cookie(CSRF_COOKIE, token, **_attrs(http_only=False))
    elif token is None and request.cookies.get(CSRF_COOKIE):
        response.delete_cookie(CSRF_COOKIE, **_attrs(http_only=False))
    for kind in g.get("access_drop", ()):  # a cookie that turned out forged or expired
        if session_cookies().get(kind) is None:
            response.delete_cookie(LOGIN_COOKIE if kind == "login" else STUDENT_COOKIE, **_attrs())
    return response

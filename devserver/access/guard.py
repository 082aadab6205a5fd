"""The one `before_request` hook: Host allow-list, Origin check, CSRF, the caller, the policy.

In this order, for every request:

1. **Host** must be an allowed name (DNS rebinding: a page on evil.example whose name later resolves
   to 127.0.0.1 still sends `Host: evil.example`). 400 otherwise.
2. **Origin** of a state-changing request (POST, PUT, PATCH, DELETE), when the browser sends one,
   must be this server's own. 403 otherwise — cross-site form posts and fetches end here.
3. **CSRF**: a state-changing request that carries a session cookie must echo the `csrf_token`
   cookie in `X-CSRF-Token`. 403 otherwise. Bearer-token calls carry no ambient cookie and need none.
4. **Caller** (`principal.resolve`) and the endpoint's **rule** (`policy.POLICY`).
"""
from __future__ import annotations

import hmac
import socket
from functools import lru_cache
from typing import Iterable
from urllib.parse import urlsplit

from flask import Flask, current_app, g, request

from devserver.access import cookies, policy
from devserver.access.control import AccessControl
from devserver.access.principal import resolve
from devserver.errors import AppError, Forbidden, Unauthorized

UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
WILDCARD_BINDS = frozenset({"0.0.0.0", "::", ""})


def allowed_hosts(bind_host: str, extra: Iterable[str]) -> frozenset[str]:
    """Return the Host names to accept: loopback names, the bound address, ALLOWED_HOSTS and, when bound to
    every interface, this machine's own names and addresses (never a name an attacker controls)."""
    hosts = {"localhost", "127.0.0.1", "::1", *(h.strip().lower().strip("[]") for h in extra if h.strip())}
    if bind_host not in WILDCARD_BINDS:
        hosts.add(bind_host.lower().strip("[]"))
    else:
        hosts.update(_machine_names())
    return frozenset(hosts)


@lru_cache(maxsize=1)  # name lookups can be slow; the machine's names do not change while it serves
def _machine_names() -> frozenset[str]:
    names = {socket.gethostname().lower(), socket.getfqdn().lower()}
    try:
        names.update(info[4][0] for info in socket.getaddrinfo(socket.gethostname(), None))
    except OSError:
        pass
    try:  # the address of the interface with the default route (no packet is sent)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            probe.connect(("10.255.255.255", 1))
            names.add(probe.getsockname()[0])
    except OSError:
        pass
    return frozenset(n.split("%", 1)[0] for n in names if n)


def host_name(host: str) -> str:
    """Return the name part of a Host header value (`[::1]:80` → `::1`, `a:1` → `a`)."""
    host = host.strip().lower()
    if host.startswith("["):
        return host[1:].split("]", 1)[0]
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def public_base() -> str:
    """Return the address students open: PUBLIC_URL, else the caller's own address — except that a
    teacher on the server machine itself (localhost) gets the machine's network address."""
    cfg = current_app.extensions["devserver.config"]
    if cfg.PUBLIC_URL:
        return cfg.PUBLIC_URL.rstrip("/")
    base = request.host_url.rstrip("/")
    if host_name(request.host) in ("localhost", "127.0.0.1", "::1") and not current_app.extensions[
            "devserver.access"].loopback:
        lan = next((n for n in sorted(_machine_names()) if n.count(".") == 3 and not n.startswith("127.")), None)
        if lan:
            base = f"{request.scheme}://{lan}:{cfg.PORT}"
    return base


class HostNotAllowed(AppError):
    status, code = 400, "host_not_allowed"


def install(app: Flask, control: AccessControl, hosts: frozenset[str]) -> None:
    """Register the guard on the app."""

    @app.before_request
    def _guard() -> None:
        for name in ("access_cookies", "access_drop", "principal"):  # g can outlive a request (streamed bodies)
            g.pop(name, None)
        if "*" not in hosts and host_name(request.host) not in hosts:
            raise HostNotAllowed("This server does not answer to that host name. Add it to ALLOWED_HOSTS if it "
                                 "is really this server's name.", details={"host": request.host[:100]})
        if request.method in UNSAFE_METHODS:
            _check_origin()
            _check_csrf()
        g.principal = resolve(control.accounts, control.workshops, control.loopback)
        rule = policy.rule_for(request.endpoint)
        if rule is None:  # no route matched: the 404/405 handlers answer
            return
        if g.principal.bad_cookie and not rule.lenient:
            raise Unauthorized("Your login or workshop pass has expired or is not valid. Log in or join again.",
                               code="session_expired")
        rule.check(g.principal, control, request.view_args or {})

    app.after_request(cookies.sync_csrf)


def _check_origin() -> None:
    origin = request.headers.get("Origin")
    if origin is None:
        return  # not sent by curl, scripts or same-origin navigations of older browsers
    if origin == "null" or urlsplit(origin).netloc.lower() != request.host.lower():
        raise Forbidden("Requests from other web sites are not accepted.", code="foreign_origin",
                        details={"origin": origin[:100]})


def _check_csrf() -> None:
    if request.headers.get("Authorization"):
        return
    expected = cookies.current_csrf()
    if expected is None:
        return  # no session cookie: nothing a forged request could borrow
    sent = request.headers.get(cookies.CSRF_HEADER, "")
    if not hmac.compare_digest(sent.encode(), expected.encode()):
        raise Forbidden("The request lacks its CSRF token: reload the page and try again.", code="csrf_failed")

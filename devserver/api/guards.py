"""Request guards and response headers that hold for every route: no 5xx from hostile input.

* Paths longer than `MAX_PATH` are answered 414 before routing (no file test, no 20 kB log line).
* An `<int:...>` path value past SQLite's integer range does not match its route (a 404), instead
  of reaching a query as an OverflowError.
* JSON bodies nested deeper than `MAX_JSON_DEPTH` are a 400 (`json_too_deep`): the parser's
  RecursionError would otherwise be a 500 on every JSON endpoint.
* One after-request hook sets the security headers (CSP fit for the Vue app, nosniff, no framing, no
  referrer) and keeps media out of shared caches. A response that sets its own policy keeps it (the
  p5.js sketch page, `media.sketch_frame`).
"""
from __future__ import annotations

import json
from typing import Any

from flask import Flask, Response, request
from flask.json.provider import DefaultJSONProvider
from werkzeug.routing import IntegerConverter

from devserver.errors import AppError, ValidationFailed

MAX_PATH = 8192  # longer than any real address; shorter hostile ids still get their precise 400
MAX_JSON_DEPTH = 32
SQLITE_MAX_INT = 2**63 - 1
# Scripts only from this server's files (no inline script: the p5.js sketch runs in a page of its own
# with its own policy). Styles allow inline: Vue's style bindings. Everything stays on this server: no
# remote scripts, no remote fetches (connect-src), no plugins, no framing of the app.
CSP = "; ".join((
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data: blob:",
    "media-src 'self' blob:",
    "font-src 'self' data:",
    "connect-src 'self'",
    "frame-src 'self'",
    "object-src 'none'",
    "base-uri 'self'",
    "form-action 'self'",
    "frame-ancestors 'none'",
))
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
}


class BoundedInt(IntegerConverter):
    """Werkzeug's `int` converter limited to what an id, version or index can be (SQLite's range)."""

    def __init__(self, map: Any, *args: Any, **kwargs: Any):
        kwargs.setdefault("max", SQLITE_MAX_INT)
        super().__init__(map, *args, **kwargs)


class UriTooLong(AppError):
    status, code = 414, "uri_too_long"


def json_depth(value: Any) -> int:
    """Return how deeply a parsed JSON value nests (iteratively: no recursion on hostile input)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict):
            node = list(node.values())
        if isinstance(node, list):
            deepest = max(deepest, depth)
            stack.extend((child, depth + 1) for child in node)
    return deepest


class GuardedJSONProvider(DefaultJSONProvider):
    """Flask's JSON provider with a nesting limit on parsing."""

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        """Parse JSON; too deep a document is a 400, never a RecursionError."""
        try:
            value = json.loads(s, **kwargs)
            too_deep = json_depth(value) > MAX_JSON_DEPTH
        except RecursionError:
            too_deep = True
        if too_deep:
            raise ValidationFailed(f"The JSON body nests deeper than {MAX_JSON_DEPTH} levels.",
                                   code="json_too_deep")
        return value


def _reject_long_paths() -> None:
    if len(request.environ.get("RAW_URI") or request.full_path) > MAX_PATH:
        raise UriTooLong(f"The address is longer than {MAX_PATH} characters.")


def _security_headers(response: Response) -> Response:
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    if request.path.startswith("/api/media/"):  # a student's picture never lands in a shared cache
        response.cache_control.public = False
        response.cache_control.private = True
    return response


def register(app: Flask) -> None:
    """Install the JSON nesting limit, the path length and integer limits and the security headers on an app
    (before any blueprint: a route takes its converters when it is added)."""
    app.url_map.converters["int"] = BoundedInt
    app.json = GuardedJSONProvider(app)
    app.before_request(_reject_long_paths)
    app.after_request(_security_headers)

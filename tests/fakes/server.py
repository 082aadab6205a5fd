"""A threaded HTTP server on 127.0.0.1 port 0 for protocol fakes, started and stopped by fixtures.

A fake is a `FakeApp` subclass: it maps `(method, path)` to a handler method (a path ending in "/"
matches as a prefix), receives a `Request` and answers through a `Reply`: a JSON body, raw bytes,
a chunked stream written piece by piece, or a dropped connection. Every request is recorded in
`app.requests`. `stop()` wakes handlers sleeping in slow modes (`app.sleep`) and cuts open
connections, so a test never waits for a fake to finish a slow answer.
"""
from __future__ import annotations

import json
import socket
import sys
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, ClassVar, Mapping
from urllib.parse import parse_qsl, urlsplit


@dataclass
class Request:
    """One request as the fake received it."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]  # lower-case names
    body: bytes

    def json(self) -> Any:
        """Return the body parsed as JSON (None when empty)."""
        return json.loads(self.body) if self.body else None


class Reply:
    """The ways a fake can answer one request."""

    def __init__(self, handler: BaseHTTPRequestHandler) -> None:
        self._handler = handler
        self.sent = False

    def _head(self, status: int, headers: Mapping[str, str]) -> None:
        self.sent = True
        self._handler.send_response(status)
        for name, value in headers.items():
            self._handler.send_header(name, value)
        self._handler.end_headers()

    def send(self, status: int, body: bytes, content_type: str = "application/octet-stream",
             headers: Mapping[str, str] | None = None) -> None:
        """Answer with a complete body."""
        self._head(status, {"Content-Type": content_type, "Content-Length": str(len(body)), **(headers or {})})
        self._handler.wfile.write(body)

    def json(self, status: int, value: Any, headers: Mapping[str, str] | None = None) -> None:
        """Answer with a JSON body."""
        self.send(status, json.dumps(value).encode(), "application/json", headers)

    def start_stream(self, status: int, content_type: str, headers: Mapping[str, str] | None = None) -> None:
        """Send the head of a chunked answer; follow with `chunk()` calls and `end_stream()`."""
        self._head(status, {"Content-Type": content_type, "Transfer-Encoding": "chunked", **(headers or {})})

    def chunk(self, data: bytes) -> None:
        """Send one piece of a chunked answer, immediately."""
        if data:
            self._handler.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
            self._handler.wfile.flush()

    def end_stream(self) -> None:
        """Finish a chunked answer."""
        self._handler.wfile.write(b"0\r\n\r\n")

    def drop(self) -> None:
        """Cut the connection without (finishing) an answer, as a crashed server would."""
        self.sent = True
        self._handler.close_connection = True
        try:
            self._handler.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: "_Server"

    def setup(self) -> None:
        super().setup()
        self.server.connections.add(self.connection)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.connections.discard(self.connection)

    def _dispatch(self) -> None:
        parts = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        request = Request(self.command, parts.path, dict(parse_qsl(parts.query)),
                          {k.lower(): v for k, v in self.headers.items()}, self.rfile.read(length) if length else b"")
        reply = Reply(self)
        try:
            self.server.app.dispatch(request, reply)
            if not reply.sent:
                reply.json(500, {"error": "the fake did not answer"})
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the client gave up (timeout tests do that on purpose)
        except Exception as exc:  # a bug in a fake must show up as a 500, not as a hang
            if not reply.sent:
                reply.json(500, {"error": f"fake crashed: {exc!r}"})
            self.close_connection = True

    do_GET = do_POST = do_PUT = do_DELETE = _dispatch

    def log_message(self, format: str, *args: Any) -> None:
        pass  # keep test output clean


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, app: "FakeApp") -> None:
        self.app = app
        self.connections: set[socket.socket] = set()
        super().__init__(("127.0.0.1", 0), _Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        if not isinstance(sys.exc_info()[1], ConnectionError):  # a client that went away is no fault of the fake
            super().handle_error(request, client_address)


class FakeApp:
    """Base of every HTTP fake: routes, recording, start/stop, interruptible sleeps."""

    routes: ClassVar[dict[tuple[str, str], str]] = {}

    def __init__(self) -> None:
        self.requests: list[Request] = []
        self.stopping = threading.Event()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """Return the base URL, e.g. http://127.0.0.1:40123."""
        assert self._server is not None, "start the fake first"
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> "FakeApp":
        """Listen on a free loopback port and serve from a background thread."""
        self.stopping.clear()
        self._server = _Server(self)
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name=f"{type(self).__name__}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, wake sleeping handlers and cut open connections."""
        self.stopping.set()
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        for conn in list(self._server.connections):
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = None

    def __enter__(self) -> "FakeApp":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def sleep(self, seconds: float) -> None:
        """Sleep in a handler, waking early when the fake stops."""
        self.stopping.wait(seconds)

    def dispatch(self, request: Request, reply: Reply) -> None:
        """Record the request and call the handler its route names (404 when none)."""
        self.requests.append(request)
        handler = self._route(request.method, request.path)
        if handler is None:
            reply.json(404, {"error": f"no route {request.method} {request.path}"})
            return
        handler(request, reply)

    def _route(self, method: str, path: str) -> Callable[[Request, Reply], None] | None:
        name = self.routes.get((method, path))
        if name is None:
            prefixes = [p for (m, p) in self.routes if m == method and p.endswith("/") and path.startswith(p)]
            name = self.routes[(method, max(prefixes, key=len))] if prefixes else None
        return getattr(self, name) if name else None

    def received(self, path: str) -> list[Request]:
        """Return the recorded requests to one path, oldest first."""
        return [r for r in self.requests if r.path == path]


def closed_port_url() -> str:
    """Return a loopback URL on which nothing listens (connection refused)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"

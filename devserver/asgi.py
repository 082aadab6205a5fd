"""The production front: an ASGI app in which idle event streams and `?wait=` POSTs hold no thread.

Every request goes through the Flask app — access checks, validation, projections, error envelope
and headers all stay there. Ordinary requests run under `a2wsgi` on a bounded thread pool. Two kinds
are *handed off*: `GET /api/pipeline/<id>/events` and `POST /api/schema/pipeline/<phase>?wait=N`.
The gateway dispatches them to Flask in a pool thread with a hand-off hook in the WSGI environ; the
Flask route authorises and validates as always and, instead of blocking, passes back its starting
point (an `EventCursor` or a `WaitStart`). The thread returns at once; the gateway then streams the
cursor's frames (the same `EventCursor.step` the Flask route uses) or waits for the run on the event
loop, woken by the run state's listeners. A finished wait is answered by dispatching
`GET /api/pipeline/<id>/status` to Flask with the same headers, so its body is exactly the status
route's. Run workers and the embedded model keep running in their own threads.
"""
from __future__ import annotations

import asyncio
import io
import re
from typing import Any, Callable

from a2wsgi import WSGIMiddleware
from a2wsgi.wsgi import build_environ
from flask import Flask

from devserver.api.event_frames import HANDOFF, HEARTBEAT, OPENING, EventCursor, WaitStart
from devserver.api.pipeline import HEARTBEAT_SECONDS

EVENTS_PATH = re.compile(r"^/api/pipeline/[^/]+/events$")
PHASE_PATH = re.compile(r"^/api/schema/pipeline/[^/]+$")
Message = dict[str, Any]


def handed_off(scope: Message) -> bool:
    """Tell whether a request is one the gateway serves asynchronously."""
    if scope["type"] != "http":
        return False
    if scope["method"] == "GET":
        return bool(EVENTS_PATH.match(scope["path"]))
    query = scope.get("query_string", b"").decode("latin1")
    return scope["method"] == "POST" and bool(PHASE_PATH.match(scope["path"])) and "wait=" in query


class Gateway:
    """ASGI app around the Flask app (see the module docstring)."""

    def __init__(self, app: Flask, threads: int):
        self.app = app
        self.wsgi = WSGIMiddleware(app, workers=threads)
        self.heartbeat = app.extensions.get("devserver.sse_heartbeat", HEARTBEAT_SECONDS)

    async def __call__(self, scope: Message, receive: Callable, send: Callable) -> None:
        if handed_off(scope):
            await self._handoff(scope, receive, send)
        else:
            await self.wsgi(scope, receive, send)

    async def _handoff(self, scope: Message, receive: Callable, send: Callable) -> None:
        body = await _read_body(receive, self.app.config["MAX_CONTENT_LENGTH"] + 1)
        taken: list[Any] = []
        status, headers, content = await self._dispatch(scope, body, taken.append)
        if not taken:  # an error, a replay of a finished run, a plain POST: Flask's answer as it is
            await _respond(send, status, headers, content)
        elif isinstance(taken[0], EventCursor):
            await self._stream(taken[0], receive, send, status, headers)
        else:
            await self._wait(taken[0], scope, send)

    async def _dispatch(self, scope: Message, body: bytes,
                        handoff: Callable[[Any], None] | None = None) -> tuple[int, list, bytes]:
        """Run one request through the Flask app in a pool thread; return status, headers, body."""
        environ = build_environ(scope, None)  # type: ignore[arg-type]
        environ.update({"wsgi.input": io.BytesIO(body), "CONTENT_LENGTH": str(len(body))})
        if handoff is not None:
            environ[HANDOFF] = handoff
        return await asyncio.get_running_loop().run_in_executor(self.wsgi.executor, _call_wsgi, self.app, environ)

    async def _stream(self, cursor: EventCursor, receive: Callable, send: Callable, status: int,
                      headers: list) -> None:
        loop, wake, gone = asyncio.get_running_loop(), asyncio.Event(), asyncio.Event()

        def notify() -> None:  # called from run worker threads
            loop.call_soon_threadsafe(wake.set)

        async def watch() -> None:
            while (await receive())["type"] != "http.disconnect":
                pass
            gone.set()
            wake.set()

        watcher = loop.create_task(watch())
        cursor.state.subscribe(notify)
        try:
            await send({"type": "http.response.start", "status": status, "headers": headers})
            await _chunk(send, OPENING)
            while not gone.is_set():
                wake.clear()
                frames, done = cursor.step()
                if frames:
                    await _chunk(send, "".join(frames))
                if done:
                    break
                try:
                    await asyncio.wait_for(wake.wait(), self.heartbeat)
                except asyncio.TimeoutError:
                    await _chunk(send, HEARTBEAT)
            if not gone.is_set():
                await send({"type": "http.response.body", "body": b"", "more_body": False})
        finally:
            cursor.state.unsubscribe(notify)
            watcher.cancel()
            cursor.on_close()

    async def _wait(self, start: WaitStart, scope: Message, send: Callable) -> None:
        loop, wake, state = asyncio.get_running_loop(), asyncio.Event(), start.state

        def notify() -> None:
            loop.call_soon_threadsafe(wake.set)

        state.subscribe(notify)
        deadline = loop.time() + start.seconds
        try:
            while not state.terminal and loop.time() < deadline:
                wake.clear()
                if state.terminal:
                    break
                try:
                    await asyncio.wait_for(wake.wait(), max(0.0, deadline - loop.time()))
                except asyncio.TimeoutError:
                    break
        finally:
            state.unsubscribe(notify)
        status_scope = {**scope, "method": "GET", "path": f"/api/pipeline/{state.run_id}/status",
                        "raw_path": None, "query_string": b""}
        status_scope["headers"] = [(k, v) for k, v in scope["headers"] if k not in (b"content-length", b"content-type")]
        await _respond(send, *await self._dispatch(status_scope, b""))


def _call_wsgi(app: Flask, environ: dict[str, Any]) -> tuple[int, list, bytes]:
    started: list[Any] = []

    def start_response(status: str, headers: list, exc_info: Any = None) -> Callable:
        started[:] = [int(status.split(" ", 1)[0]), [(k.lower().encode("latin1"), v.encode("latin1"))
                                                       for k, v in headers]]
        return lambda data: None

    result = app(environ, start_response)
    try:
        content = b"".join(result)
    finally:
        getattr(result, "close", lambda: None)()
    return started[0], started[1], content


async def _read_body(receive: Callable, limit: int) -> bytes:
    """Read the request body (up to `limit` bytes: Flask answers 413 for more)."""
    body, more = bytearray(), True
    while more and len(body) < limit:
        message = await receive()
        body += message.get("body", b"")
        more = message.get("more_body", False)
    return bytes(body)


async def _respond(send: Callable, status: int, headers: list, content: bytes) -> None:
    headers = [(k, v) for k, v in headers if k != b"content-length"] + [(b"content-length", str(len(content)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": content, "more_body": False})


async def _chunk(send: Callable, text: str) -> None:
    await send({"type": "http.response.body", "body": text.encode("utf-8"), "more_body": True})

"""A protocol-faithful fake ComfyUI: HTTP routes and the `/ws` websocket on one loopback port.

It replays the recorded transcript in `shared/reference/comfyui.md` and copies what the real server
(0.3.64) was seen to do: the socket's first frame is `status` with `sid`; `POST /prompt` validates
like the real one (`comfyui_catalogue.validate`), accepts any client-supplied `prompt_id` — also a
duplicate, which then runs twice while `/history` keeps the last — and a single worker
(`comfyui_runner`) executes it node by node with cumulative `progress_state`, `executing`, sampler
`progress`, caching and slow interrupts. `/object_info` knows the node classes of the shipped
output chunks (minus `missing_nodes`, as when a module failed to import); every loader offers the
`models` the fake was given. `POST /upload/image` stores input images (`comfyui_upload`); a LoadImage
node naming a file that is not there fails validation as on the real server.

Real durations are multiplied by `time_scale` so tests stay fast: a restart refuses connections for
`restart_seconds` (13 s on the real server), an interrupt takes effect after `interrupt_seconds`
(the next node boundary, 5 s). Tests wait on states (`up`, `history`, requests), not on the clock.

HTTP is `http.server`; the websocket is the `websockets` sans-I/O protocol driven on the upgraded
socket, so both share a port as they do on the real (aiohttp) server. Failure modes are attributes
and methods a test flips: `refused_url()`, `hang`, `prompt_status`, `ws_silent_after`,
`ws_drop_after`, `fail_node`, `ignore_prompt_id`, `reject_prompt_id`, `honour_interrupt`, `paused`,
`caching`, `freeze()`/`thaw()` (connections accepted, nothing answered), `restart(refuse=...)`,
`install_models()`, `remove_nodes()`.
"""
from __future__ import annotations

import json
import socket
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from websockets.server import ServerProtocol

from tests.fakes.comfyui_catalogue import catalogue, validate
from tests.fakes.comfyui_runner import Runner
from tests.fakes.comfyui_socket import Recorded, WebSocket
from tests.fakes.comfyui_upload import input_paths, parse_form, store_upload, top_level_inputs


class FakeComfyUI(Runner):
    """A ComfyUI server on 127.0.0.1 with switchable failure modes; use as a context manager."""

    def __init__(self, *, models: tuple[str, ...] = ("sd15.safetensors",), steps: int = 5,
                 frame_delay: float = 0.0, combo_style: str = "list", version: str = "0.3.64",
                 time_scale: float = 0.01, missing_nodes: tuple[str, ...] = ()) -> None:
        self.models, self.combo_style, self.without = list(models), combo_style, set(missing_nodes)
        self.files: dict[tuple[str, str, str], bytes] = {}  # (type, subfolder, filename) → bytes
        self.catalogue = self._catalogue()
        self.steps, self.frame_delay, self.version = steps, frame_delay, version
        self.time_scale = time_scale
        self.restart_seconds = 13.0  # the real server refused connections this long while restarting
        self.interrupt_seconds = 5.0  # ... and stopped at the next node boundary this much later
        self.node_seconds = 0.0  # how long each node takes
        # failure switches
        self.hang = False  # a prompt never finishes (until interrupted, if interrupts are honoured)
        self.prompt_status: int | None = None  # answer POST /prompt with this status (e.g. 500)
        self.ws_silent_after: int | None = None  # stop sending a prompt's frames after this many
        self.ws_drop_after: int | None = None  # cut the submitting client's socket after this many frames
        self.fail_node: str | None = None  # this node id raises: execution_error
        self.ignore_prompt_id = False  # older builds: always generate an own prompt_id
        self.reject_prompt_id = False  # a stricter build: 400 when the client sends a prompt_id
        self.honour_interrupt = True
        self.paused = False  # keep prompts pending (queue position, deleting a pending prompt)
        self.caching = True  # reuse node outputs of earlier prompts with the same inputs, as ComfyUI does
        # (method, path) → statuses to answer next: 5xx with ComfyUI's error text, 200 with a body that is no JSON
        self.fail_next: dict[tuple[str, str], list[int]] = {}
        self.up = threading.Event()  # listening (cleared while a restart refuses connections)
        # observable state
        self.requests: list[Recorded] = []
        self.history: dict[str, dict[str, Any]] = {}
        self.runs: list[str] = []  # prompt ids in the order they started executing (a duplicate id twice)
        self._pending: list[list[Any]] = []
        self._sent: dict[str, int] = {}  # prompt_id → frames sent to its client so far
        self._running: list[Any] | None = None
        self._sockets: dict[str, WebSocket] = {}
        self._lock = threading.Condition()
        self._interrupt_at: float | None = None
        self._stopping = threading.Event()
        self._thawed = threading.Event()
        self._thawed.set()
        self._epoch = 0  # bumped by a restart: the prompt running then is lost
        self._cache: dict[str, Any] = {}
        self._number = 0
        self._counter = 0
        self._httpd = self._server(0)
        self._port = self._httpd.server_address[1]
        self._worker = threading.Thread(target=self._work, daemon=True)

    # -- lifecycle ----------------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._port}"

    def _server(self, port: int) -> ThreadingHTTPServer:
        httpd = ThreadingHTTPServer(("127.0.0.1", port), self._handler_class())
        httpd.daemon_threads = True
        return httpd

    def _serve(self) -> None:
        threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        self.up.set()

    def __enter__(self) -> "FakeComfyUI":
        self._serve()
        self._worker.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stopping.set()
        self._thawed.set()
        with self._lock:
            self._lock.notify_all()
        if self.up.is_set():
            self._httpd.shutdown()
        self._httpd.server_close()
        self._worker.join(timeout=5)

    def scaled(self, seconds: float) -> float:
        """Return a real-server duration in this fake's time."""
        return seconds * self.time_scale

    @staticmethod
    def refused_url() -> str:
        """Return the URL of a loopback port that nothing listens on."""
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        return f"http://127.0.0.1:{port}"

    def restart(self, refuse: bool = False) -> None:
        """Forget queue, history and cache and drop every socket, as a restarted ComfyUI does.

        With `refuse`, connections are refused for `restart_seconds` (scaled) until `up` is set again.
        """
        with self._lock:
            self._pending.clear()
            self.history.clear()
            self._cache.clear()
            self._epoch += 1
            sockets = list(self._sockets.values())
            self._sockets.clear()
        for sock in sockets:
            sock.drop()
        if not refuse:
            return
        self.up.clear()
        self._httpd.shutdown()
        self._httpd.server_close()

        def come_back() -> None:
            if not self._stopping.wait(self.scaled(self.restart_seconds)):
                self._httpd = self._server(self._port)
                self._serve()

        threading.Thread(target=come_back, daemon=True).start()

    def freeze(self) -> None:
        """Stop answering, as a stopped process does: connections are accepted, requests wait."""
        self._thawed.clear()

    def thaw(self) -> None:
        """Resume: the requests that waited are answered in turn."""
        self._thawed.set()

    def _wait_thawed(self) -> bool:
        while not self._thawed.wait(0.05):
            if self._stopping.is_set():
                return False
        return not self._stopping.is_set()

    def install_models(self, *names: str) -> None:
        """Put more model files into the loaders' lists, as copying them into models/ does."""
        with self._lock:
            self.models.extend(names)
            self.catalogue = self._catalogue()

    def remove_nodes(self, *names: str) -> None:
        """Drop node classes from /object_info, as when their module fails to import."""
        with self._lock:
            self.without.update(names)
            self.catalogue = self._catalogue()

    def _catalogue(self) -> dict[str, Any]:
        return catalogue(self.models, self.combo_style, self.without, top_level_inputs(self.files))

    def requests_to(self, method: str, path: str) -> list[Recorded]:
        """Return the recorded requests with this method and path."""
        with self._lock:
            return [r for r in self.requests if r.method == method and r.path == path]

    def output_bytes(self, prompt_id: str, node_id: str) -> list[bytes]:
        """Return the bytes of the files a prompt's node saved, in history order."""
        refs = [ref for items in self.history[prompt_id]["outputs"][node_id].values() if isinstance(items, list)
                for ref in items if isinstance(ref, dict)]
        return [self.files[(r["type"], r["subfolder"], r["filename"])] for r in refs]

    # -- HTTP routes -----------------------------------------------------------------------------------------

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:  # keep test output quiet
                pass

            def do_GET(self) -> None:
                fake._dispatch(self, "GET")

            def do_POST(self) -> None:
                fake._dispatch(self, "POST")

        return Handler

    def _dispatch(self, handler: BaseHTTPRequestHandler, method: str) -> None:
        if not self._wait_thawed():  # frozen: the connection is open, nobody reads it
            return
        parts = urlsplit(handler.path)
        path = parts.path.removeprefix("/api") if parts.path.startswith("/api/") else parts.path
        query = {k: v[0] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        length = int(handler.headers.get("Content-Length") or 0)
        raw = handler.rfile.read(length) if length else b""
        body = parse_form(handler.headers.get("Content-Type", ""), raw)  # (fields, files) of a multipart form
        try:
            body = json.loads(raw) if raw and body is None else body
        except ValueError:
            body = None
        with self._lock:
            self.requests.append(Recorded(method, path, query, body))
        if method == "GET" and path == "/ws":
            self._websocket(handler, query.get("clientId") or uuid.uuid4().hex)
            return
        status, payload, ctype = self._route(method, path, query, body)
        data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        try:
            handler.send_response(status)
            handler.send_header("Content-Type", ctype)
            handler.send_header("Content-Length", str(len(data)))
            handler.end_headers()
            handler.wfile.write(data)
        except OSError:
            pass  # the client gave up waiting (a frozen server's clients do)

    def _route(self, method: str, path: str, query: dict[str, str], body: Any) -> tuple[int, Any, str]:
        js = "application/json"
        with self._lock:
            if self.fail_next.get((method, path)):
                status = self.fail_next[(method, path)].pop(0)
                text = b"<html>proxy says hello</html>" if status == 200 else b"500: Server got itself in trouble"
                return status, text, "text/plain"
            if (method, path) == ("POST", "/prompt"):
                status, answer = self._submit(body if isinstance(body, dict) else {})
                return status, answer, js if isinstance(answer, dict) else "text/plain"
            if (method, path) == ("POST", "/upload/image"):
                status, answer = store_upload(self.files, body if isinstance(body, tuple) else None)
                self.catalogue = self._catalogue()  # LoadImage's list shows the new file
                return status, answer, js if isinstance(answer, dict) else "text/plain"
            if (method, path) == ("GET", "/prompt"):
                return 200, {"exec_info": {"queue_remaining": len(self._pending) + bool(self._running)}}, js
            if (method, path) == ("GET", "/queue"):
                return 200, {"queue_running": [self._running] if self._running else [],
                             "queue_pending": list(self._pending)}, js
            if (method, path) == ("POST", "/queue"):
                doomed = set((body or {}).get("delete") or []) | ({i[1] for i in self._pending}
                                                                  if (body or {}).get("clear") else set())
                self._pending = [item for item in self._pending if item[1] not in doomed]
                return 200, b"", "text/plain"
            if (method, path) == ("POST", "/interrupt"):
                target = (body or {}).get("prompt_id")
                if self._running and target in (None, self._running[1]) and self._interrupt_at is None:
                    # takes effect at the next node boundary, seconds later; /queue lists it as running until then
                    self._interrupt_at = time.monotonic() + self.scaled(self.interrupt_seconds)
                return 200, b"", "text/plain"
            if (method, path) == ("POST", "/free"):
                return 200, b"", "text/plain"
            if method == "GET" and path == "/history":
                return 200, dict(self.history), js  # a copy: it is serialised after the lock is released
            if method == "GET" and path.startswith("/history/"):
                pid = path.removeprefix("/history/")
                return 200, {pid: self.history[pid]} if pid in self.history else {}, js
            if method == "GET" and path == "/object_info":
                return 200, self.catalogue, js
            if method == "GET" and path.startswith("/object_info/"):
                name = path.removeprefix("/object_info/")
                return 200, {name: self.catalogue[name]} if name in self.catalogue else {}, js
            if method == "GET" and path == "/system_stats":
                return 200, {"system": {"os": "posix", "ram_total": 8 * 2**30, "ram_free": 4 * 2**30,
                                        "comfyui_version": self.version, "python_version": "3.11",
                                        "pytorch_version": "2.8.0+cpu", "argv": ["main.py", "--cpu"]},
                             "devices": [{"name": "cpu", "type": "cpu", "index": None, "vram_total": 8 * 2**30,
                                          "vram_free": 4 * 2**30, "torch_vram_total": 0, "torch_vram_free": 0}]}, js
            if method == "GET" and path == "/view":
                return self._view(query)
        return 404, b"404: Not Found", "text/plain"

    def _view(self, query: dict[str, str]) -> tuple[int, Any, str]:
        name, sub, kind = query.get("filename", ""), query.get("subfolder", ""), query.get("type", "output")
        if not name or name.startswith("/") or ".." in name or kind not in ("output", "input", "temp"):
            return 400, b"", "text/plain"
        if ".." in sub or sub.startswith("/"):
            return 403, b"", "text/plain"
        data = self.files.get((kind, sub, name))
        if data is None:
            return 404, b"", "text/plain"
        ctype = {"png": "image/png", "jpg": "image/jpeg", "webp": "image/webp", "wav": "audio/wav", "mp3": "audio/mpeg", "webm": "video/webm", "mp4": "video/mp4"}
        return 200, data, ctype.get(name.rsplit(".", 1)[-1], "application/octet-stream")

    def _submit(self, body: dict[str, Any]) -> tuple[int, Any]:
        """Validate and queue a prompt the way ComfyUI's POST /prompt does (caller holds the lock)."""
        if self.prompt_status:
            return self.prompt_status, f"{self.prompt_status}: Server Error".encode()
        if self.reject_prompt_id and "prompt_id" in body:
            return 400, {"error": {"type": "invalid_prompt", "message": "prompt_id is not accepted by this server",
                                   "details": "", "extra_info": {}}, "node_errors": {}}
        if "prompt" not in body:
            return 400, {"error": {"type": "no_prompt", "message": "No prompt provided", "details": "",
                                   "extra_info": {}}, "node_errors": {}}
        graph = body["prompt"]
        status, outputs = validate(graph, self.catalogue, input_paths(self.files))
        if status != 200:
            return status, outputs
        own = body.get("prompt_id")  # any string is accepted, a duplicate too
        prompt_id = str(own) if own and not self.ignore_prompt_id else str(uuid.uuid4())
        number, self._number = self._number, self._number + 1
        extra = {"client_id": body.get("client_id")}
        self._pending.append([number, prompt_id, graph, extra, outputs])
        self._lock.notify_all()
        for _ in range(2):  # the transcript shows two status frames right after the submit
            self._broadcast({"type": "status", "data": {"status": {"exec_info": {"queue_remaining":
                                                                                 len(self._pending)}}}})
        return 200, {"prompt_id": prompt_id, "number": number, "node_errors": {}}

    # -- websocket -------------------------------------------------------------------------------------------

    def _websocket(self, handler: BaseHTTPRequestHandler, client_id: str) -> None:
        protocol = ServerProtocol(max_size=2**20)
        raw = f"{handler.requestline}\r\n" + "".join(f"{k}: {v}\r\n" for k, v in handler.headers.items()) + "\r\n"
        protocol.receive_data(raw.encode("latin-1"))
        request = protocol.events_received()[0]
        response = protocol.accept(request)
        protocol.send_response(response)
        sock = WebSocket(handler.connection, protocol)
        sock.flush()
        handler.close_connection = True
        if response.status_code != 101:
            return
        with self._lock:
            queue_remaining = len(self._pending) + bool(self._running)
            sock.send({"type": "status", "data": {"status": {"exec_info": {"queue_remaining": queue_remaining}},
                                                  "sid": client_id}})
            old = self._sockets.get(client_id)
            self._sockets[client_id] = sock  # reusing a clientId replaces the old socket
        if old:
            old.drop()
        sock.serve(self._stopping)
        with self._lock:
            if self._sockets.get(client_id) is sock:
                del self._sockets[client_id]

    def _broadcast(self, frame: dict[str, Any]) -> None:
        for sock in list(self._sockets.values()):
            sock.send(frame)

    def _to_client(self, item: list[Any], frame: dict[str, Any] | bytes, broadcast: bool = False) -> None:
        """Send a prompt's frame to its submitting client (or everyone), applying the silent/drop modes."""
        self._wait_thawed()  # a frozen server sends nothing
        sent = self._sent.get(item[1], 0)
        sock = self._sockets.get(item[3]["client_id"])
        if self.ws_drop_after is not None and sent >= self.ws_drop_after:
            if sock:
                sock.drop()
            return
        if self.ws_silent_after is not None and sent >= self.ws_silent_after:
            return
        self._sent[item[1]] = sent + 1
        for target in list(self._sockets.values()) if broadcast else [sock] if sock else []:
            target.send(frame)
        if self.frame_delay:
            time.sleep(self.frame_delay)

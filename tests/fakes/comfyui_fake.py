"""A protocol-faithful fake ComfyUI: HTTP routes and the `/ws` websocket on one loopback port.

It replays the recorded transcript in `shared/reference/comfyui.md`: the socket's first frame is
`status` with `sid`; `POST /prompt` queues the graph (honouring a client-supplied `prompt_id`) and a
single worker thread "executes" it node by node, sending `status` x2, `execution_start`,
`execution_cached`, then per node `progress_state` + `executing` (+ sampler `progress` frames,
+ `executed` for save nodes), then `execution_success`, the history entry, `status`, and
`executing` with node null. Save nodes write real files (a PNG with the graph in its text chunk, a
WAV, and MP3, WEBM and MP4 files with valid headers) that `/view` serves. `/object_info` knows the
node classes of the shipped output chunks; every loader offers the `models` the fake was given.

HTTP is `http.server`; the websocket is the `websockets` sans-I/O protocol driven on the upgraded
socket, so both share a port as they do on the real (aiohttp) server. Failure modes are attributes
a test flips: `refused_url()`, `hang`, `prompt_status`, `ws_silent_after`, `ws_drop_after`,
`fail_node`, `ignore_prompt_id`, `reject_prompt_id`, `honour_interrupt`, `paused`, `restart()`,
`install_models()`.
"""
from __future__ import annotations

import hashlib
import io
import json
import socket
import struct
import threading
import time
import uuid
import wave
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable
from urllib.parse import parse_qs, urlsplit

from PIL import Image
from PIL.PngImagePlugin import PngInfo
from websockets.server import ServerProtocol

SAMPLERS = {"KSampler", "KSamplerAdvanced", "SamplerCustom"}
# save node → (history output key, file extension, extra output keys)
SAVERS: dict[str, tuple[str, str, dict[str, Any]]] = {
    "SaveImage": ("images", "png", {}),
    "PreviewImage": ("images", "png", {}),
    "SaveAudio": ("audio", "wav", {}),
    "SaveAudioMP3": ("audio", "mp3", {}),
    "SaveWEBM": ("images", "webm", {"animated": [True]}),
    "VHS_VideoCombine": ("gifs", "mp4", {}),
}
# node class → (category, output types, inputs as name:TYPE). MODEL_FILE is a loader's combo of the
# installed model files; SAMPLER_NAME and SCHEDULER_NAME are combos too; other upper-case types are links.
NODES: dict[str, tuple[str, str, str]] = {
    "EmptyImage": ("image", "IMAGE", "width:INT height:INT batch_size:INT color:INT"),
    "SaveImage": ("image", "", "images:IMAGE filename_prefix:STRING"),
    "PreviewImage": ("image", "", "images:IMAGE"),
    "CheckpointLoaderSimple": ("loaders", "MODEL CLIP VAE", "ckpt_name:MODEL_FILE"),
    "CLIPLoader": ("loaders", "CLIP", "clip_name:MODEL_FILE type:STRING"),
    "DualCLIPLoader": ("loaders", "CLIP", "clip_name1:MODEL_FILE clip_name2:MODEL_FILE type:STRING"),
    "TripleCLIPLoader": ("loaders", "CLIP", "clip_name1:MODEL_FILE clip_name2:MODEL_FILE clip_name3:MODEL_FILE"),
    "UNETLoader": ("loaders", "MODEL", "unet_name:MODEL_FILE weight_dtype:STRING"),
    "VAELoader": ("loaders", "VAE", "vae_name:MODEL_FILE"),
    "CLIPTextEncode": ("conditioning", "CONDITIONING", "text:STRING clip:CLIP"),
    "ConditioningZeroOut": ("conditioning", "CONDITIONING", "conditioning:CONDITIONING"),
    "FluxGuidance": ("conditioning", "CONDITIONING", "conditioning:CONDITIONING guidance:FLOAT"),
    "ConditioningStableAudio": ("conditioning", "CONDITIONING CONDITIONING",
                                "positive:CONDITIONING negative:CONDITIONING seconds_start:FLOAT seconds_total:FLOAT"),
    "LTXVConditioning": ("conditioning", "CONDITIONING CONDITIONING",
                         "positive:CONDITIONING negative:CONDITIONING frame_rate:FLOAT"),
    "TextEncodeAceStepAudio": ("conditioning", "CONDITIONING", "clip:CLIP tags:STRING lyrics:STRING "
                                                               "lyrics_strength:FLOAT"),
    "EmptyLatentImage": ("latent", "LATENT", "width:INT height:INT batch_size:INT"),
    "EmptySD3LatentImage": ("latent", "LATENT", "width:INT height:INT batch_size:INT"),
    "EmptyLatentAudio": ("latent/audio", "LATENT", "seconds:FLOAT batch_size:INT"),
    "EmptyAceStepLatentAudio": ("latent/audio", "LATENT", "seconds:FLOAT batch_size:INT"),
    "EmptyLTXVLatentVideo": ("latent/video", "LATENT", "width:INT height:INT length:INT batch_size:INT"),
    "ModelSamplingAuraFlow": ("advanced/model", "MODEL", "model:MODEL shift:FLOAT"),
    "ModelSamplingSD3": ("advanced/model", "MODEL", "model:MODEL shift:FLOAT"),
    "KSampler": ("sampling", "LATENT", "model:MODEL seed:INT steps:INT cfg:FLOAT sampler_name:SAMPLER_NAME "
                                       "scheduler:SCHEDULER_NAME positive:CONDITIONING negative:CONDITIONING "
                                       "latent_image:LATENT denoise:FLOAT"),
    "KSamplerSelect": ("sampling", "SAMPLER", "sampler_name:SAMPLER_NAME"),
    "LTXVScheduler": ("sampling", "SIGMAS", "steps:INT max_shift:FLOAT base_shift:FLOAT stretch:BOOLEAN "
                                           "terminal:FLOAT latent:LATENT"),
    "SamplerCustom": ("sampling", "LATENT LATENT", "model:MODEL add_noise:BOOLEAN noise_seed:INT cfg:FLOAT "
                                                   "positive:CONDITIONING negative:CONDITIONING sampler:SAMPLER "
                                                   "sigmas:SIGMAS latent_image:LATENT"),
    "VAEDecode": ("latent", "IMAGE", "samples:LATENT vae:VAE"),
    "VAEDecodeAudio": ("latent/audio", "AUDIO", "samples:LATENT vae:VAE"),
    "SaveAudio": ("audio", "", "audio:AUDIO filename_prefix:STRING"),
    "SaveAudioMP3": ("audio", "", "audio:AUDIO filename_prefix:STRING quality:STRING"),
    "SaveWEBM": ("image/video", "", "images:IMAGE filename_prefix:STRING codec:STRING fps:FLOAT crf:FLOAT"),
    "VHS_VideoCombine": ("Video Helper Suite", "", "images:IMAGE filename_prefix:STRING frame_rate:FLOAT"),
}
COMBOS = {"SAMPLER_NAME": ["euler", "dpmpp_2m", "dpmpp_3m_sde"],
          "SCHEDULER_NAME": ["normal", "karras", "exponential", "sgm_uniform", "simple"]}
DEFAULTS = {"INT": 0, "FLOAT": 1.0, "STRING": "", "BOOLEAN": False}
# binary preview frame: event 1 (PREVIEW_IMAGE), image type 2 (PNG), then the image bytes
PREVIEW = struct.pack(">II", 1, 2) + b"\x89PNG\r\n\x1a\n" + bytes(32)


@dataclass
class Recorded:
    """One request the fake received."""

    method: str
    path: str
    query: dict[str, str]
    body: Any


def _catalogue(models: list[str], combo_style: str) -> dict[str, dict[str, Any]]:
    """Build /object_info: every node class, its loaders offering `models`, in either combo format."""
    def spec(kind: str) -> list[Any]:
        values = models if kind == "MODEL_FILE" else COMBOS.get(kind)
        if values is not None:
            return ["COMBO", {"options": values}] if combo_style == "combo" else [values, {}]
        return [kind, {"default": DEFAULTS[kind]}] if kind in DEFAULTS else [kind]

    catalogue = {}
    for name, (category, outputs, inputs) in NODES.items():
        outs = outputs.split()
        required = {input_name: spec(kind) for input_name, kind in (item.split(":") for item in inputs.split())}
        catalogue[name] = {"input": {"required": required, "optional": {}}, "input_order": {"required": list(required)},
                           "output": outs, "output_is_list": [False] * len(outs), "output_name": outs, "name": name,
                           "display_name": name, "description": "", "python_module": "nodes", "category": category,
                           "output_node": name in SAVERS, "deprecated": False, "experimental": False}
    return catalogue


def _is_link(value: Any) -> bool:
    return isinstance(value, list) and len(value) == 2 and isinstance(value[0], str)


def _order(graph: dict[str, Any]) -> list[str]:
    """Return node ids so that every node comes after the nodes it links from."""
    done: list[str] = []

    def visit(node_id: str) -> None:
        if node_id in done or node_id not in graph:
            return
        for value in graph[node_id].get("inputs", {}).values():
            if _is_link(value):
                visit(value[0])
        done.append(node_id)

    for node_id in graph:
        visit(node_id)
    return done


def _png(graph: dict[str, Any], seed_bytes: bytes) -> bytes:
    sizes = [n["inputs"] for n in graph.values() if isinstance(n.get("inputs", {}).get("width"), int)]
    width = min(max(sizes[0]["width"], 8), 128) if sizes else 64
    height = min(max(sizes[0].get("height", width), 8), 128) if sizes else 64
    info = PngInfo()
    info.add_text("prompt", json.dumps(graph))  # as ComfyUI's SaveImage does
    out = io.BytesIO()
    Image.new("RGB", (width, height), tuple(seed_bytes[:3])).save(out, format="PNG", pnginfo=info)
    return out.getvalue()


def _wav(seed_bytes: bytes) -> bytes:
    out = io.BytesIO()
    with wave.open(out, "wb") as wav:
        wav.setnchannels(1), wav.setsampwidth(2), wav.setframerate(8000)
        wav.writeframes(seed_bytes * 25)
    return out.getvalue()


def _webm(seed_bytes: bytes) -> bytes:
    body = bytes.fromhex("4286810142f7810142f2810442f381084282847765626d4287810242858102")
    void = b"\xec" + bytes([0x80 | len(seed_bytes)]) + seed_bytes
    return b"\x1a\x45\xdf\xa3" + bytes([0x80 | len(body)]) + body + bytes.fromhex("1853806701ffffffffffffff") + void


def _mp4(seed_bytes: bytes) -> bytes:
    ftyp = b"ftyp" + b"isom" + struct.pack(">I", 512) + b"isomiso2mp41"
    return struct.pack(">I", 4 + len(ftyp)) + ftyp + struct.pack(">I", 8 + len(seed_bytes)) + b"free" + seed_bytes


def _mp3(seed_bytes: bytes) -> bytes:
    # an empty ID3v2 tag, then 40 MPEG-1 Layer III frames (128 kbit/s, 44.1 kHz: 417 bytes each, ~1 s):
    # browsers refuse to open a file of a single frame, so a playable fake needs a few
    first = b"\xff\xfb\x90\x64" + seed_bytes + bytes(417 - 4 - len(seed_bytes))
    silent = b"\xff\xfb\x90\x64" + bytes(417 - 4)
    return b"ID3\x04\x00\x00\x00\x00\x00\x00" + first + silent * 39


MAKERS: dict[str, Callable[[dict[str, Any], bytes], bytes]] = {
    "png": _png, "wav": lambda g, s: _wav(s), "mp3": lambda g, s: _mp3(s), "webm": lambda g, s: _webm(s),
    "mp4": lambda g, s: _mp4(s)}


class _Socket:
    """One accepted websocket, written by the worker and read by its HTTP handler thread."""

    def __init__(self, sock: socket.socket, protocol: ServerProtocol) -> None:
        self.sock, self.protocol = sock, protocol
        self.lock = threading.Lock()
        self.open = True

    def send(self, frame: dict[str, Any] | bytes) -> None:
        with self.lock:
            if self.open:
                if isinstance(frame, bytes):
                    self.protocol.send_binary(frame)
                else:
                    self.protocol.send_text(json.dumps(frame).encode())
                self._flush()

    def drop(self) -> None:
        """Cut the TCP connection without a close frame, as a crashed proxy or server would."""
        with self.lock:
            self.open = False
            try:
                self.sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def _flush(self) -> None:
        try:
            for data in self.protocol.data_to_send():
                if data:
                    self.sock.sendall(data)
                else:
                    self.sock.shutdown(socket.SHUT_WR)
        except OSError:
            self.open = False

    def serve(self, stopping: threading.Event) -> None:
        """Read client frames (pings, close) until the connection ends."""
        self.sock.settimeout(0.1)
        while self.open and not stopping.is_set():
            try:
                data = self.sock.recv(65536)
            except TimeoutError:
                continue
            except OSError:
                break
            with self.lock:
                if data:
                    self.protocol.receive_data(data)
                else:
                    self.protocol.receive_eof()
                self.protocol.events_received()  # pongs and close replies are queued by the protocol itself
                self._flush()
                if not data or self.protocol.close_expected():
                    self.open = False
        with self.lock:
            if stopping.is_set() and self.open:
                self.protocol.send_close(1001)
                self._flush()
            self.open = False


class FakeComfyUI:
    """A ComfyUI server on 127.0.0.1 with switchable failure modes; use as a context manager."""

    def __init__(self, *, models: tuple[str, ...] = ("sd15.safetensors",), steps: int = 5,
                 frame_delay: float = 0.0, combo_style: str = "list", version: str = "0.3.64") -> None:
        self.models, self.combo_style = list(models), combo_style
        self.catalogue = _catalogue(self.models, combo_style)
        self.steps, self.frame_delay, self.version = steps, frame_delay, version
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
        # observable state
        self.requests: list[Recorded] = []
        self.history: dict[str, dict[str, Any]] = {}
        self.files: dict[tuple[str, str, str], bytes] = {}  # (type, subfolder, filename) → bytes
        self._pending: list[list[Any]] = []
        self._sent: dict[str, int] = {}  # prompt_id → frames sent to its client so far
        self._running: list[Any] | None = None
        self._sockets: dict[str, _Socket] = {}
        self._lock = threading.Condition()
        self._interrupt = threading.Event()
        self._stopping = threading.Event()
        self._number = 0
        self._counter = 0
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._httpd.daemon_threads = True
        self._threads = [threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                          daemon=True), threading.Thread(target=self._work, daemon=True)]

    # -- lifecycle ----------------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    def __enter__(self) -> "FakeComfyUI":
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stopping.set()
        with self._lock:
            self._lock.notify_all()
        self._httpd.shutdown()
        self._httpd.server_close()
        for thread in self._threads:
            thread.join(timeout=5)

    @staticmethod
    def refused_url() -> str:
        """Return the URL of a loopback port that nothing listens on."""
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        return f"http://127.0.0.1:{port}"

    def restart(self) -> None:
        """Forget the queue and history and drop every socket, as a restarted ComfyUI does."""
        with self._lock:
            self._pending.clear()
            self.history.clear()
            sockets = list(self._sockets.values())
            self._sockets.clear()
        for sock in sockets:
            sock.drop()

    def install_models(self, *names: str) -> None:
        """Put more model files into the loaders' lists, as copying them into models/ does."""
        with self._lock:
            self.models.extend(names)
            self.catalogue = _catalogue(self.models, self.combo_style)

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
        parts = urlsplit(handler.path)
        path = parts.path.removeprefix("/api") if parts.path.startswith("/api/") else parts.path
        query = {k: v[0] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        length = int(handler.headers.get("Content-Length") or 0)
        raw = handler.rfile.read(length) if length else b""
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        with self._lock:
            self.requests.append(Recorded(method, path, query, body))
        if method == "GET" and path == "/ws":
            self._websocket(handler, query.get("clientId") or uuid.uuid4().hex)
            return
        status, payload, ctype = self._route(method, path, query, body)
        data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        handler.send_response(status)
        handler.send_header("Content-Type", ctype)
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        handler.wfile.write(data)

    def _route(self, method: str, path: str, query: dict[str, str], body: Any) -> tuple[int, Any, str]:
        js = "application/json"
        with self._lock:
            if (method, path) == ("POST", "/prompt"):
                return (*self._submit(body if isinstance(body, dict) else {}), js)
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
                if self._running and target in (None, self._running[1]):
                    self._interrupt.set()
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
        name, sub = query.get("filename", ""), query.get("subfolder", "")
        if not name or name.startswith("/") or ".." in name:
            return 400, b"", "text/plain"
        if ".." in sub or sub.startswith("/"):
            return 403, b"", "text/plain"
        data = self.files.get((query.get("type", "output"), sub, name))
        if data is None:
            return 404, b"", "text/plain"
        ctype = {"png": "image/png", "wav": "audio/wav", "mp3": "audio/mpeg", "webm": "video/webm", "mp4": "video/mp4"}
        return 200, data, ctype.get(name.rsplit(".", 1)[-1], "application/octet-stream")

    def _submit(self, body: dict[str, Any]) -> tuple[int, Any]:
        """Validate and queue a prompt the way ComfyUI's POST /prompt does (caller holds the lock)."""
        if self.prompt_status:
            return self.prompt_status, f"{self.prompt_status}: Server Error".encode()
        graph = body.get("prompt")
        if self.reject_prompt_id and "prompt_id" in body:
            return 400, {"error": {"type": "invalid_prompt", "message": "prompt_id is not accepted by this server",
                                   "details": "", "extra_info": {}}, "node_errors": {}}
        if not isinstance(graph, dict):
            return 400, {"error": {"type": "invalid_prompt", "message": "Invalid prompt", "details": "",
                                   "extra_info": {}}, "node_errors": {}}
        for node_id, node in graph.items():
            if node.get("class_type") not in self.catalogue:
                return 400, {"error": {"type": "invalid_prompt", "message": f"Cannot execute because node "
                                       f"{node.get('class_type')} does not exist.", "details": f"Node ID '#{node_id}'",
                                       "extra_info": {}}, "node_errors": {}}
        outputs = [nid for nid, n in graph.items() if self.catalogue[n["class_type"]]["output_node"]]
        if not outputs:
            return 400, {"error": {"type": "prompt_no_outputs", "message": "Prompt has no outputs", "details": "",
                                   "extra_info": {}}, "node_errors": {}}
        node_errors = self._combo_errors(graph, outputs)
        if node_errors:
            return 400, {"error": {"type": "prompt_outputs_failed_validation", "message":
                                   "Prompt outputs failed validation", "details": "", "extra_info": {}},
                         "node_errors": node_errors}
        own = body.get("prompt_id")
        prompt_id = str(own) if own and not self.ignore_prompt_id else str(uuid.uuid4())
        number, self._number = self._number, self._number + 1
        extra = {"client_id": body.get("client_id")}
        self._pending.append([number, prompt_id, graph, extra, outputs])
        self._lock.notify_all()
        for _ in range(2):  # the transcript shows two status frames right after the submit
            self._broadcast({"type": "status", "data": {"status": {"exec_info": {"queue_remaining":
                                                                                 len(self._pending)}}}})
        return 200, {"prompt_id": prompt_id, "number": number, "node_errors": {}}

    def _combo_errors(self, graph: dict[str, Any], outputs: list[str]) -> dict[str, Any]:
        errors: dict[str, Any] = {}
        for node_id, node in graph.items():
            required = self.catalogue[node["class_type"]]["input"]["required"]
            for name, value in node.get("inputs", {}).items():
                spec = required.get(name)
                allowed = spec[0] if spec and isinstance(spec[0], list) else (
                    spec[1]["options"] if spec and spec[0] == "COMBO" else None)
                if allowed is not None and not _is_link(value) and value not in allowed:
                    errors[node_id] = {"errors": [{"type": "value_not_in_list", "message": "Value not in list",
                                                   "details": f"{name}: '{value}' not in {allowed}",
                                                   "extra_info": {"input_name": name}}],
                                       "dependent_outputs": outputs, "class_type": node["class_type"]}
        return errors

    # -- websocket -------------------------------------------------------------------------------------------

    def _websocket(self, handler: BaseHTTPRequestHandler, client_id: str) -> None:
        protocol = ServerProtocol(max_size=2**20)
        raw = f"{handler.requestline}\r\n" + "".join(f"{k}: {v}\r\n" for k, v in handler.headers.items()) + "\r\n"
        protocol.receive_data(raw.encode("latin-1"))
        request = protocol.events_received()[0]
        response = protocol.accept(request)
        protocol.send_response(response)
        sock = _Socket(handler.connection, protocol)
        sock._flush()
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

    # -- the worker ---------------------------------------------------------------------------------------

    def _work(self) -> None:
        while not self._stopping.is_set():
            with self._lock:
                while not self._stopping.is_set() and (self.paused or not self._pending):
                    self._lock.wait(0.05)
                if self._stopping.is_set():
                    return
                self._pending.sort(key=lambda item: item[0])
                item = self._running = self._pending.pop(0)
                self._interrupt.clear()
            entry = self._execute(item)
            with self._lock:
                self.history[item[1]] = entry
                self._running = None
                self._broadcast({"type": "status", "data": {"status": {"exec_info": {
                    "queue_remaining": len(self._pending)}}}})
            self._to_client(item, {"type": "executing", "data": {"node": None, "prompt_id": item[1]}})

    def _execute(self, item: list[Any]) -> dict[str, Any]:
        number, pid, graph, extra, outputs = item
        messages: list[list[Any]] = []
        entry = {"prompt": [number, pid, graph, extra, outputs], "outputs": {}, "meta": {},
                 "status": {"status_str": "success", "completed": True, "messages": messages}}

        def stamp() -> int:
            return int(time.time() * 1000)  # ms since epoch, as ComfyUI sends them

        def emit(kind: str, data: dict[str, Any], record: bool = False) -> None:
            data = {**data, "prompt_id": pid}
            if record:
                messages.append([kind, data])
            # ComfyUI broadcasts interruptions to every client; everything else goes to the submitter
            self._to_client(item, {"type": kind, "data": data}, broadcast=kind == "execution_interrupted")

        def fail(kind: str, data: dict[str, Any]) -> dict[str, Any]:
            emit(kind, data, record=True)
            entry["status"].update(status_str="error", completed=False)
            return entry

        def stopped() -> bool:
            return self.honour_interrupt and self._interrupt.is_set()

        emit("execution_start", {"timestamp": stamp()}, record=True)
        emit("execution_cached", {"nodes": [], "timestamp": stamp()}, record=True)
        executed: list[str] = []
        order = _order(graph)
        # A hanging prompt stalls in its sampler after the steps (or in its first node if it has none).
        stall_at = next((nid for nid in order if graph[nid]["class_type"] in SAMPLERS), order[0])
        for node_id in order:
            node = graph[node_id]
            emit("progress_state", {"nodes": {node_id: {"value": 0.0, "max": 1.0, "state": "running",
                                                        "node_id": node_id, "prompt_id": pid}}})
            emit("executing", {"node": node_id, "display_node": node_id})
            if node["class_type"] in SAMPLERS:
                total = node["inputs"].get("steps")
                total = total if isinstance(total, int) else self.steps
                for step in range(1, total + 1):
                    if stopped():
                        break
                    emit("progress", {"value": step, "max": total, "node": node_id})
                    self._to_client(item, PREVIEW)  # a latent preview, as with --preview-method auto
            while self.hang and node_id == stall_at and not self._stopping.is_set() and not stopped():
                time.sleep(0.02)
            if stopped():
                return fail("execution_interrupted", {"node_id": node_id, "node_type": node["class_type"],
                                                      "executed": executed})
            if node_id == self.fail_node:
                return fail("execution_error", {
                    "node_id": node_id, "node_type": node["class_type"], "executed": executed,
                    "exception_message": "Fake failure in this node.", "exception_type": "RuntimeError",
                    "traceback": ["Traceback (most recent call last):\n", "RuntimeError: Fake failure\n"],
                    "current_inputs": {}, "current_outputs": {}})
            if node["class_type"] in SAVERS:
                entry["outputs"][node_id] = self._save(node, graph, pid)
                emit("executed", {"node": node_id, "display_node": node_id, "output": entry["outputs"][node_id]})
            entry["meta"][node_id] = {"node_id": node_id, "display_node": node_id, "parent_node": None,
                                      "real_node_id": node_id}
            executed.append(node_id)
            emit("progress_state", {"nodes": {node_id: {"value": 1.0, "max": 1.0, "state": "finished",
                                                        "node_id": node_id, "prompt_id": pid}}})
        emit("execution_success", {"timestamp": stamp()}, record=True)
        return entry

    def _save(self, node: dict[str, Any], graph: dict[str, Any], prompt_id: str) -> dict[str, Any]:
        key, ext, extra = SAVERS[node["class_type"]]
        with self._lock:
            self._counter += 1
            counter = self._counter
        # like ComfyUI's save path: "devserver/flux" → subfolder "devserver", file "flux_00001_.png"
        subfolder, _, prefix = str(node["inputs"].get("filename_prefix") or "ComfyUI").rpartition("/")
        ftype = "temp" if node["class_type"] == "PreviewImage" else "output"
        name = f"{prefix}_{counter:05d}_.{ext}"
        seed_bytes = hashlib.sha256(f"{prompt_id}:{json.dumps(graph, sort_keys=True)}".encode()).digest()
        self.files[(ftype, subfolder, name)] = MAKERS[ext](graph, seed_bytes)
        return {key: [{"filename": name, "subfolder": subfolder, "type": ftype}], **extra}

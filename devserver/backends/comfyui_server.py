"""One ComfyUI server: its HTTP routes and websocket, every call bounded by the job's deadline.

A frozen ComfyUI (process stopped) still accepts connections and answers nothing, so a call with
only its own timeout would outlive the job; here each call waits at most until the job's deadline
(or `http_timeout`, whichever comes first). `/object_info` and `/system_stats` change rarely and
are cached for `cache_seconds`. When a graph seems to lack a node type or model, `/object_info` is
fetched again (someone may have installed it since), but at most once per `recheck_seconds`: it is
about 500 KB and takes half a second on a real server, and listing the outputs checks every chunk.
"""
from __future__ import annotations

import logging
import time
from pathlib import PurePosixPath
from typing import Any, Mapping
from urllib.parse import urlencode

import httpx
from websockets.exceptions import ConnectionClosed, InvalidHandshake
from websockets.sync.client import ClientConnection, connect as ws_connect

from devserver.backends.base import Health, MediaFile
from devserver.backends.comfyui_progress import queue_position
from devserver.backends.comfyui_workflow import (missing_models, missing_nodes, node_errors, rejection_text,
                                                 uploaded_ref)
from devserver.backends.download import fetch_media
from devserver.errors import BackendBadResponse, BackendError, BackendMisconfigured, BackendTimeout, BackendUnavailable

log = logging.getLogger(__name__)

WS_MAX_FRAME = 32 * 2**20  # latent previews arrive as binary frames; large ones must not kill the socket
WS_OPEN_SECONDS = 10.0
HEALTH_SECONDS = 5.0
STOP_SECONDS = 1.0  # how long interrupting or dequeuing a prompt may take once its job is over
UPLOAD_SUBFOLDER = "devserver"  # our images in ComfyUI's input folder, apart from what people put there


class ComfyUIServer:
    """HTTP and websocket access to one ComfyUI instance."""

    def __init__(self, url: str, *, backend: str, http_timeout: float = 30.0, cache_seconds: float = 60.0,
                 recheck_seconds: float = 2.0) -> None:
        self.url = url.strip().rstrip("/")
        self.backend = backend
        self.http_timeout = http_timeout
        self.cache_seconds = cache_seconds
        self.recheck_seconds = recheck_seconds
        # ComfyUI lives on the local network: talk to it directly, never through an environment proxy.
        self._http = httpx.Client(base_url=self.url, timeout=http_timeout, trust_env=False)
        self._cache: dict[str, tuple[float, Any]] = {}

    def close(self) -> None:
        self._http.close()

    def soon(self, seconds: float | None = None) -> float:
        """Return a deadline for a call that belongs to no job (health, availability)."""
        return time.monotonic() + (seconds or self.http_timeout)

    # -- documents -----------------------------------------------------------------------------------

    def health(self) -> Health:
        """Report this server's version and devices from `/system_stats`."""
        started = time.perf_counter()
        try:
            stats = self.get_json("/system_stats", self.soon(HEALTH_SECONDS))
        except BackendUnavailable as exc:
            return Health("unreachable", exc.message)
        except BackendTimeout as exc:
            return Health("unreachable", exc.message)
        except BackendError as exc:
            return Health("error", exc.message)
        self._cache["/system_stats"] = (time.monotonic(), stats)
        devices = ", ".join(f"{d.get('name', '?')} ({(d.get('vram_total') or 0) / 2**30:.1f} GB VRAM)"
                            for d in stats.get("devices") or [] if isinstance(d, Mapping))
        return Health("ok", devices or "no devices reported", version=version_of(stats),
                      latency_ms=(time.perf_counter() - started) * 1000)

    def cached(self, path: str, deadline: float, max_age: float | None = None) -> dict[str, Any]:
        """GET a slow-changing document (object_info, system_stats), reusing it for `cache_seconds` (or `max_age`)."""
        hit = self._cache.get(path)
        if hit and time.monotonic() - hit[0] < (self.cache_seconds if max_age is None else max_age):
            return hit[1]
        data = self.get_json(path, deadline)
        self._cache[path] = (time.monotonic(), data)
        return data

    def lacks(self, graph: Mapping[str, Any], required: tuple[str, ...], deadline: float) -> dict[str, list[str]]:
        """Return the node types and model files the graph needs that this server lacks."""
        info = self.cached("/object_info", deadline)
        if missing_nodes(graph, info) or missing_models(graph, info, required):
            info = self.cached("/object_info", deadline, max_age=self.recheck_seconds)  # installed since?
        return {k: v for k, v in (("nodes", missing_nodes(graph, info)),
                                  ("models", missing_models(graph, info, required))) if v}

    def check_installed(self, graph: Mapping[str, Any], required: tuple[str, ...], deadline: float) -> None:
        """Raise a configuration error when the graph needs node types or models this server lacks."""
        lacking = self.lacks(graph, required, deadline)
        if lacking.get("nodes"):
            nodes = lacking["nodes"]
            raise BackendMisconfigured(f"ComfyUI at {self.url} lacks the node type(s) {', '.join(nodes)}: install the "
                                       "custom nodes.", backend=self.backend, code="comfyui_missing_node",
                                       details={"nodes": nodes})
        if lacking.get("models"):
            models = lacking["models"]
            raise BackendMisconfigured(f"ComfyUI at {self.url} lacks the model file(s) {', '.join(models)}: put them "
                                       "into its models folder.", backend=self.backend, code="comfyui_missing_model",
                                       details={"models": models})

    # -- one prompt ----------------------------------------------------------------------------------

    def open_socket(self, client_id: str, deadline: float) -> ClientConnection | None:
        """Open `/ws?clientId=` before submitting; None when only polling is possible."""
        ws_url = "ws" + self.url.removeprefix("http") + f"/ws?clientId={client_id}"
        wait = min(WS_OPEN_SECONDS, deadline - time.monotonic())
        if wait <= 0:
            raise self._late()
        try:
            # no flow control: once we stop reading (the attempt ended), a full buffer would stall the
            # close handshake until close_timeout; the frames of one prompt are few
            socket = ws_connect(ws_url, open_timeout=wait, proxy=None, max_size=WS_MAX_FRAME, max_queue=None,
                                close_timeout=STOP_SECONDS, legacy=True)
        except ConnectionRefusedError as exc:
            raise BackendUnavailable(f"ComfyUI at {self.url} refused the connection.", backend=self.backend,
                                     code="backend_unreachable", retryable=True) from exc
        except (OSError, InvalidHandshake, TimeoutError) as exc:
            # The HTTP API may still work without live progress: /history polling carries the job.
            log.warning("ComfyUI websocket unavailable (%s); following the job by polling", exc)
            return None
        try:
            # The server files the socket under our client id only after the handshake and then greets
            # with `status`; a prompt submitted before that greeting loses its first frames.
            socket.recv(timeout=max(0.0, min(WS_OPEN_SECONDS, deadline - time.monotonic())))
        except TimeoutError:
            log.warning("ComfyUI sent no greeting on its websocket; its first frames may be missed")
        except ConnectionClosed:
            return None
        return socket

    def submit(self, graph: dict[str, Any], client_id: str, prompt_id: str, deadline: float) -> str:
        """POST the graph with our prompt id; return the id the server will report it under."""
        body: dict[str, Any] = {"prompt": graph, "client_id": client_id, "prompt_id": prompt_id}
        response = self.request("POST", "/prompt", deadline, json=body)
        answer = _body(response)
        if response.status_code == 400 and "prompt_id" in rejection_text(answer) and not node_errors(answer):
            # This server refuses client-chosen ids: let it choose one, then follow the id it returns.
            del body["prompt_id"]
            response = self.request("POST", "/prompt", deadline, json=body)
            answer = _body(response)
        if response.status_code == 400:
            # a missing node class, a model file not in a loader's list, a value out of range: our setup
            said = rejection_text(answer) or response.text[:300]
            raise BackendMisconfigured(f"ComfyUI rejected the workflow: {said}", backend=self.backend,
                                       code="comfyui_invalid_workflow",
                                       details={"node_errors": node_errors(answer), "error": answer.get("error")})
        returned = self.json(response, "/prompt").get("prompt_id")
        if not isinstance(returned, str) or not returned:
            raise BackendBadResponse("ComfyUI accepted the prompt but returned no prompt_id.", backend=self.backend)
        return returned

    def upload(self, image: MediaFile, name: str, deadline: float) -> str:
        """Store an input image with `POST /upload/image`; return the name a LoadImage node opens it by.

        `overwrite` keeps the name stable: without it the server would store a retry's copy of a
        changed file as "name (1).png". The server's answer, not our request, says where it went.
        """
        form = {"type": "input", "subfolder": UPLOAD_SUBFOLDER, "overwrite": "true"}
        response = self.request("POST", "/upload/image", deadline, data=form,
                                files={"image": (name, image.data, image.mime)})
        answer = self.json(response, "/upload/image")
        try:
            return uploaded_ref(answer)
        except ValueError:
            raise BackendBadResponse("ComfyUI stored the input image but did not say under which name.",
                                     backend=self.backend, retryable=True,
                                     details={"answer": str(answer)[:300]}) from None

    def position(self, prompt_id: str, deadline: float) -> int | None:
        """Return the prompt's place in ComfyUI's queue (0 = running, None = not queued)."""
        return queue_position(self.get_json("/queue", deadline), prompt_id)

    def history(self, prompt_id: str, deadline: float) -> dict[str, Any] | None:
        """Return this prompt's history entry (only this id's: never an earlier attempt's)."""
        entry = self.get_json(f"/history/{prompt_id}", deadline).get(prompt_id)
        return entry if isinstance(entry, dict) else None

    def stop(self, prompt_id: str) -> None:
        """Take the prompt off the queue, or interrupt it if it is running (best effort, briefly)."""
        deadline = time.monotonic() + STOP_SECONDS
        try:
            position = self.position(prompt_id, deadline)
            if position == 0:
                # Older servers ignore the body and interrupt whatever runs, so only interrupt our own.
                self.request("POST", "/interrupt", deadline, json={"prompt_id": prompt_id})
            elif position is not None:
                self.request("POST", "/queue", deadline, json={"delete": [prompt_id]})
        except BackendError as exc:
            log.warning("could not stop ComfyUI prompt %s: %s", prompt_id, exc.message)

    def download(self, ref: dict[str, str], max_bytes: int, deadline: float) -> MediaFile:
        """Fetch one output file via /view (size limit, magic-byte check, retries of transient failures)."""
        return fetch_media(f"{self.url}/view?{urlencode(ref)}", max_bytes, self._http,
                           stem=PurePosixPath(ref["filename"]).stem, backend=self.backend, deadline=deadline)

    def free(self) -> None:
        """Ask ComfyUI to unload its models and free VRAM (it only sets a flag, so it answers at once)."""
        self.json(self.request("POST", "/free", self.soon(STOP_SECONDS),
                               json={"unload_models": True, "free_memory": True}), "/free")

    # -- HTTP ----------------------------------------------------------------------------------------

    def request(self, method: str, path: str, deadline: float, **kwargs: Any) -> httpx.Response:
        """Send one request that gives up at the deadline, whatever the server does."""
        left = deadline - time.monotonic()
        if left <= 0:
            raise self._late()
        try:
            return self._http.request(method, path, timeout=min(self.http_timeout, left), **kwargs)
        except httpx.HTTPError as exc:
            raise self._transport_error(exc) from exc

    def get_json(self, path: str, deadline: float) -> dict[str, Any]:
        return self.json(self.request("GET", path, deadline), path)

    def json(self, response: httpx.Response, what: str) -> dict[str, Any]:
        """Return a 200 answer's JSON object, or raise the typed error."""
        if response.status_code != 200:
            raise BackendBadResponse(f"ComfyUI {what} answered HTTP {response.status_code}.", backend=self.backend,
                                     code="comfyui_server_error", retryable=response.status_code >= 500,
                                     details={"status": response.status_code, "body": response.text[:500]})
        data = _body(response)
        if not data and response.content.strip() not in (b"{}", b""):
            raise BackendBadResponse(f"ComfyUI {what} did not answer with a JSON object.", backend=self.backend,
                                     retryable=True, code="malformed_json")
        return data

    def _late(self) -> BackendTimeout:
        return BackendTimeout(f"ComfyUI at {self.url} did not finish within the job's time limit.",
                              backend=self.backend, retryable=True)

    def _transport_error(self, exc: httpx.HTTPError) -> BackendError:
        if isinstance(exc, httpx.ConnectError):
            return BackendUnavailable(f"ComfyUI at {self.url} is not reachable ({exc}).", backend=self.backend,
                                      code="backend_unreachable", retryable=True)
        if isinstance(exc, httpx.TimeoutException):
            return BackendTimeout(f"ComfyUI at {self.url} did not answer in time.", backend=self.backend,
                                  retryable=True)
        return BackendBadResponse(f"ComfyUI connection failed: {exc}", backend=self.backend, retryable=True)


def version_of(stats: Mapping[str, Any]) -> str | None:
    """Return `system.comfyui_version` of a `/system_stats` answer."""
    system = stats.get("system")
    return str(system["comfyui_version"]) if isinstance(system, Mapping) and system.get("comfyui_version") else None


def _body(response: httpx.Response) -> dict[str, Any]:
    try:
        data = response.json()
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}

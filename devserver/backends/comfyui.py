"""ComfyUI backend: submit an API graph, follow it live, confirm it via `/history`, download its files.

One job: inject the request's values into a copy of the chunk's workflow; check node classes and
required models against `/object_info`; open the websocket `/ws?clientId=` (a fresh client id per
job, so the server scopes its messages to us) *before* `POST /prompt` with our own `prompt_id`;
turn `progress` frames into `on_progress`. The socket is only a live enhancement: it is known to go
quiet or drop, so whenever nothing about our prompt arrived for `quiet_seconds` (or the socket is
gone) we ask `/queue` and then `/history/<prompt_id>`, which is the authority. A job that is in
neither was lost (ComfyUI restarted). Outputs are taken from exactly this prompt's history entry
and fetched with `/view`, never "the newest file in the folder".
"""
from __future__ import annotations

import logging
import time
import uuid
from pathlib import PurePosixPath
from typing import Any, Mapping
from urllib.parse import urlencode

import httpx
from websockets.exceptions import ConnectionClosed, InvalidHandshake
from websockets.sync.client import ClientConnection, connect as ws_connect

from devserver.backends.base import (CancelToken, Health, MediaBackend, MediaFile, MediaRequest, MediaResult,
                                     Progress, ProgressCallback)
from devserver.backends.comfyui_workflow import (Tracker, history_outcome, inject, mapped_value, missing_models,
                                                 missing_nodes, node_errors, offered_anywhere, output_files,
                                                 queue_position, rejection_text, unmapped)
from devserver.backends.download import fetch_media
from devserver.errors import (BackendBadResponse, BackendError, BackendTimeout, BackendUnavailable,
                              ConfigError)

log = logging.getLogger(__name__)

TICK_SECONDS = 0.2  # longest wait on the socket before cancellation and the deadline are checked again
WS_MAX_FRAME = 32 * 2**20  # latent previews arrive as binary frames; large ones must not kill the socket


class ComfyUIBackend(MediaBackend):
    """A ComfyUI server reached over HTTP and its websocket."""

    backend_id = "comfyui"
    display_name = "ComfyUI"
    capabilities = frozenset({"image", "audio", "music", "video"})
    default_concurrency = 1  # one GPU runs one ComfyUI job at a time

    def __init__(self, url: str, *, timeout: float = 600.0, free_after_job: bool = False,
                 max_bytes: int = 200_000_000, quiet_seconds: float = 10.0, poll_seconds: float = 1.0,
                 http_timeout: float = 30.0, cache_seconds: float = 60.0) -> None:
        self.url = url.strip().rstrip("/")
        self.timeout = timeout
        self.free_after_job = free_after_job
        self.max_bytes = max_bytes
        self.quiet_seconds = quiet_seconds
        self.poll_seconds = poll_seconds
        self.cache_seconds = cache_seconds
        # ComfyUI lives on the local network: talk to it directly, never through an environment proxy.
        self._http = httpx.Client(base_url=self.url, timeout=http_timeout, trust_env=False) if self.url else None
        self._cache: dict[str, tuple[float, Any]] = {}

    @classmethod
    def from_config(cls, config: Any) -> "ComfyUIBackend":
        return cls(config.COMFYUI_URL, timeout=config.COMFYUI_TIMEOUT, free_after_job=config.COMFYUI_FREE_AFTER_JOB,
                   max_bytes=config.MEDIA_MAX_BYTES)

    # -- identity and housekeeping ------------------------------------------------------------------

    def health(self) -> Health:
        """Report ComfyUI's version and devices from `/system_stats`."""
        if not self._http:
            return Health("not_configured", "set COMFYUI_URL in .env")
        started = time.perf_counter()
        try:
            stats = self._get_json("/system_stats", timeout=5.0)
        except BackendUnavailable as exc:
            return Health("unreachable", exc.message)
        except BackendError as exc:
            return Health("error", exc.message)
        devices = ", ".join(f"{d.get('name', '?')} ({(d.get('vram_total') or 0) / 2**30:.1f} GB VRAM)"
                            for d in stats.get("devices") or [] if isinstance(d, Mapping))
        return Health("ok", devices or "no devices reported", version=_version(stats),
                      latency_ms=(time.perf_counter() - started) * 1000)

    def has_model(self, model: str) -> bool | None:
        """Tell whether any loader node offers this model file (None when ComfyUI cannot be asked)."""
        if not self._http:
            return None
        try:
            return offered_anywhere(self._cached("/object_info"), model)
        except BackendError:
            return None

    def free(self) -> None:
        """Ask ComfyUI to unload its models and free VRAM (nothing to do when it is not configured)."""
        if self._http:
            self._json(self._request("POST", "/free", json={"unload_models": True, "free_memory": True}), "/free")

    def close(self) -> None:
        if self._http:
            self._http.close()

    # -- one job -----------------------------------------------------------------------------------------

    def generate(self, request: MediaRequest, on_progress: ProgressCallback | None = None,
                 cancel: CancelToken | None = None) -> MediaResult:
        """Run the chunk's workflow with the request's values and return exactly its output files."""
        if not self._http:
            raise BackendUnavailable("ComfyUI is not configured: set COMFYUI_URL in .env", backend=self.backend_id,
                                     code="backend_not_configured")
        chunk = request.chunk
        if chunk is None or not chunk.workflow or not chunk.output_node:
            raise ConfigError("a ComfyUI output chunk needs a workflow and an output_node")
        started = time.perf_counter()
        values = request.values()
        graph = inject(chunk.workflow, chunk.input_mappings, values)
        self._check_installed(graph, chunk.required_models)
        version = _version(self._cached("/system_stats"))
        client_id = str(uuid.uuid4())
        try:
            prompt_id, entry = self._run(graph, client_id, request.job_id, on_progress or (lambda _p: None),
                                         cancel or CancelToken())
            outputs = (entry.get("outputs") or {}).get(chunk.output_node) or {}
            files = [self._download(ref) for ref in output_files(outputs)]
        finally:
            if self.free_after_job:
                self._free_quietly()
        if not files:
            raise BackendBadResponse(f"ComfyUI finished prompt {prompt_id} but node {chunk.output_node} saved no file.",
                                     backend=self.backend_id, code="comfyui_no_output")
        parameters: dict[str, Any] = {"workflow": graph, "seed": mapped_value(graph, chunk.input_mappings, "seed"),
                                      "client_id": client_id}
        if unmapped(chunk.input_mappings, values):
            parameters["not_sent"] = unmapped(chunk.input_mappings, values)  # the workflow has no input for them
        return MediaResult(files=files, backend=self.backend_id, model_requested=chunk.model, model_used=chunk.model,
                           parameters=parameters, duration_ms=(time.perf_counter() - started) * 1000,
                           ids={"prompt_id": prompt_id, "client_id": client_id, "comfyui_version": version or ""})

    def _check_installed(self, graph: Mapping[str, Any], required: tuple[str, ...]) -> None:
        info = self._cached("/object_info")
        if missing_nodes(graph, info) or missing_models(graph, info, required):
            info = self._cached("/object_info", refresh=True)  # installed since the cached copy was taken?
        nodes = missing_nodes(graph, info)
        if nodes:
            raise BackendUnavailable(f"ComfyUI lacks the node type(s) {', '.join(nodes)}: install the custom nodes.",
                                     backend=self.backend_id, code="comfyui_missing_node", details={"nodes": nodes})
        models = missing_models(graph, info, required)
        if models:
            raise BackendUnavailable(f"ComfyUI lacks the model file(s) {', '.join(models)}: put them into its models "
                                     "folder.", backend=self.backend_id, code="comfyui_missing_model",
                                     details={"models": models})

    def _run(self, graph: dict[str, Any], client_id: str, job_id: str, on_progress: ProgressCallback,
             cancel: CancelToken) -> tuple[str, dict[str, Any]]:
        """Submit the graph with the socket already open; follow it to its confirmed end."""
        deadline = time.monotonic() + self.timeout
        socket = self._open_socket(client_id)
        try:
            if cancel.cancelled:
                raise BackendError("The job was cancelled before it reached ComfyUI.", backend=self.backend_id,
                                   code="cancelled")
            prompt_id = self._submit(graph, client_id, _own_prompt_id(job_id))
            return prompt_id, self._wait(prompt_id, socket, on_progress, cancel, deadline)
        finally:
            if socket is not None:
                socket.close()

    def _open_socket(self, client_id: str) -> ClientConnection | None:
        ws_url = "ws" + self.url.removeprefix("http") + f"/ws?clientId={client_id}"
        try:
            return ws_connect(ws_url, open_timeout=10, proxy=None, max_size=WS_MAX_FRAME, legacy=True)
        except ConnectionRefusedError as exc:
            raise BackendUnavailable(f"ComfyUI at {self.url} refused the connection.", backend=self.backend_id,
                                     code="backend_unreachable", retryable=True) from exc
        except (OSError, InvalidHandshake, TimeoutError) as exc:
            # The HTTP API still works without live progress: /history polling carries the job.
            log.warning("ComfyUI websocket unavailable (%s); following the job by polling", exc)
            return None

    def _submit(self, graph: dict[str, Any], client_id: str, prompt_id: str) -> str:
        body: dict[str, Any] = {"prompt": graph, "client_id": client_id, "prompt_id": prompt_id}
        response = self._request("POST", "/prompt", json=body)
        answer = _body(response)
        if response.status_code == 400 and "prompt_id" in rejection_text(answer) and not node_errors(answer):
            # This server refuses client-chosen ids: let it choose one, then follow the id it returns.
            del body["prompt_id"]
            response = self._request("POST", "/prompt", json=body)
            answer = _body(response)
        if response.status_code == 400:
            raise BackendError(f"ComfyUI rejected the workflow: {rejection_text(answer) or response.text[:300]}",
                               backend=self.backend_id, code="comfyui_invalid_workflow",
                               details={"node_errors": node_errors(answer), "error": answer.get("error")})
        returned = self._json(response, "/prompt").get("prompt_id")
        if not isinstance(returned, str) or not returned:
            raise BackendBadResponse("ComfyUI accepted the prompt but returned no prompt_id.", backend=self.backend_id)
        return returned

    def _wait(self, prompt_id: str, socket: ClientConnection | None, on_progress: ProgressCallback,
              cancel: CancelToken, deadline: float) -> dict[str, Any]:
        """Follow the prompt until `/history` confirms it finished; return its history entry."""
        tracker = Tracker(prompt_id, on_progress, self.backend_id)
        heard = time.monotonic()
        while True:
            if cancel.cancelled:
                self._stop(prompt_id)
                raise BackendError("The ComfyUI job was cancelled.", backend=self.backend_id, code="cancelled")
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                self._stop(prompt_id)
                raise BackendTimeout(f"ComfyUI did not finish within {self.timeout:g} s.", backend=self.backend_id)
            if socket is not None and not tracker.finished:
                try:
                    if tracker.feed(socket.recv(timeout=min(TICK_SECONDS, remaining))):
                        heard = time.monotonic()
                    if not tracker.finished:
                        continue
                except TimeoutError:
                    if time.monotonic() - heard < self.quiet_seconds:
                        continue
                except ConnectionClosed:
                    log.warning("ComfyUI websocket closed during prompt %s; polling /history", prompt_id)
                    socket = None
            entry = self._poll(prompt_id, on_progress)
            if entry is not None:
                return entry
            heard = time.monotonic()
            if socket is None or tracker.finished:
                # The socket said "done" (history is written a moment later) or is gone: poll.
                cancel.wait(min(self.poll_seconds, max(0.0, deadline - time.monotonic())))

    def _poll(self, prompt_id: str, on_progress: ProgressCallback) -> dict[str, Any] | None:
        """Return the finished history entry, None while queued or running; raise when failed or lost."""
        # /queue first, then /history: ComfyUI moves a prompt from one to the other under one lock,
        # so a prompt missing from both was lost (a restart wipes both), not just finishing.
        position = queue_position(self._get_json("/queue"), prompt_id)
        entry = self._get_json(f"/history/{prompt_id}").get(prompt_id)
        if isinstance(entry, dict):
            return history_outcome(entry, prompt_id, self.backend_id)
        if position is None:
            raise BackendUnavailable(f"ComfyUI lost prompt {prompt_id} (was it restarted?).", backend=self.backend_id,
                                     code="comfyui_job_lost", retryable=True)
        if position > 0:
            on_progress(Progress(0, 0, message=f"queued:{position - 1}"))  # how many prompts are ahead
        return None

    def _stop(self, prompt_id: str) -> None:
        """Take the prompt off the queue, or interrupt it if it is running (best effort)."""
        try:
            position = queue_position(self._get_json("/queue"), prompt_id)
            if position == 0:
                # Older servers ignore the body and interrupt whatever runs, so only interrupt our own.
                self._request("POST", "/interrupt", json={"prompt_id": prompt_id})
            elif position is not None:
                self._request("POST", "/queue", json={"delete": [prompt_id]})
        except BackendError as exc:
            log.warning("could not stop ComfyUI prompt %s: %s", prompt_id, exc.message)

    def _download(self, ref: dict[str, str]) -> MediaFile:
        """Fetch one output file via /view (size limit, magic-byte check, retries of transient failures)."""
        assert self._http is not None
        return fetch_media(f"{self.url}/view?{urlencode(ref)}", self.max_bytes, self._http,
                           stem=PurePosixPath(ref["filename"]).stem, backend=self.backend_id)

    def _free_quietly(self) -> None:
        try:
            self.free()
        except BackendError as exc:
            log.warning("ComfyUI /free failed: %s", exc.message)

    # -- HTTP ----------------------------------------------------------------------------------------------

    def _request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        assert self._http is not None
        try:
            return self._http.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise self._transport_error(exc) from exc

    def _transport_error(self, exc: httpx.HTTPError) -> BackendError:
        if isinstance(exc, httpx.ConnectError):
            return BackendUnavailable(f"ComfyUI at {self.url} is not reachable ({exc}).", backend=self.backend_id,
                                      code="backend_unreachable", retryable=True)
        if isinstance(exc, httpx.TimeoutException):
            return BackendTimeout(f"ComfyUI at {self.url} did not answer in time.", backend=self.backend_id,
                                  retryable=True)
        return BackendBadResponse(f"ComfyUI connection failed: {exc}", backend=self.backend_id, retryable=True)

    def _json(self, response: httpx.Response, what: str) -> dict[str, Any]:
        if response.status_code != 200:
            raise BackendBadResponse(f"ComfyUI {what} answered HTTP {response.status_code}.", backend=self.backend_id,
                                     code="comfyui_server_error", retryable=response.status_code >= 500,
                                     details={"status": response.status_code, "body": response.text[:500]})
        data = _body(response)
        if not data and response.content.strip() not in (b"{}", b""):
            raise BackendBadResponse(f"ComfyUI {what} did not answer with a JSON object.", backend=self.backend_id)
        return data

    def _get_json(self, path: str, **kwargs: Any) -> dict[str, Any]:
        return self._json(self._request("GET", path, **kwargs), path)

    def _cached(self, path: str, refresh: bool = False) -> dict[str, Any]:
        """GET a slow-changing document (object_info, system_stats), reusing it for `cache_seconds`."""
        hit = self._cache.get(path)
        if hit and not refresh and time.monotonic() - hit[0] < self.cache_seconds:
            return hit[1]
        data = self._get_json(path)
        self._cache[path] = (time.monotonic(), data)
        return data


def _own_prompt_id(job_id: str) -> str:
    """Use the orchestrator's job id as prompt_id when it is a UUID (so /history finds it by our id)."""
    try:
        return str(uuid.UUID(job_id))
    except ValueError:
        return str(uuid.uuid4())


def _version(stats: Mapping[str, Any]) -> str | None:
    system = stats.get("system")
    return str(system["comfyui_version"]) if isinstance(system, Mapping) and system.get("comfyui_version") else None


def _body(response: httpx.Response) -> dict[str, Any]:
    try:
        data = response.json()
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}

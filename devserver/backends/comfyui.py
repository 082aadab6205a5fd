"""ComfyUI backend: submit an API graph, follow it live, confirm it via `/history`, download its files.

One attempt of a job: inject the request's values into a copy of the chunk's workflow; pick the
least-busy healthy server (`COMFYUI_URL` may list several) that has the graph's node types and
models (`/object_info`); open the websocket `/ws?clientId=` (a fresh client id per attempt, so the
server scopes its messages to us) *before* `POST /prompt` with a prompt id derived from the job id
and the attempt number — the real server accepts a duplicate id and runs it twice, so a retry never
reuses one, and it only ever reads its own `/history/<prompt_id>`.

The socket is only a live enhancement: it is known to go quiet or drop, so whenever nothing about
our prompt arrived for `quiet_seconds` (or the socket is gone) we ask `/queue` and then
`/history/<prompt_id>`, which is the authority. A job that is in neither was lost (ComfyUI
restarted). Every wait and every HTTP call ends at the job's deadline (`MediaRequest.deadline`, set
by the router for all attempts together, else `COMFYUI_TIMEOUT` from now). Before an attempt gives
up — timeout, lost socket, cancel — its prompt is interrupted or taken off the queue, so a retry
never runs next to it. Outputs are taken from exactly this prompt's history entry and fetched with
`/view`, never "the newest file in the folder".

A chunk that maps `input_image` (img2img, image → video) starts from the request's picture: it is
refused before any call when there is none, else sent with `POST /upload/image` to the server that
runs the job, under a name derived from the job id (every retry overwrites the same file), and the
name the server answers goes into the LoadImage node. Video save nodes report their file like
images (`SaveWEBM`/`SaveVideo`: under `images` with `animated: [true]`; VHS: under `gifs`); the
downloaded bytes decide the MIME type (video/webm, video/mp4).

Configuration errors (missing node type or model, a workflow ComfyUI rejects with `node_errors`)
are `BackendMisconfigured`: the router neither retries them nor pauses the backend for them.
"""
from __future__ import annotations

import hashlib
import logging
import time
import uuid
from typing import Any, Mapping

from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection

from devserver.backends.base import (CancelToken, Health, MediaBackend, MediaRequest, MediaResult, Progress,
                                     ProgressCallback)
from devserver.backends.comfyui_input import input_image, upload_name
from devserver.backends.comfyui_progress import Tracker, history_outcome
from devserver.backends.comfyui_server import ComfyUIServer, version_of
from devserver.backends.comfyui_workflow import inject, mapped_value, offered_anywhere, output_files, unmapped
from devserver.backends.pool import InstancePool
from devserver.errors import (BackendBadResponse, BackendError, BackendMisconfigured, BackendTimeout,
                              BackendUnavailable, ConfigError)

log = logging.getLogger(__name__)

TICK_SECONDS = 0.2  # longest wait on the socket before cancellation and the deadline are checked again
# errors that say the server itself is in trouble: its next jobs go to another server for a while
SERVER_TROUBLE = ("backend_unreachable", "backend_timeout", "comfyui_job_lost", "comfyui_server_error")


def attempt_prompt_id(job_id: str, attempt: int) -> str:
    """Return the prompt id of one attempt: the job id itself first, then a fresh id derived from it."""
    try:
        base = uuid.UUID(job_id)
    except ValueError:
        base = uuid.uuid5(uuid.NAMESPACE_URL, f"devserver-job:{job_id}") if job_id else uuid.uuid4()
    return str(base) if attempt <= 1 else str(uuid.uuid5(base, f"attempt-{attempt}"))


def has_sampler(graph: Mapping[str, Any]) -> bool:
    """Tell whether a graph names a sampler class (KSampler, SamplerCustom ...), which reports steps."""
    return any("Sampler" in str(node.get("class_type", "")) and "Select" not in str(node.get("class_type", ""))
               for node in graph.values() if isinstance(node, Mapping))


def split_urls(value: str) -> list[str]:
    """Return the servers of a comma-separated URL list."""
    return [part.strip().rstrip("/") for part in value.split(",") if part.strip()]


class ComfyUIBackend(MediaBackend):
    """One or several ComfyUI servers reached over HTTP and their websockets."""

    backend_id = "comfyui"
    display_name = "ComfyUI"
    capabilities = frozenset({"image", "audio", "music", "video"})
    default_concurrency = 1  # one GPU runs one ComfyUI job at a time

    def __init__(self, url: str, *, timeout: float = 600.0, free_after_job: bool = False,
                 max_bytes: int = 200_000_000, quiet_seconds: float = 10.0, poll_seconds: float = 1.0,
                 http_timeout: float = 30.0, cache_seconds: float = 60.0, skip_seconds: float = 30.0,
                 recheck_seconds: float = 2.0) -> None:
        self.timeout = timeout
        self.free_after_job = free_after_job
        self.max_bytes = max_bytes
        self.quiet_seconds = quiet_seconds
        self.poll_seconds = poll_seconds
        self.servers = [ComfyUIServer(u, backend=self.backend_id, http_timeout=http_timeout,
                                      cache_seconds=cache_seconds, recheck_seconds=recheck_seconds)
                        for u in split_urls(url)]
        self.pool = InstancePool(self.servers, skip_seconds)

    @classmethod
    def from_config(cls, config: Any) -> "ComfyUIBackend":
        return cls(config.COMFYUI_URL, timeout=config.COMFYUI_TIMEOUT, free_after_job=config.COMFYUI_FREE_AFTER_JOB,
                   max_bytes=config.MEDIA_MAX_BYTES)

    # -- identity and housekeeping ------------------------------------------------------------------

    def instances(self) -> int:
        return max(1, len(self.servers))

    def job_seconds(self) -> float:
        return self.timeout

    def health(self) -> Health:
        """Report each server's version and devices from `/system_stats`; ok when any one is."""
        if not self.servers:
            return Health("not_configured", "set COMFYUI_URL in .env")
        checks = [(server, server.health()) for server in self.servers]
        for server, health in checks:
            (self.pool.succeeded if health.state == "ok" else self.pool.failed)(server)
        ok = [health for _, health in checks if health.state == "ok"]
        best = ok[0] if ok else checks[0][1]
        summary = Health(best.state, best.detail if len(checks) == 1 else f"{len(ok)} of {len(checks)} servers answer",
                         version=best.version, latency_ms=best.latency_ms)
        if len(checks) > 1:
            summary.instances = [{"url": server.url, **health.to_dict(), **self.pool.describe(server)}
                                 for server, health in checks]
        return summary

    def has_model(self, model: str) -> bool | None:
        """Tell whether any server's loaders offer this model file (None when none can be asked)."""
        answers = []
        for server in self.servers:
            try:
                answers.append(offered_anywhere(server.cached("/object_info", server.soon()), model))
            except BackendError:
                continue
        return any(answers) if answers else None

    def missing_parts(self, chunk: Any) -> dict[str, list[str]]:
        """Return the node types and models no reachable server can offer for this chunk ({} when one can)."""
        if not chunk.workflow:
            return {}
        found: list[dict[str, list[str]]] = []
        for server in self.pool.ranked():
            try:
                lacking = server.lacks(chunk.workflow, tuple(chunk.required_models), server.soon())
            except BackendError:
                continue
            if not lacking:
                return {}
            found.append(lacking)
        return found[0] if found else {}

    def free(self) -> None:
        """Ask every ComfyUI to unload its models and free VRAM (nothing to do when none is configured)."""
        for server in self.servers:
            server.free()

    def close(self) -> None:
        for server in self.servers:
            server.close()

    # -- one job -----------------------------------------------------------------------------------------

    def generate(self, request: MediaRequest, on_progress: ProgressCallback | None = None,
                 cancel: CancelToken | None = None) -> MediaResult:
        """Run the chunk's workflow with the request's values and return exactly its output files."""
        if not self.servers:
            raise BackendMisconfigured("ComfyUI is not configured: set COMFYUI_URL in .env", backend=self.backend_id,
                                       code="backend_not_configured")
        chunk = request.chunk
        if chunk is None or not chunk.workflow or not chunk.output_node:
            raise ConfigError("a ComfyUI output chunk needs a workflow and an output_node")
        image = input_image(request)
        started = time.perf_counter()
        deadline = request.deadline or time.monotonic() + self.timeout
        values = request.values()
        graph = inject(chunk.workflow, chunk.input_mappings, values)
        server = self._choose(graph, tuple(chunk.required_models), deadline)
        client_id = str(uuid.uuid4())
        try:
            try:
                version = version_of(server.cached("/system_stats", deadline))
                if image is not None:  # each server has its own input folder: upload to the one that runs it
                    ref = server.upload(image, upload_name(attempt_prompt_id(request.job_id, 1), image), deadline)
                    graph = inject(graph, chunk.input_mappings, {"input_image": ref})
                own_id = attempt_prompt_id(request.job_id, request.attempt)
                prompt_id, entry = self._run(server, graph, client_id, own_id, on_progress or (lambda _p: None),
                                             cancel or CancelToken(), deadline)
                outputs = (entry.get("outputs") or {}).get(chunk.output_node) or {}
                files = [server.download(ref, self.max_bytes, deadline) for ref in output_files(outputs)]
            except BackendError as err:
                if err.code in SERVER_TROUBLE:
                    self.pool.failed(server)
                raise
            finally:
                if self.free_after_job:
                    _free_quietly(server)
        finally:
            self.pool.release(server)
        self.pool.succeeded(server)
        if not files:
            raise BackendBadResponse(f"ComfyUI finished prompt {prompt_id} but node {chunk.output_node} saved no file.",
                                     backend=self.backend_id, code="comfyui_no_output")
        parameters: dict[str, Any] = {"workflow": graph, "seed": mapped_value(graph, chunk.input_mappings, "seed"),
                                      "client_id": client_id}
        if image is not None:
            parameters["input_image"] = {"name": mapped_value(graph, chunk.input_mappings, "input_image"),
                                         "mime": image.mime, "bytes": len(image.data),
                                         "sha256": hashlib.sha256(image.data).hexdigest()}
        not_sent = unmapped(chunk.input_mappings, values) + (["input_image"] if request.input_image and not image else [])
        if not_sent:
            parameters["not_sent"] = not_sent  # the workflow has no input for them
        return MediaResult(files=files, backend=self.backend_id, model_requested=chunk.model, model_used=chunk.model,
                           parameters=parameters, duration_ms=(time.perf_counter() - started) * 1000,
                           ids={"prompt_id": prompt_id, "client_id": client_id, "comfyui_version": version or "",
                                "server": server.url, "attempt": str(request.attempt)})

    def _choose(self, graph: Mapping[str, Any], required: tuple[str, ...], deadline: float) -> ComfyUIServer:
        """Take the least-busy healthy server that has everything the graph needs (release it after the job)."""
        problem: BackendError | None = None
        tried: list[ComfyUIServer] = []
        while (server := self.pool.take(exclude=tried)) is not None:
            try:
                server.check_installed(graph, required, deadline)
                return server
            except BackendError as err:
                self.pool.release(server)
                tried.append(server)
                if not isinstance(err, BackendMisconfigured):
                    self.pool.failed(server)
                if problem is None or isinstance(err, BackendMisconfigured):
                    problem = err  # what our setup lacks says more than a server that is down
        assert problem is not None
        raise problem

    def _run(self, server: ComfyUIServer, graph: dict[str, Any], client_id: str, prompt_id: str,
             on_progress: ProgressCallback, cancel: CancelToken, deadline: float) -> tuple[str, dict[str, Any]]:
        """Submit the graph with the socket already open; follow it to its confirmed end."""
        socket = server.open_socket(client_id, deadline)
        try:
            if cancel.cancelled:
                raise BackendError("The job was cancelled before it reached ComfyUI.", backend=self.backend_id,
                                   code="cancelled")
            try:
                prompt_id = server.submit(graph, client_id, prompt_id, deadline)
                tracker = Tracker(prompt_id, on_progress, self.backend_id, nodes=graph, sampler=has_sampler(graph))
                return prompt_id, self._wait(server, tracker, socket, cancel, deadline)
            except BackendMisconfigured:
                raise  # rejected: nothing was queued
            except BackendError:
                server.stop(prompt_id)  # never leave it running next to a retry
                raise
        finally:
            if socket is not None:
                socket.close()

    def _wait(self, server: ComfyUIServer, tracker: Tracker, socket: ClientConnection | None, cancel: CancelToken,
              deadline: float) -> dict[str, Any]:
        """Follow the prompt until `/history` confirms it finished; return its history entry."""
        prompt_id = tracker.prompt_id
        self._report_queue(server, tracker, deadline)
        heard = time.monotonic()
        while True:
            if cancel.cancelled:
                raise BackendError("The ComfyUI job was cancelled.", backend=self.backend_id, code="cancelled")
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise BackendTimeout(f"ComfyUI did not finish within {self.timeout:g} s.", backend=self.backend_id)
            if socket is not None and not tracker.finished:
                try:
                    if tracker.feed(socket.recv(timeout=min(TICK_SECONDS, remaining))):
                        heard = time.monotonic()
                    if tracker.queue_changed:
                        self._report_queue(server, tracker, deadline)
                    if not tracker.finished:
                        continue
                except TimeoutError:
                    if time.monotonic() - heard < self.quiet_seconds:
                        continue
                except ConnectionClosed:
                    log.warning("ComfyUI websocket closed during prompt %s; polling /history", prompt_id)
                    socket = None
            entry = self._poll(server, tracker, deadline)
            if entry is not None:
                return entry
            heard = time.monotonic()
            if socket is None or tracker.finished:
                # The socket said "done" (history is written a moment later) or is gone: poll.
                cancel.wait(min(self.poll_seconds, max(0.0, deadline - time.monotonic())))

    def _report_queue(self, server: ComfyUIServer, tracker: Tracker, deadline: float) -> int | None:
        """Ask `/queue` for the prompt's place and pass it on while it waits."""
        tracker.queue_changed = False
        position = server.position(tracker.prompt_id, deadline)
        if position is not None and not tracker.started and position != tracker.queue:
            tracker.queue = position
            tracker.on_progress(Progress(0, 0, message="queued", queue=position))
        return position

    def _poll(self, server: ComfyUIServer, tracker: Tracker, deadline: float) -> dict[str, Any] | None:
        """Return the finished history entry, None while queued or running; raise when failed or lost."""
        # /queue first, then /history: ComfyUI moves a prompt from one to the other under one lock,
        # so a prompt missing from both was lost (a restart wipes both), not just finishing.
        position = self._report_queue(server, tracker, deadline)
        entry = server.history(tracker.prompt_id, deadline)
        if entry is not None:
            return history_outcome(entry, tracker.prompt_id, self.backend_id)
        if position is None:
            raise BackendUnavailable(f"ComfyUI lost prompt {tracker.prompt_id} (was it restarted?).",
                                     backend=self.backend_id, code="comfyui_job_lost", retryable=True)
        return None


def _free_quietly(server: ComfyUIServer) -> None:
    try:
        server.free()
    except BackendError as exc:
        log.warning("ComfyUI /free failed: %s", exc.message)

"""What ComfyUI says about one running prompt: websocket frames, `/queue` and `/history`.

No I/O here. The real server (0.3.64) reports progress three ways, and a graph may use any of them:

* `progress` — sampler steps `{value, max, node}`; graphs without a sampler send none.
* `progress_state` — a *cumulative* map of every node so far, `{node_id: {state, value, max,
  display_node_id, parent_node_id, real_node_id}}`, about two frames per node; nodes inside a
  group or subgraph carry the id of the node the user sees in `display_node_id`.
* `executing` — the node that starts now (`node: null` = the prompt finished); cached nodes get
  none, they are listed once in `execution_cached`.

The tracker turns them into one `Progress` stream: sampler steps for a graph with a sampler, otherwise
the count of the graph's nodes done (finished or cached) out of all of them. A graph that names a
sampler class reports steps only (its loaders show as "working"); for any other graph, node counts
stop as soon as an unknown sampler sends steps. So the bar never jumps between "4 of 9 nodes" and
"1 of 20 steps".
Queue changes (`status` frames) only raise a flag: the caller asks `/queue` for our exact place.
"""
from __future__ import annotations

import json
from typing import Any, Iterable, Mapping

from devserver.backends.base import Progress, ProgressCallback
from devserver.errors import BackendError


class Tracker:
    """Read the websocket frames about one prompt: report progress, notice the end, raise on failure."""

    def __init__(self, prompt_id: str, on_progress: ProgressCallback, backend: str,
                 nodes: Iterable[str] = (), sampler: bool = False) -> None:
        self.prompt_id = prompt_id
        self.on_progress = on_progress
        self.backend = backend
        self.nodes = {str(n) for n in nodes}  # the graph's own node ids: the total of the node count
        self.done: set[str] = set()
        self.running: str | None = None
        self.sampler = sampler  # a sampler will send (or has sent) steps: report those, not node counts
        self.started = False  # execution_start seen: the prompt left the queue
        self.finished = False
        self.queue_changed = False  # a status frame arrived while we still wait in the queue
        self.queue: int | None = None  # the last queue position reported
        self._reported: tuple[int, int] | None = None

    def feed(self, raw: str | bytes) -> bool:
        """Handle one frame; return True when it was about our prompt."""
        if isinstance(raw, bytes):
            return False  # a binary latent preview
        try:
            frame = json.loads(raw)
        except ValueError:
            return False
        data = frame.get("data") if isinstance(frame, dict) else None
        if not isinstance(data, dict):
            return False
        kind = frame.get("type")
        if kind == "status":
            self.queue_changed = not self.started  # broadcast to everyone: no prompt id
            return False
        if data.get("prompt_id") != self.prompt_id:
            return False  # other prompts
        self._handle(str(kind), data)
        return True

    def _handle(self, kind: str, data: Mapping[str, Any]) -> None:
        if kind == "execution_start":
            self.started = True
            self.on_progress(Progress(0, 0, message="running", queue=0))
        elif kind == "execution_cached":
            self.started = True
            self._finish_nodes(data.get("nodes") or [])
        elif kind == "progress_state":
            self._progress_state(data.get("nodes"))
        elif kind == "executing":
            self._executing(data)
        elif kind == "executed":
            self._finish_nodes([data.get("display_node") or data.get("node")])
        elif kind == "progress":
            self.sampler = True
            self.on_progress(Progress(int(data.get("value") or 0), int(data.get("max") or 0),
                                      node=None if data.get("node") is None else str(data["node"]), message="steps"))
        elif kind == "execution_success":
            self.finished = True  # still confirmed via /history before anything is downloaded
        elif kind == "execution_error":
            raise execution_error(data, self.prompt_id, self.backend)
        elif kind == "execution_interrupted":
            raise interrupted(self.prompt_id, self.backend)

    def _executing(self, data: Mapping[str, Any]) -> None:
        node = data.get("display_node") or data.get("node")
        if data.get("node") is None:
            self.finished = True  # the classic "done" signal
            return
        self.started = True
        # older servers send no progress_state: the node that ran before this one is done
        previous, self.running = self.running, str(node)
        self._finish_nodes([previous] if previous and previous != self.running else [])

    def _progress_state(self, nodes: Any) -> None:
        if not isinstance(nodes, Mapping):
            return
        self.started = True
        finished = [entry.get("display_node_id") or key for key, entry in nodes.items()
                    if isinstance(entry, Mapping) and entry.get("state") == "finished"]
        self._finish_nodes(finished)

    def _finish_nodes(self, nodes: Iterable[Any]) -> None:
        self.done.update(str(n) for n in nodes if n is not None)
        if self.sampler or not self.nodes:
            return
        counted = (len(self.done & self.nodes), len(self.nodes))
        if counted != self._reported:  # progress_state repeats itself; report changes only
            self._reported = counted
            self.on_progress(Progress(*counted, node=self.running, message="nodes"))


def execution_error(data: Mapping[str, Any], prompt_id: str, backend: str) -> BackendError:
    """Build the error for an `execution_error` message (a node raised inside ComfyUI)."""
    keys = ("node_id", "node_type", "exception_type", "exception_message")
    details = {k: data.get(k) for k in keys if data.get(k) is not None}
    # Running out of VRAM can pass once models are freed; any other node failure will repeat.
    retryable = "OutOfMemory" in str(data.get("exception_type", ""))
    message = str(data.get("exception_message", "")).strip() or "no message"
    return BackendError(f"ComfyUI failed in node {data.get('node_id', '?')} ({data.get('node_type', '?')}): {message}",
                        backend=backend, code="comfyui_execution_error", retryable=retryable,
                        details={"prompt_id": prompt_id, **details})


def interrupted(prompt_id: str, backend: str) -> BackendError:
    """Build the error for a prompt that ComfyUI interrupted."""
    return BackendError(f"ComfyUI interrupted prompt {prompt_id}.", backend=backend, code="cancelled",
                        details={"prompt_id": prompt_id})


def history_outcome(entry: Mapping[str, Any], prompt_id: str, backend: str) -> dict[str, Any]:
    """Return a finished history entry, or raise the failure its status reports."""
    status = entry.get("status")
    if isinstance(status, Mapping) and status.get("status_str") == "error":
        for message in status.get("messages") or []:
            if not (isinstance(message, list) and len(message) == 2 and isinstance(message[1], Mapping)):
                continue
            if message[0] == "execution_error":
                raise execution_error(message[1], prompt_id, backend)
            if message[0] == "execution_interrupted":
                raise interrupted(prompt_id, backend)
        raise BackendError(f"ComfyUI reports prompt {prompt_id} failed.", backend=backend,
                           code="comfyui_execution_error", details={"prompt_id": prompt_id})
    return dict(entry)


def queue_position(queue: Mapping[str, Any], prompt_id: str) -> int | None:
    """Return 0 while the prompt runs, 1 + the number of prompts ahead of it while pending, None when absent."""
    running = [item for item in queue.get("queue_running") or [] if isinstance(item, list) and len(item) > 1]
    if any(item[1] == prompt_id for item in running):
        return 0
    # Pending items come in heap order; their first element is the priority number.
    pending = sorted((item for item in queue.get("queue_pending") or [] if isinstance(item, list) and len(item) > 1),
                     key=lambda item: item[0])
    for index, item in enumerate(pending):
        if item[1] == prompt_id:
            return 1 + len(running) + index
    return None

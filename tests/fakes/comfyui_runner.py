"""The fake ComfyUI's worker: executes queued prompts one at a time, as the real server's single
prompt worker does, and sends what 0.3.64 sends.

Per prompt: `execution_start`; `execution_cached` listing the nodes whose inputs match an earlier
run (those get no `executing` frame; a cached save node only sends `executed` with the file the
earlier prompt wrote); per node `progress_state` (the *cumulative* map of every node so far, with
`display_node_id`, `parent_node_id`, `real_node_id`) before and twice after it, `executing`, sampler
`progress` frames plus a binary preview, `executed` for save nodes; then `execution_success`, the
history entry (its `meta` lists only output nodes), `status`, and `executing` with node null.
A save node in a graph with LoadImage writes the uploaded picture itself (as PNG, at the size of the
graph's ImageScale node), so a test sees its own picture come back; video savers write small
header-valid MP4/WebM files or an animated WebP, reported under `images` with `animated: [true]`.
An interrupt is honoured only once its delay has passed (the next node boundary); a restart during
a run loses the prompt (no history entry).
"""
from __future__ import annotations

import hashlib
import io
import json
import threading
import time
from typing import Any

from PIL import Image

from tests.fakes.comfyui_catalogue import MAKERS, PREVIEW, SAMPLERS, SAVERS, is_link, order


class Runner:
    """Mixin of FakeComfyUI: the prompt worker (state lives in the fake)."""

    _lock: threading.Condition
    _stopping: threading.Event

    def _work(self) -> None:
        while not self._stopping.is_set():
            with self._lock:
                while not self._stopping.is_set() and (self.paused or not self._pending or not self._thawed.is_set()):
                    self._lock.wait(0.05)
                if self._stopping.is_set():
                    return
                self._pending.sort(key=lambda item: item[0])
                item = self._running = self._pending.pop(0)
                self._interrupt_at = None
                epoch = self._epoch
                self.runs.append(item[1])
            entry = self._execute(item, epoch)
            with self._lock:
                self._running = None
                if entry is None or epoch != self._epoch:
                    continue  # lost in a restart
                self.history[item[1]] = entry  # a duplicate prompt id overwrites the earlier entry
                self._broadcast({"type": "status", "data": {"status": {"exec_info": {
                    "queue_remaining": len(self._pending)}}}})
            self._to_client(item, {"type": "executing", "data": {"node": None, "prompt_id": item[1]}})

    def _stopped(self) -> bool:
        at = self._interrupt_at
        return self.honour_interrupt and at is not None and time.monotonic() >= at

    def _signatures(self, graph: dict[str, Any]) -> dict[str, str]:
        """Return a cache key per node: its class, literal inputs and the keys of the nodes it links from."""
        keys: dict[str, str] = {}
        for node_id in order(graph):
            node = graph[node_id]
            inputs = {name: keys.get(value[0], "?") + f":{value[1]}" if is_link(value) else value
                      for name, value in sorted(node.get("inputs", {}).items())}
            text = json.dumps([node["class_type"], inputs], sort_keys=True, default=str)
            keys[node_id] = hashlib.sha256(text.encode()).hexdigest()
        return keys

    def _execute(self, item: list[Any], epoch: int) -> dict[str, Any] | None:
        number, pid, graph, extra, outputs = item
        messages: list[list[Any]] = []
        entry: dict[str, Any] = {"prompt": [number, pid, graph, extra, outputs], "outputs": {}, "meta": {},
                                 "status": {"status_str": "success", "completed": True, "messages": messages}}
        states: dict[str, dict[str, Any]] = {}

        def stamp() -> int:
            return int(time.time() * 1000)  # ms since epoch, as ComfyUI sends them

        def emit(kind: str, data: dict[str, Any], record: bool = False) -> None:
            data = {**data, "prompt_id": pid}
            if record:
                messages.append([kind, data])
            # ComfyUI broadcasts interruptions to every client; everything else goes to the submitter
            self._to_client(item, {"type": kind, "data": data}, broadcast=kind == "execution_interrupted")

        def state(node_id: str, st: str, value: float = 0.0, maximum: float = 1.0) -> None:
            states[node_id] = {"value": value, "max": maximum, "state": st, "node_id": node_id, "prompt_id": pid,
                               "display_node_id": node_id, "parent_node_id": None, "real_node_id": node_id}
            emit("progress_state", {"nodes": {k: dict(v) for k, v in states.items()}})

        def fail(kind: str, data: dict[str, Any]) -> dict[str, Any]:
            emit(kind, data, record=True)
            entry["status"].update(status_str="error", completed=False)
            return entry

        def meta(node_id: str) -> None:
            if graph[node_id]["class_type"] in SAVERS:  # the real server lists only output nodes
                entry["meta"][node_id] = {"node_id": node_id, "display_node": node_id, "parent_node": None,
                                          "real_node_id": node_id}

        keys = self._signatures(graph)
        with self._lock:
            cached = [nid for nid in order(graph) if self.caching and keys[nid] in self._cache]
        emit("execution_start", {"timestamp": stamp()}, record=True)
        emit("execution_cached", {"nodes": cached, "timestamp": stamp()}, record=True)
        executed: list[str] = []
        sequence = order(graph)
        # A hanging prompt stalls in its sampler after the steps (or in its first node if it has none).
        stall_at = next((nid for nid in sequence if graph[nid]["class_type"] in SAMPLERS), sequence[0])
        for node_id in sequence:
            node = graph[node_id]
            if epoch != self._epoch:
                return None
            if node_id in cached:
                if node["class_type"] in SAVERS:
                    entry["outputs"][node_id] = self._cache[keys[node_id]]
                    emit("executed", {"node": node_id, "display_node": node_id, "output": entry["outputs"][node_id]})
                    meta(node_id)
                continue
            if self._stopped():
                return fail("execution_interrupted", {"node_id": node_id, "node_type": node["class_type"],
                                                      "executed": executed})
            state(node_id, "running")
            emit("executing", {"node": node_id, "display_node": node_id})
            self._stopping.wait(self.scaled(self.node_seconds))
            if node["class_type"] in SAMPLERS:
                total = node["inputs"].get("steps")
                total = total if isinstance(total, int) else self.steps
                for step in range(1, total + 1):
                    if self._stopped():
                        break
                    emit("progress", {"value": step, "max": total, "node": node_id})
                    self._to_client(item, PREVIEW)  # a latent preview, as with --preview-method auto
            while self.hang and node_id == stall_at and not self._stopping.is_set() and not self._stopped():
                time.sleep(0.02)
            if self._stopped():
                return fail("execution_interrupted", {"node_id": node_id, "node_type": node["class_type"],
                                                      "executed": executed})
            if node_id == self.fail_node:
                return fail("execution_error", {
                    "node_id": node_id, "node_type": node["class_type"], "executed": executed,
                    "exception_message": "Fake failure in this node.", "exception_type": "RuntimeError",
                    "traceback": ["Traceback (most recent call last):\n", "RuntimeError: Fake failure\n"],
                    "current_inputs": {"image": ["tensor([[0.1, 0.2]])"]}, "current_outputs": []})
            output: Any = True
            if node["class_type"] in SAVERS:
                output = entry["outputs"][node_id] = self._save(node, graph, pid)
                emit("executed", {"node": node_id, "display_node": node_id, "output": output})
            meta(node_id)
            with self._lock:
                self._cache[keys[node_id]] = output
            executed.append(node_id)
            state(node_id, "finished", 1.0)
            emit("progress_state", {"nodes": {k: dict(v) for k, v in states.items()}})
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
        loaded = self._loaded(graph) if ext == "png" else None
        self.files[(ftype, subfolder, name)] = loaded if loaded is not None else MAKERS[ext](graph, seed_bytes)
        return {key: [{"filename": name, "subfolder": subfolder, "type": ftype}], **extra}

    def _loaded(self, graph: dict[str, Any]) -> bytes | None:
        """Return a LoadImage graph's picture as PNG, at the size of its ImageScale node if it has one."""
        names = [n["inputs"].get("image") for n in graph.values() if n.get("class_type") == "LoadImage"]
        if not names:
            return None
        sub, _, name = str(names[0]).rpartition("/")
        with Image.open(io.BytesIO(self.files[("input", sub, name)])) as picture:
            picture = picture.convert("RGB")
            for node in graph.values():
                if node.get("class_type") == "ImageScale":
                    picture = picture.resize((node["inputs"]["width"], node["inputs"]["height"]))
            out = io.BytesIO()
            picture.save(out, format="PNG")
        return out.getvalue()

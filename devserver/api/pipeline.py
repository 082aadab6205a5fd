"""Pipeline endpoints: start phases (202 + run id), status, live events (SSE), entities, cancel."""
from __future__ import annotations

import json
import math
import time
from typing import Any, Iterator

from flask import Blueprint, Response, current_app, jsonify, request, stream_with_context

from devserver.access.control import run_owner
from devserver.api import context
from devserver.engine.projection import project_item, project_run, project_status
from devserver.engine.requests import ExecuteRequest, GenerationRequest, OptimizeRequest, Stage2Request
from devserver.errors import NotFound, ValidationFailed
from devserver.recorder.run_id import require_run_id

bp = Blueprint("pipeline", __name__, url_prefix="/api")
PHASE_BODIES = {"execute": ExecuteRequest, "stage2": Stage2Request, "optimize": OptimizeRequest,
                "generation": GenerationRequest}
HEARTBEAT_SECONDS = 10.0
MAX_WAIT_SECONDS = 300.0


def _wait_seconds() -> float | None:
    raw = request.args.get("wait")
    if raw is None:
        return None
    try:
        seconds = float(raw)
    except ValueError:
        seconds = math.nan
    if not math.isfinite(seconds):
        raise ValidationFailed("`wait` must be a number of seconds.", code="invalid_wait")
    return min(max(seconds, 0.0), MAX_WAIT_SECONDS)


@bp.post("/schema/pipeline/<phase>")
def start_phase(phase: str):
    """Start a phase of a run (execute, stage2, optimize, generation) and return 202 with its run id."""
    model = PHASE_BODIES.get(phase)
    if model is None:
        raise NotFound(f"No pipeline phase {phase!r}; use one of {', '.join(PHASE_BODIES)}.", code="phase_not_found")
    req = model.model_validate(context.json_body())
    wait = _wait_seconds()  # validated before anything is queued
    state = context.orchestrator().submit(phase, req, run_owner())  # the caller's session, pseudonym, limits
    if wait is not None:
        return jsonify(project_status(context.orchestrator().wait(state.run_id, wait), context.audience())), 200
    return jsonify({"run_id": state.run_id, "status": state.status, "phase": phase,
                    "status_url": f"/api/pipeline/{state.run_id}/status",
                    "events_url": f"/api/pipeline/{state.run_id}/events"}), 202


@bp.get("/pipeline/<run_id>/status")
def status(run_id: str):
    """Return the run's status: stage, step, progress, queue position, texts, outputs, block or error."""
    return jsonify(project_status(context.orchestrator().status(require_run_id(run_id)), context.audience()))


@bp.post("/pipeline/<run_id>/cancel")
def cancel(run_id: str):
    """Cancel a queued or running run (interrupts a running ComfyUI job)."""
    return jsonify(project_status(context.orchestrator().cancel(require_run_id(run_id)), context.audience()))


@bp.get("/pipeline/<run_id>/entities")
def entities(run_id: str):
    """List the run's recorded items (texts inline, files by name)."""
    run_id = require_run_id(run_id)
    return jsonify({"run_id": run_id,
                    "entities": [project_item(i, context.audience()) for i in context.recorder().events(run_id)]})


@bp.get("/pipeline/<run_id>/entity/<item_type>")
def entity(run_id: str, item_type: str):
    """Return the latest recorded item of one type (e.g. interception_final)."""
    run_id = require_run_id(run_id)
    items = [i for i in context.recorder().events(run_id) if i.get("item_type") == item_type]
    if not items:
        raise NotFound(f"Run {run_id} has no {item_type!r} item.", code="entity_not_found")
    return jsonify(project_item(items[-1], context.audience()))


@bp.get("/pipeline/<run_id>/journey")
def journey(run_id: str):
    """Return the run's journey for the student's journey page: its status and every item, projected."""
    run_id = require_run_id(run_id)
    document = {"run_id": run_id, "metadata": context.orchestrator().status(run_id),
                "events": context.recorder().events(run_id)}
    return jsonify(project_run(document, context.audience()))


@bp.route("/pipeline/<path:rest>", methods=["GET", "POST"])
def pipeline_unknown(rest: str):
    """Answer any other /api/pipeline path: a bad run id is a 400, anything else a 404."""
    context.unknown_path(rest.split("/", 1)[0])


@bp.get("/pipeline/<run_id>/events")
def events(run_id: str):
    """Stream the run's events as server-sent events; `Last-Event-ID` resumes after a disconnect."""
    run_id = require_run_id(run_id)
    orchestrator = context.orchestrator()
    last = request.headers.get("Last-Event-ID") or request.args.get("last_event_id") or "0"
    try:
        after = int(last)
    except ValueError:
        raise ValidationFailed("Last-Event-ID must be an event sequence number.", code="invalid_event_id") from None
    state = orchestrator.get(run_id)
    if state is None:
        orchestrator.status(run_id)  # NotFound for unknown runs
    heartbeat = current_app.extensions.get("devserver.sse_heartbeat", HEARTBEAT_SECONDS)
    return Response(stream_with_context(_stream(orchestrator, run_id, after, heartbeat, context.audience())),
                    mimetype="text/event-stream",
                    headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})


def _sse(event: str, data: dict[str, Any], event_id: int | None = None) -> str:
    head = f"id: {event_id}\n" if event_id is not None else ""
    return f"{head}event: {event}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"


def _stream(orchestrator: Any, run_id: str, after: int, heartbeat: float, audience: str) -> Iterator[str]:
    state = orchestrator.get(run_id)
    if state is None:  # only the folder is left: replay what was recorded, then end
        snapshot = project_status(orchestrator.status(run_id), audience)
        for item in context.recorder().events(run_id, after=after):
            yield _sse(item["item_type"], {"item": project_item(item, audience), "status": snapshot},
                       item["sequence"])
        yield _sse("end", {"status": snapshot})
        return
    yield "retry: 2000\n\n"
    last_beat, version = time.monotonic(), None
    while True:
        items = state.items_after(after)
        snapshot = project_status(state.status_dict(), audience)
        for item in items:  # the live buffer holds student projections already (see PhaseContext.emit)
            after = item["sequence"]
            yield _sse(item["item_type"], {"item": project_item(item, audience), "status": snapshot}, after)
        if not items and version is not None and snapshot["updated_at"] != version:
            yield _sse("progress", {"status": snapshot})  # progress or queue changes carry no item
        version = snapshot["updated_at"]
        if state.terminal and not state.items_after(after):
            yield _sse("end", {"status": project_status(state.status_dict(), audience)})
            return
        if time.monotonic() - last_beat >= heartbeat:
            last_beat = time.monotonic()
            yield ": heartbeat\n\n"
        state.wait(after, version, timeout=min(heartbeat, 1.0))

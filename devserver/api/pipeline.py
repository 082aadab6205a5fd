"""Pipeline endpoints: start phases (202 + run id), status, live events (SSE), entities, cancel."""
from __future__ import annotations

import math
import time
from typing import Any, Iterator

from flask import Blueprint, Response, current_app, jsonify, request, stream_with_context

from devserver.access.control import run_owner
from devserver.api import context
from devserver.api.event_frames import (HANDOFF, HEARTBEAT, OPENING, EventCursor, StreamCounter, WaitStart,
                                        sse)
from devserver.api.openapi import declare
from devserver.engine.projection import project_item, project_run, project_status
from devserver.engine.requests import (ExecuteRequest, GenerationRequest, OptimizeRequest, SceneGenerationRequest,
                                       Stage2Request, StoryboardRequest)
from devserver.errors import NotFound, ValidationFailed
from devserver.recorder.run_id import require_run_id

bp = Blueprint("pipeline", __name__, url_prefix="/api")
PHASE_BODIES = {"execute": ExecuteRequest, "stage2": Stage2Request, "optimize": OptimizeRequest,
                "generation": GenerationRequest, "storyboard": StoryboardRequest,
                "storyboard_generation": SceneGenerationRequest}
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
@declare(body=PHASE_BODIES, enums={"phase": tuple(PHASE_BODIES)})
def start_phase(phase: str):
    """Start a phase of a run (execute, stage2, optimize, generation, storyboard, storyboard_generation): 202."""
    model = PHASE_BODIES.get(phase)
    if model is None:
        raise NotFound(f"No pipeline phase {phase!r}; use one of {', '.join(PHASE_BODIES)}.", code="phase_not_found")
    return submit_phase(phase, model.model_validate(context.json_body()))


def submit_phase(phase: str, req: Any):
    """Queue a phase for the caller; answer 202 with the run id, or with `?wait=N` the status when done."""
    wait = _wait_seconds()  # validated before anything is queued
    state = context.orchestrator().submit(phase, req, run_owner())  # the caller's session, pseudonym, limits
    handoff = request.environ.get(HANDOFF)
    if wait is not None and handoff is not None:
        handoff(WaitStart(state, wait))  # the async gateway waits, then answers with the (projected) status route
    elif wait is not None:
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
@declare(content=("text/event-stream",))
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
    audience = context.audience()
    if state is None:  # only the folder is left (or NotFound): replay what was recorded, then end
        snapshot = project_status(orchestrator.status(run_id), audience)
        return _event_response(_replay(snapshot, context.recorder().events(run_id, after=after), audience))
    client, streams = request.remote_addr or "", current_app.extensions["devserver.streams"]
    streams.open(client)  # 429 beyond the per-client cap
    # the live buffer holds student projections already (see PhaseContext.emit); project for this audience
    cursor = EventCursor(state, after, view_item=lambda item: project_item(item, audience),
                         view_status=lambda status: project_status(status, audience),
                         on_close=lambda: streams.close(client))
    handoff = request.environ.get(HANDOFF)
    if handoff is not None:  # the async gateway streams it without holding a thread
        handoff(cursor)
        return _event_response(iter(()))
    heartbeat = current_app.extensions.get("devserver.sse_heartbeat", HEARTBEAT_SECONDS)
    response = _event_response(stream_with_context(_stream(cursor, heartbeat)))
    response.call_on_close(cursor.on_close)
    return response


@bp.record_once
def _count_streams(setup) -> None:
    cfg = setup.app.extensions["devserver.config"]
    setup.app.extensions["devserver.streams"] = StreamCounter(cfg.EVENT_STREAMS_PER_CLIENT)


def _event_response(body: Iterator[str]) -> Response:
    return Response(body, mimetype="text/event-stream",
                    headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})


def _replay(snapshot: dict[str, Any], items: list[dict[str, Any]], audience: str) -> Iterator[str]:
    for item in items:  # read in the request: the body is sent after the app context is gone
        yield sse(item["item_type"], {"item": project_item(item, audience), "status": snapshot}, item["sequence"])
    yield sse("end", {"status": snapshot})


def _stream(cursor: EventCursor, heartbeat: float) -> Iterator[str]:
    yield OPENING
    last_beat = time.monotonic()
    while True:
        frames, done = cursor.step()
        yield from frames
        if done:
            return
        if time.monotonic() - last_beat >= heartbeat:
            last_beat = time.monotonic()
            yield HEARTBEAT
        cursor.state.wait(cursor.after, cursor.version or "", timeout=min(heartbeat, 1.0))

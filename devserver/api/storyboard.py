"""Storyboard endpoints: the student's edited scene list, the printable sheet (PDF) and all pictures (ZIP).

Starting a storyboard and drawing its scenes are pipeline phases (`POST /api/schema/pipeline/storyboard`,
`.../storyboard_generation`); editing is a phase too, so every edited text is checked in order with
the run's other work, under the run's lock.
"""
from __future__ import annotations

from flask import Blueprint, Response

from devserver.api import context
from devserver.api.openapi import declare
from devserver.api.pipeline import submit_phase
from devserver.engine.projection import project_status
from devserver.engine.requests import SceneEditRequest
from devserver.errors import AppError, NotFound
from devserver.recorder.run_id import require_run_id
from devserver.recorder.storyboard_sheet import storyboard_pdf, storyboard_zip

bp = Blueprint("storyboard", __name__, url_prefix="/api")


@bp.put("/pipeline/<run_id>/scenes")
@declare(body=SceneEditRequest)
def edit_scenes(run_id: str):
    """Replace the storyboard's scenes (new order, added, removed, edited); every changed text is checked."""
    body = {**context.json_body(), "run_id": require_run_id(run_id)}
    return submit_phase("scenes", SceneEditRequest.model_validate(body))


def _sheet_source(run_id: str) -> tuple[dict, object]:
    """Return the run's status as the caller may see it and a reader of its files; 404 without a storyboard."""
    run_id = require_run_id(run_id)
    status = project_status(context.orchestrator().status(run_id), context.audience())
    if not status.get("storyboard"):
        raise NotFound(f"Run {run_id} has no storyboard.", code="storyboard_not_found")
    recorder = context.recorder()

    def read(name: str) -> bytes:
        try:
            return recorder.entity_path(run_id, name).read_bytes()
        except AppError as err:  # a missing picture leaves a gap on the sheet
            raise FileNotFoundError(name) from err

    return status, read


@bp.get("/runs/<run_id>/storyboard.pdf")
@declare(content=("application/pdf",))
def sheet_pdf(run_id: str):
    """Download the storyboard as a printable sheet: title, logline, every scene with its picture."""
    status, read = _sheet_source(run_id)
    return Response(storyboard_pdf(status, read, context.lang()), mimetype="application/pdf",
                    headers={"Content-Disposition": f'attachment; filename="storyboard_{status["run_id"]}.pdf"'})


@bp.get("/runs/<run_id>/storyboard.zip")
@declare(content=("application/zip",))
def sheet_zip(run_id: str):
    """Download every scene picture of the storyboard with the sheet (PDF) and the scenes (JSON) as one ZIP."""
    status, read = _sheet_source(run_id)
    return Response(storyboard_zip(status, read, context.lang()), mimetype="application/zip",
                    headers={"Content-Disposition": f'attachment; filename="storyboard_{status["run_id"]}.zip"'})

"""Bulk ZIP exports with media as background jobs: start one, watch it, download the file.

Same filters as `GET /api/runs/export` (a teacher is limited to one of their sessions in the same
way); a job and its file belong to the caller who started it (others get 404). The work itself is
`devserver/recorder/export_jobs.py`.
"""
from __future__ import annotations

from flask import Blueprint, current_app, jsonify, send_file
from pydantic import Field

from devserver.access.control import principal
from devserver.api import context
from devserver.api.openapi import declare, documents_body
from devserver.api.runs import Order, RunFilters, matching_ids
from devserver.errors import NotFound
from devserver.recorder.export_jobs import JOB_LIMIT, ExportJobs

bp = Blueprint("exports", __name__, url_prefix="/api/exports")


class ExportJobRequest(RunFilters):
    """POST /api/exports body: the filters of the research API, a page, and whether media go in."""

    limit: int | None = Field(None, ge=1, le=JOB_LIMIT, description=f"runs in the ZIP (default and at most {JOB_LIMIT})")
    offset: int = Field(0, ge=0, le=10_000_000)
    order: Order = "-created_at"
    media: bool = True


def _jobs() -> ExportJobs:
    return current_app.extensions["devserver.export_jobs"]


def _owner() -> str:
    return str(principal().owner_id)  # staff only (the access policy): "staff-<user id>"


@bp.post("")
@documents_body(ExportJobRequest)
def start_export():
    """Start building a ZIP of the matching runs with their media; 202 with the job to poll."""
    body = ExportJobRequest.model_validate(context.json_body())
    filters = body.filters()
    run_ids, total = matching_ids(filters, body.limit or JOB_LIMIT, body.offset, body.order)
    selection = {"filters": filters, "total": total, "offset": body.offset, "limit": body.limit or JOB_LIMIT}
    job = _jobs().start(_owner(), run_ids, selection, media=body.media)
    return jsonify(job), 202, {"Location": job["status_url"]}


@bp.get("/<job_id>")
def export_status(job_id: str):
    """Return an export job's status: queued, running, done or failed, runs done of total, bytes written."""
    return jsonify(_jobs().status(job_id, _owner()))


@bp.get("/<job_id>/download")
@declare(content=("application/zip",))
def download_export(job_id: str):
    """Download a finished export job's ZIP (with Range requests, so a large download can be resumed)."""
    path = _jobs().file(job_id, _owner())
    try:
        return send_file(path, mimetype="application/zip", as_attachment=True, download_name="runs-export.zip")
    except FileNotFoundError:  # its keep time ended this very moment
        raise NotFound(f"No export job {job_id[:40]!r}.", code="export_job_not_found") from None

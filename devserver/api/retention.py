"""Deletion of run records: one run, or all finished runs of a session, now (audited with a reason).

Who may delete is decided by the access policy (the run's or session's teachers, admins); the
background sweep of expired runs is `devserver/recorder/retention.py`.
"""
from __future__ import annotations

from flask import Blueprint, current_app, jsonify
from pydantic import BaseModel, ConfigDict, Field

from devserver.access.control import principal
from devserver.api import context
from devserver.recorder.retention import Retention
from devserver.recorder.run_id import require_run_id

bp = Blueprint("retention", __name__, url_prefix="/api")


def _retention() -> Retention:
    return current_app.extensions["devserver.retention"]


class DeleteBody(BaseModel):
    """Why the records are deleted (written to the audit log)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    reason: str = Field(min_length=3, max_length=500)


def _reason() -> str:
    return DeleteBody.model_validate(context.json_body()).reason


def _actor() -> str:
    who = principal()
    return who.user.name if who.user is not None else who.role


@bp.delete("/runs/<run_id>")
def delete_run(run_id: str):
    """Delete one finished run now: its folder, media and index row (a run still going is a 409)."""
    run_id = require_run_id(run_id)
    _retention().delete_one(run_id, _actor(), _reason())
    return jsonify({"deleted": [run_id], "skipped": []})


@bp.delete("/sessions/<session_id>/runs")
def delete_session_runs(session_id: str):
    """Delete every finished run of a session now; runs still going are listed as skipped."""
    reason = _reason()
    run_ids = [row["run_id"] for row in context.recorder().index.list({"session": session_id}, 1_000_000, 0)["runs"]]
    return jsonify(_retention().delete(run_ids, _actor(), reason))

"""Moderation endpoints (teachers of the session): live runs, blocked attempts, audited release,
and the students' own attitudes of a session (publish to everyone)."""
from __future__ import annotations

from flask import Blueprint, current_app, jsonify

from devserver.api import context
from devserver.api.config_editor import author
from devserver.api.openapi import documents_body
from devserver.recorder.run_id import require_run_id
from devserver.teacher.moderation import Moderation
from devserver.teacher.own_attitudes import OwnAttitudes
from devserver.teacher.requests import PublishRequest, ReleaseRequest

bp = Blueprint("moderation", __name__, url_prefix="/api/moderation")


def moderation() -> Moderation:
    """Return the app's moderation service."""
    return current_app.extensions["devserver.moderation"]


def attitudes() -> OwnAttitudes:
    """Return the app's store of students' own attitudes."""
    return current_app.extensions["devserver.own_attitudes"]


@bp.get("/sessions/<session_id>/runs")
def session_runs(session_id: str):
    """List the session's runs live: status, attitude, outputs, and each blocked attempt in full."""
    return jsonify({"session": session_id, "runs": moderation().session_runs(session_id)})


@bp.post("/runs/<run_id>/release")
@documents_body(ReleaseRequest)
def release_run(run_id: str):
    """Release a blocked run with a written reason (recorded in the run and the audit log)."""
    req = ReleaseRequest.model_validate(context.json_body())
    run_id = require_run_id(run_id)
    session = context.recorder().metadata(run_id).get("session")
    return jsonify(moderation().release(run_id, req.reason, author(), session))


@bp.get("/sessions/<session_id>/audit")
def session_audit(session_id: str):
    """List the session's moderation audit entries (who, when, why), newest first."""
    return jsonify({"session": session_id, "entries": moderation().audit(session_id)})


@bp.get("/sessions/<session_id>/attitudes")
def session_attitudes(session_id: str):
    """List every attitude the session's students saved, with its pseudonymous author."""
    return jsonify({"session": session_id, "attitudes": attitudes().for_session(session_id)})


@bp.post("/sessions/<session_id>/attitudes/<attitude_id>/publish")
@documents_body(PublishRequest)
def publish_attitude(session_id: str, attitude_id: str):
    """Show a student's attitude to the whole session (or stop showing it)."""
    req = PublishRequest.model_validate(context.json_body())
    return jsonify(attitudes().publish(session_id, attitude_id, author(), req.published))

"""Students' own attitudes: save the rules they wrote under their pseudonymous pass, list, delete."""
from __future__ import annotations

from flask import Blueprint, current_app, jsonify

from devserver.access.control import control, principal
from devserver.api import context
from devserver.api.openapi import documents_body
from devserver.teacher.own_attitudes import OwnAttitudes
from devserver.teacher.requests import OwnAttitudeRequest

bp = Blueprint("attitudes", __name__, url_prefix="/api/attitudes")


def attitudes() -> OwnAttitudes:
    """Return the app's store of students' own attitudes."""
    return current_app.extensions["devserver.own_attitudes"]


def _student() -> tuple[str, str]:
    who = principal()
    return control().workshop_of(who).id, who.owner_id or ""


@bp.get("")
def list_mine():
    """List my own attitudes and the ones the teacher shared with the session."""
    session, student = _student()
    return jsonify({"attitudes": attitudes().for_student(session, student)})


@bp.post("")
@documents_body(OwnAttitudeRequest)
def save_mine():
    """Save the rules I wrote as my own attitude (checked like any rules text at the session's level)."""
    req = OwnAttitudeRequest.model_validate(context.json_body())
    session, student = _student()
    level = control().workshop_of(principal()).safety_level
    return jsonify(attitudes().save(session, student, req.name, req.context, req.lang, level)), 201


@bp.delete("/<attitude_id>")
def delete_mine(attitude_id: str):
    """Delete one of my own attitudes."""
    session, student = _student()
    attitudes().delete(session, attitude_id, student)
    return jsonify({"id": attitude_id, "deleted": True})

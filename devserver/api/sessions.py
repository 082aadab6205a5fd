"""Workshop sessions API: teachers create, list, change and close sessions; students join with a code."""
from __future__ import annotations

import io
from typing import Any, Literal

import segno
from flask import Blueprint, Response, jsonify, request
from pydantic import BaseModel, ConfigDict, Field, field_validator

from devserver.access import cookies
from devserver.access.control import control, principal
from devserver.access.guard import public_base
from devserver.access.workshops import Workshop
from devserver.api import context
from devserver.api.openapi import documents_body
from devserver.errors import Conflict, NotFound, ValidationFailed

bp = Blueprint("sessions", __name__, url_prefix="/api/sessions")
JOIN_MESSAGES = {
    "session_code_unknown": {
        "de": "Diesen Code gibt es nicht. Schau noch einmal genau hin oder frag deine Lehrkraft.",
        "en": "There is no workshop with this code. Check it once more or ask your teacher."},
    "session_closed": {
        "de": "Dieser Workshop ist schon zu Ende. Frag deine Lehrkraft nach einem neuen Code.",
        "en": "This workshop has already ended. Ask your teacher for a new code."},
}


class SessionUpdate(BaseModel):
    """PATCH /api/sessions/<id> body: any of the settings."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    title: str | None = Field(None, min_length=1, max_length=120)
    safety_level: Literal["kids", "youth", "adult"] | None = None
    lang: Literal["de", "en"] | None = None
    allowed_attitudes: list[str] | None = Field(None, max_length=200, description="null: every attitude")
    allowed_outputs: list[str] | None = Field(None, max_length=200, description="null: every output")
    max_outputs_per_run: int | None = Field(None, ge=1, le=32)
    runs_per_minute: int | None = Field(None, ge=1, le=60)
    retention_days: int | None = Field(None, ge=1, le=3650)


class SessionCreate(SessionUpdate):
    """POST /api/sessions body: a title and the level; everything else has a default."""

    title: str = Field(min_length=1, max_length=120)  # type: ignore[assignment]
    safety_level: Literal["kids", "youth", "adult"]  # type: ignore[assignment]
    lang: Literal["de", "en"] = "de"  # type: ignore[assignment]
    max_outputs_per_run: int = Field(8, ge=1, le=32)  # type: ignore[assignment]  # a storyboard of 8 scenes fits
    runs_per_minute: int = Field(6, ge=1, le=60)  # type: ignore[assignment]
    retention_days: int = Field(30, ge=1, le=3650)  # type: ignore[assignment]


class JoinBody(BaseModel):
    """POST /api/sessions/join body: the code the teacher shows (case and dashes do not matter)."""

    model_config = ConfigDict(extra="forbid")
    code: str = Field(min_length=1, max_length=20)
    lang: Literal["de", "en"] | None = None

    @field_validator("code")
    @classmethod
    def _printable(cls, value: str) -> str:
        if not value.isprintable():
            raise ValueError("a join code has only letters and digits")
        return value


def _check_choices(body: SessionUpdate) -> None:
    """Refuse attitudes or outputs the server does not have (naming every one)."""
    snapshot = context.catalog().snapshot
    problems = [{"field": f"{name}.{i}", "problem": f"unknown id {value!r}"}
                for name, known in (("allowed_attitudes", snapshot.interception), ("allowed_outputs", snapshot.outputs))
                for i, value in enumerate(getattr(body, name) or []) if value not in known]
    if problems:
        raise ValidationFailed("The session names attitudes or outputs this server does not have.",
                               details={"problems": problems})


def _teacher_view(workshop: Workshop) -> dict[str, Any]:
    join_url = f"{public_base()}/join?code={workshop.code}"
    return {**workshop.to_dict(), "join_url": join_url, "students": control().workshops.student_count(workshop.id),
            "qr_svg": f"/api/sessions/{workshop.id}/qr.svg", "qr_png": f"/api/sessions/{workshop.id}/qr.png"}


def _student_lang(body_lang: str | None) -> str:
    return body_lang or request.accept_languages.best_match(["de", "en"]) or context.config().DEFAULT_LANGUAGE


@bp.post("")
@documents_body(SessionCreate)
def create_session():
    """Create a workshop session with a join code (teachers)."""
    body = SessionCreate.model_validate(context.json_body())
    _check_choices(body)
    user = principal().user
    workshop = control().workshops.create(body.model_dump(), user.id if user else None)
    return jsonify(_teacher_view(workshop)), 201


@bp.get("")
def list_sessions():
    """List sessions, newest first: a teacher's own, or all for researchers and admins."""
    who = principal()
    mine = who.user.id if who.role == "teacher" and who.user else None
    return jsonify({"sessions": [_teacher_view(w) for w in control().workshops.list(created_by=mine)]})


@bp.get("/<session_id>")
def get_session(session_id: str):
    """Return one session's settings, join link and number of joined browsers."""
    return jsonify(_teacher_view(control().require_session_access(principal(), session_id)))


@bp.patch("/<session_id>")
@documents_body(SessionUpdate)
def update_session(session_id: str):
    """Change a session's settings; they apply to the next run started in it."""
    body = SessionUpdate.model_validate(context.json_body())
    _check_choices(body)
    return jsonify(_teacher_view(control().workshops.update(session_id, body.model_dump(exclude_unset=True))))


@bp.post("/<session_id>/close")
def close_session(session_id: str):
    """Close a session: joined browsers keep their runs but cannot start new ones."""
    return jsonify(_teacher_view(control().workshops.close(session_id)))


@bp.get("/<session_id>/qr.<fmt>")
def session_qr(session_id: str, fmt: str):
    """Return the session's join link as a QR code (svg or png)."""
    if fmt not in ("svg", "png"):
        raise NotFound("QR codes come as qr.svg or qr.png.", code="qr_format_unknown")
    workshop = control().require_session_access(principal(), session_id)
    buffer = io.BytesIO()
    segno.make(f"{public_base()}/join?code={workshop.code}", error="m").save(buffer, kind=fmt, scale=8, border=2)
    return Response(buffer.getvalue(), mimetype="image/svg+xml" if fmt == "svg" else "image/png")


@bp.post("/join")
@documents_body(JoinBody)
def join():
    """Join a session with its code: this browser gets a pseudonymous pass (no name, no account)."""
    body = JoinBody.model_validate(context.json_body())
    lang, workshops = _student_lang(body.lang), control().workshops
    workshop = workshops.by_code(body.code)
    if workshop is None or workshop.closed:
        code = "session_closed" if workshop else "session_code_unknown"
        raise (Conflict if workshop else NotFound)(JOIN_MESSAGES[code][lang], code=code)
    pseudonym = workshops.join(workshop)
    response = jsonify({"session": workshop.for_student(), "student": pseudonym})
    cookies.set_student(response, cookies.sign_student(workshop.id, pseudonym))
    return response


@bp.post("/leave")
def leave():
    """Forget this browser's workshop pass (on a shared computer, before the next student)."""
    response = jsonify({"left": True})
    cookies.clear(response, "student")
    return response


@bp.get("/current")
def current():
    """Return the caller's workshop session as a student sees it (the default session on a loopback server)."""
    return jsonify({"session": control().workshop_of(principal()).for_student(), "student": principal().student})

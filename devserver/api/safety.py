"""Safety endpoint: check a text at a level, as the pipeline's checkpoints would."""
from __future__ import annotations

from typing import Literal

from flask import Blueprint, jsonify
from pydantic import BaseModel, ConfigDict, Field

from devserver.access.control import control, principal
from devserver.api import context
from devserver.engine.projection import project_verdict

bp = Blueprint("safety", __name__, url_prefix="/api/safety")


class CheckBody(BaseModel):
    """POST /api/safety/check body."""

    model_config = ConfigDict(extra="forbid")
    text: str = Field(min_length=1, max_length=5000)
    level: Literal["kids", "youth", "adult", "research"] | None = None
    lang: Literal["de", "en"] | None = None


@bp.post("/check")
def check():
    """Check a text: the verdict (decision, category; terms and reasons only for staff) and the message."""
    body = CheckBody.model_validate(context.json_body())
    service = context.safety()
    level = service.level(body.level, base=control().workshop_of(principal()).safety_level)  # the session's level
    verdict = service.check("input", body.text, level)
    return jsonify({"verdict": project_verdict(verdict.to_dict(), context.audience()),
                    "message": service.message(verdict, body.lang or context.lang())})

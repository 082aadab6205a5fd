"""`GET /api/runs/mine`: the caller's own runs, from the server (the app's "My runs" page)."""
from __future__ import annotations

from flask import Blueprint, jsonify, request
from pydantic import BaseModel, ConfigDict, Field

from devserver.access.control import principal
from devserver.access.workshops import DEFAULT_ID
from devserver.api import context

bp = Blueprint("own_runs", __name__, url_prefix="/api/runs")


class MineQuery(BaseModel):
    """Query of /api/runs/mine: one page, newest first."""

    model_config = ConfigDict(extra="forbid")
    limit: int = Field(30, ge=1, le=200)
    offset: int = Field(0, ge=0, le=1_000_000)


@bp.get("/mine")
def mine():
    """List the caller's own runs, newest first (a student's in their session; staff: the runs they started)."""
    query = MineQuery.model_validate(request.args.to_dict())
    who = principal()
    if who.via == "loopback":  # the one local person owns the whole default session
        filters = {"session": DEFAULT_ID}
    elif who.role == "student":
        filters = {"session": who.session, "student": who.student}
    else:
        filters = {"student": who.owner_id}
    return jsonify(context.recorder().index.list(filters, query.limit, query.offset))

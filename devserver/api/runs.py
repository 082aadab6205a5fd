"""Research API: list, filter, inspect and export recorded runs (open to everyone in this version).

Every run id is validated before it touches the filesystem; filters and pagination are validated with
pydantic (unknown query parameters are rejected, so a typo never silently widens a query).
"""
from __future__ import annotations

from typing import Any, Literal

from flask import Blueprint, Response, current_app, jsonify, request, send_file
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from config import SAFETY_LEVELS
from devserver.api.openapi import declare
from devserver.errors import NotFound, ValidationFailed
from devserver.recorder import export
from devserver.recorder.index import ORDERS, parse_bound
from devserver.recorder.items import STATUSES
from devserver.recorder.recorder import LivePipelineRecorder
from devserver.recorder.run_id import require_run_id
from devserver.schemas.models import MediaType

bp = Blueprint("runs", __name__, url_prefix="/api/runs")

Status = Literal[STATUSES]  # type: ignore[valid-type]
SafetyLevel = Literal[SAFETY_LEVELS]  # type: ignore[valid-type]
Order = Literal[tuple(ORDERS)]  # type: ignore[valid-type]


def _recorder() -> LivePipelineRecorder:
    return current_app.extensions["devserver.recorder"]


class RunFilters(BaseModel):
    """Filters shared by list, stats and bulk export; an empty parameter means "no filter"."""

    model_config = ConfigDict(extra="forbid")

    status: Status | None = None
    schema_id: str | None = Field(None, alias="schema", max_length=100)
    safety_level: SafetyLevel | None = None
    session: str | None = Field(None, max_length=100)
    media_type: MediaType | None = None
    since: str | None = Field(None, max_length=40)
    until: str | None = Field(None, max_length=40)
    q: str | None = Field(None, max_length=200)

    @model_validator(mode="before")
    @classmethod
    def _drop_empty(cls, values: Any) -> Any:
        return {k: v for k, v in values.items() if v != ""} if isinstance(values, dict) else values

    @field_validator("since", "until")
    @classmethod
    def _date(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                parse_bound(value, end=False)
            except ValueError:
                raise ValueError("use a date (2024-05-01) or an ISO 8601 date-time (2024-05-01T10:00:00Z)") from None
        return value

    def filters(self) -> dict[str, Any]:
        """Return the set filters as the index expects them."""
        return self.model_dump(by_alias=True, exclude_none=True, include=set(RunFilters.model_fields))


class ListQuery(RunFilters):
    """Query of /list: the filters plus one page."""

    limit: int = Field(50, ge=1, le=500)
    offset: int = Field(0, ge=0, le=10_000_000)
    order: Order = "-created_at"


class ExportQuery(RunFilters):
    """Query of the bulk export: the filters, one page of at most BULK_LIMIT runs, media or not."""

    limit: int = Field(export.BULK_LIMIT, ge=1, le=export.BULK_LIMIT)
    offset: int = Field(0, ge=0, le=10_000_000)
    order: Order = "-created_at"
    media: bool = True


def _download(result: export.Export) -> Response:
    return send_file(result.body, mimetype=result.mimetype, as_attachment=True, download_name=result.filename)


@bp.get("/list")
def list_runs():
    """List recorded runs matching the filters, a page at a time (newest first by default)."""
    query = ListQuery.model_validate(request.args.to_dict())
    return jsonify(_recorder().index.list(query.filters(), query.limit, query.offset, query.order))


@bp.get("/stats")
def run_stats():
    """Count the matching runs by status, schema, safety level, media type and day."""
    return jsonify(_recorder().index.stats(RunFilters.model_validate(request.args.to_dict()).filters()))


@bp.get("/export")
@declare(content=("application/zip",))
def export_runs():
    """Download the matching runs as one ZIP (at most 500 per request; page with offset)."""
    query = ExportQuery.model_validate(request.args.to_dict())
    page = _recorder().index.list(query.filters(), query.limit, query.offset, query.order)
    response = _download(export.export_many(_recorder(), page, query.filters(), media=query.media))
    response.headers["X-Runs-Total"] = str(page["total"])
    response.headers["X-Runs-Included"] = str(len(page["runs"]))
    response.headers["X-Runs-Truncated"] = str(query.offset + len(page["runs"]) < page["total"]).lower()
    return response


@bp.get("/<run_id>")
def get_run(run_id: str):
    """Return one run's metadata, every item of its log, and its file names."""
    return jsonify(export.run_document(_recorder(), require_run_id(run_id)))


@bp.get("/<run_id>/export/<fmt>")
@declare(content=("application/json", "text/csv", "application/zip"), enums={"fmt": tuple(export.FORMATS)})
def export_run(run_id: str, fmt: str):
    """Download one run as json, csv or zip."""
    require_run_id(run_id)
    if fmt not in export.FORMATS:
        raise ValidationFailed(f"Export format {fmt[:20]!r} is not offered; use one of: {', '.join(export.FORMATS)}.",
                               code="unsupported_export_format", details={"formats": list(export.FORMATS)})
    return _download(export.FORMATS[fmt](_recorder(), run_id))


@bp.get("/<path:rest>")
def unknown_path(rest: str):
    """Reject a hostile id (`../etc`, encoded slashes) with 400; an unknown sub-path of a run is a 404."""
    require_run_id(rest.split("/", 1)[0])
    raise NotFound("No such endpoint. See /api/openapi.json for the list.", code="not_found")

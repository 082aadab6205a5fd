"""Research API: list, filter, inspect and export recorded runs (staff only: see devserver/access/policy.py).

Every run id is validated before it touches the filesystem; filters and pagination are validated with
pydantic (unknown query parameters are rejected, so a typo never silently widens a query).
"""
from __future__ import annotations

from typing import Any, Literal

from flask import Blueprint, Response, current_app, jsonify, request, send_file, stream_with_context
from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from config import SAFETY_LEVELS
from devserver.access.control import control, principal
from devserver.api.openapi import declare
from devserver.api.context import audience
from devserver.engine.projection import project_run
from devserver.errors import NotFound, ValidationFailed
from devserver.recorder import export
from devserver.recorder.index import MODERATION, ORDERS, parse_bound
from devserver.recorder.items import STATUSES
from devserver.recorder.recorder import LivePipelineRecorder
from devserver.recorder.run_id import require_run_id
from devserver.recorder.xmlrecord import XSD_PATH
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
    student: str | None = Field(None, max_length=100)
    media_type: MediaType | None = None
    since: str | None = Field(None, max_length=40)
    until: str | None = Field(None, max_length=40)
    q: str | None = Field(None, max_length=200)
    safety_category: str | None = Field(None, max_length=60, pattern=r"^[a-z0-9_]+$")
    moderation: Literal[tuple(MODERATION)] | None = None  # type: ignore[valid-type]

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
        """Return the set filters as the index expects them (a teacher's limited to their sessions)."""
        chosen = self.model_dump(by_alias=True, exclude_none=True, include=set(RunFilters.model_fields))
        return control().research_filters(principal(), chosen)


class ListQuery(RunFilters):
    """Query of /list: the filters plus one page."""

    limit: int = Field(50, ge=1, le=500)
    offset: int = Field(0, ge=0, le=10_000_000)
    order: Order = "-created_at"


ExportFormat = Literal[("zip", *export.STREAMS)]  # type: ignore[valid-type]


class ExportQuery(RunFilters):
    """Query of the bulk export: the filters, a format, and a page (a ZIP holds at most BULK_LIMIT runs)."""

    format: ExportFormat = "zip"
    limit: int | None = Field(None, ge=1, le=export.STREAM_LIMIT)
    offset: int = Field(0, ge=0, le=10_000_000)
    order: Order = "-created_at"
    media: bool = True

    @field_validator("limit")
    @classmethod
    def _zip_page(cls, limit: int | None, info: ValidationInfo) -> int | None:
        if info.data.get("format", "zip") == "zip" and (limit or 0) > export.BULK_LIMIT:
            raise ValueError(f"a ZIP built at once holds at most {export.BULK_LIMIT} runs; prepare a larger one with "
                             "POST /api/exports, or stream the texts with format=jsonl, csv, json, xml or otel")
        return limit


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


def matching_ids(filters: dict[str, Any], limit: int, offset: int, order: str) -> tuple[list[str], int]:
    """Return the ids of the matching runs in order (ids only: a bulk export never loads all runs) and the total."""
    ids: list[str] = []
    total, wanted = 0, limit
    while len(ids) < wanted:
        page = _recorder().index.list(filters, min(1000, wanted - len(ids)), offset, order)
        total = page["total"]
        ids += [row["run_id"] for row in page["runs"]]
        if len(page["runs"]) < page["limit"]:
            break
        offset += len(page["runs"])
    return ids, total


@bp.get("/export")
@declare(content=("application/zip", "application/jsonl", "application/json", "text/csv", "application/xml"))
def export_runs():
    """Download the matching runs: a small ZIP with media (at most 50 runs), or a streamed text format."""
    query = ExportQuery.model_validate(request.args.to_dict())
    if query.format != "zip":
        run_ids, total = matching_ids(query.filters(), query.limit or export.STREAM_LIMIT, query.offset, query.order)
        stream = export.stream_many(_recorder(), run_ids, query.format)
        response = Response(stream_with_context(stream.chunks), mimetype=stream.mimetype, headers={
            "Content-Disposition": f'attachment; filename="{stream.filename}"', "X-Runs-Total": str(total),
            "X-Runs-Included": str(len(run_ids))})
        return response
    page = _recorder().index.list(query.filters(), query.limit or export.BULK_LIMIT, query.offset, query.order)
    response = _download(export.export_many(_recorder(), page, query.filters(), media=query.media))
    response.headers["X-Runs-Total"] = str(page["total"])
    response.headers["X-Runs-Included"] = str(len(page["runs"]))
    response.headers["X-Runs-Truncated"] = str(query.offset + len(page["runs"]) < page["total"]).lower()
    return response


@bp.get("/record.xsd")
@declare(content=("application/xml",))
def record_schema():
    """Return the XML Schema that every XML export validates against."""
    return send_file(XSD_PATH, mimetype="application/xml", max_age=3600)


@bp.get("/<run_id>")
def get_run(run_id: str):
    """Return one run's record: in full (metadata, every item, file names) for staff, else the student projection."""
    return jsonify(project_run(export.run_document(_recorder(), require_run_id(run_id)), audience()))


@bp.get("/<run_id>/export/<fmt>")
@declare(content=("application/json", "application/jsonl", "text/csv", "application/zip", "application/xml",
                  "application/pdf"), enums={"fmt": tuple(export.FORMATS)})
def export_run(run_id: str, fmt: str):
    """Download one run as json, jsonl, csv, zip, xml, pdf or otel (OTLP/JSON)."""
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

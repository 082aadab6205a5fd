"""Accessors for the per-app services stored in `app.extensions` (so handlers stay thin)."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from flask import current_app, g, request

from werkzeug.exceptions import HTTPException, MethodNotAllowed

from devserver.errors import NotFound, ValidationFailed
from devserver.recorder.run_id import require_run_id

from config import LANGUAGES

if TYPE_CHECKING:
    from config import Config
    from devserver.backends.registry import BackendRegistry
    from devserver.schemas.catalog import Catalog


def config() -> "Config":
    return current_app.extensions["devserver.config"]


def catalog() -> "Catalog":
    return current_app.extensions["devserver.catalog"]


def backends() -> "BackendRegistry":
    return current_app.extensions["devserver.backends"]


def version() -> str:
    return current_app.extensions["devserver.version"]


def lang() -> str:
    """Return the requested UI language (`?lang=de|en`, default from config)."""
    value = request.args.get("lang", "")
    return value if value in LANGUAGES else config().DEFAULT_LANGUAGE


def orchestrator() -> Any:
    return current_app.extensions["devserver.orchestrator"]


def recorder() -> Any:
    return current_app.extensions["devserver.recorder"]


def availability() -> Any:
    return current_app.extensions["devserver.availability"]


def router() -> Any:
    return current_app.extensions["devserver.router"]


def safety() -> Any:
    return current_app.extensions["devserver.safety"]


def json_body() -> dict[str, Any]:
    """Return the request's JSON object, or raise `invalid_json` (never a pydantic error about None)."""
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise ValidationFailed("Send a JSON object as the request body.", code="invalid_json")
    return data


def unknown_path(run_id: str | None) -> None:
    """Answer a path no route matched: a malformed run id is a 400, another method's route a 405, else 404."""
    if run_id is not None:
        require_run_id(run_id)
    adapter = current_app.url_map.bind_to_environ(request.environ)
    allowed = []
    for method in ("GET", "POST", "PUT", "PATCH", "DELETE"):
        try:
            endpoint, _ = adapter.match(method=method)
        except HTTPException:
            continue
        if endpoint != request.endpoint:
            allowed.append(method)
    if allowed:
        raise MethodNotAllowed(valid_methods=allowed)
    raise NotFound("No such endpoint. See /api/openapi.json for the list.")


def audience() -> str:
    """Return who is asking, for `devserver.engine.projection`: staff see the full record, everyone else
    (students, the loopback default person, an app without the access guard) the student projection."""
    caller = g.get("principal")
    return "staff" if caller is not None and caller.is_staff else "student"

"""`GET /api/openapi.json`: an OpenAPI 3.1 document of every `/api` route.

Paths come from the app's own URL map (so a new route can't be forgotten: a test checks every route
has a summary here). What the map cannot tell — the pydantic model of a request body, the content
types of the answer, the allowed values of a path parameter — a view declares with `@declare(...)`.
Catch-all routes (`<path:...>`, which only turn unknown paths into 400/404) are not operations.
"""
from __future__ import annotations

import re
from typing import Any

from flask import Blueprint, current_app, jsonify

from devserver.access.policy import rule_for
from devserver.api import context

bp = Blueprint("openapi", __name__, url_prefix="/api")

MEDIA_MIMES = ("image/png", "image/jpeg", "image/webp", "image/gif", "audio/mpeg", "audio/wav", "audio/flac",
               "audio/ogg", "video/mp4", "video/webm", "text/javascript", "text/plain")


def declare(*, body: Any = None, content: tuple[str, ...] = ("application/json",),
            enums: dict[str, tuple[str, ...]] | None = None) -> Any:
    """Attach what the URL map cannot tell to a view: its request body model (or one per value of a path
    parameter), the content types of its 200 answer, and the allowed values of its path parameters."""
    def attach(view: Any) -> Any:
        view.openapi = {"body": body, "content": content, "enums": enums or {}}
        return view
    return attach


ERROR = {"$ref": "#/components/schemas/Error"}
ERROR_RESPONSES = {"400": "Invalid request", "401": "No or invalid credentials (log in, join, or send a token)",
                   "403": "Not allowed for this role, or CSRF/Origin check failed", "404": "Not found",
                   "405": "Method not allowed", "409": "Conflict (run id reused, run busy or finished)",
                   "413": "Request body too large", "414": "Address too long",
                   "429": "Too many requests, runs waiting or streams open (see Retry-After)",
                   "500": "Server error (never a traceback)"}
ERROR_SCHEMA = {"type": "object", "required": ["error"], "properties": {"error": {
    "type": "object", "required": ["code", "message", "details"],
    "properties": {"code": {"type": "string"}, "message": {"type": "string"}, "details": {"type": "object"}}}}}


def documents_body(model: Any) -> Any:
    """Mark a view as taking `model` as its JSON body, so the document shows it."""
    def mark(view: Any) -> Any:
        view.request_body = model
        return view
    return mark


def _openapi_path(rule: str) -> tuple[str, list[tuple[str, str]]]:
    params = [(name, "integer" if conv == "int" else "string")
              for conv, name in re.findall(r"<(?:([^:<>]+):)?([^<>]+)>", rule)]
    return re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule), params


def _schema_ref(model: Any, components: dict[str, Any]) -> dict[str, str]:
    schema = model.model_json_schema(ref_template="#/components/schemas/{model}", by_alias=True)
    components.update(schema.pop("$defs", {}))
    components[model.__name__] = schema
    return {"$ref": f"#/components/schemas/{model.__name__}"}


def _operation(view: Any, path: str, method: str, params: list[tuple[str, str]],
               components: dict[str, Any]) -> dict[str, Any]:
    doc = (view.__doc__ or "").strip().splitlines()
    facts = getattr(view, "openapi", {"body": None, "content": ("application/json",), "enums": {}})
    op: dict[str, Any] = {
        "summary": doc[0] if doc else path,
        "operationId": f"{method}_" + re.sub(r"[^a-zA-Z0-9]+", "_", path.removeprefix("/api/")).strip("_"),
        "parameters": [{"name": p, "in": "path", "required": True,
                        "schema": {"type": t, **({"enum": list(facts["enums"][p])} if p in facts["enums"] else {})}}
                       for p, t in params],
        "responses": {"200": {"description": "OK", "content": {mime: {} for mime in facts["content"]}},
                      **{code: {"description": text, "content": {"application/json": {"schema": ERROR}}}
                         for code, text in ERROR_RESPONSES.items()}},
    }
    body = facts["body"] if facts["body"] is not None else getattr(view, "request_body", None)
    if method not in ("post", "put", "patch"):
        body = None
    if isinstance(body, dict):  # one model per value of a path parameter (the pipeline phase)
        op["requestBody"] = {"required": True, "content": {"application/json": {"schema": {
            "oneOf": [_schema_ref(model, components) for model in body.values()]}}},
            "description": "The body's model depends on {phase}: " + ", ".join(
                f"{k} → {m.__name__}" for k, m in body.items())}
        op["parameters"].append({"name": "wait", "in": "query", "required": False,
                                 "schema": {"type": "number", "minimum": 0, "maximum": 300},
                                 "description": "block up to N seconds"})
        op["responses"]["202"] = {"description": "Accepted: {run_id, status, status_url, events_url}",
                                  "content": {"application/json": {}}}
    elif body is not None:
        schema = _schema_ref(body, components)
        op["requestBody"] = {"required": True, "content": {"application/json": {"schema": schema}}}
    return op


def build_document() -> dict[str, Any]:
    """Return the OpenAPI document for the current app's /api routes."""
    components: dict[str, Any] = {"Error": ERROR_SCHEMA}
    paths: dict[str, Any] = {}
    for rule in current_app.url_map.iter_rules():
        if not rule.rule.startswith("/api/") or "<path:" in rule.rule:
            continue  # a catch-all that only turns unknown paths into 400/404 is not an operation
        path, params = _openapi_path(rule.rule)
        view = current_app.view_functions[rule.endpoint]
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            op = _operation(view, path, method.lower(), params, components)
            op["x-access"] = rule_for(rule.endpoint).who  # who may call it (devserver/access/policy.py)
            paths.setdefault(path, {})[method.lower()] = op
    return {"openapi": "3.1.0",
            "info": {"title": "DevServer API", "version": context.version(),
                     "description": "Creative-AI workshop server. Errors: {error: {code, message, details}}."},
            "paths": dict(sorted(paths.items())), "components": {"schemas": components}}


@bp.get("/openapi.json")
def openapi():
    """Return the OpenAPI 3.1 document of this API."""
    return jsonify(build_document())

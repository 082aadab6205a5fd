"""`GET /api/openapi.json`: an OpenAPI 3.1 document of every `/api` route.

Paths come from the app's own URL map (so a new route can't be forgotten: a test checks every route
has a summary here); request bodies come from the pydantic models the handlers validate with.
"""
from __future__ import annotations

import re
from typing import Any

from flask import Blueprint, current_app, jsonify

from devserver.access.policy import rule_for
from devserver.api import context
from devserver.engine.requests import ExecuteRequest, GenerationRequest, OptimizeRequest, Stage2Request

bp = Blueprint("openapi", __name__, url_prefix="/api")

BODIES: dict[str, Any] = {
    "/api/schema/pipeline/{phase}": {"execute": ExecuteRequest, "stage2": Stage2Request,
                                     "optimize": OptimizeRequest, "generation": GenerationRequest},
}
ERROR = {"$ref": "#/components/schemas/Error"}
ERROR_RESPONSES = {"400": "Invalid request", "401": "No or invalid credentials (log in, join, or send a token)",
                   "403": "Not allowed for this role, or CSRF/Origin check failed", "404": "Not found",
                   "405": "Method not allowed", "409": "Conflict (run id reused, run busy or finished)",
                   "413": "Request body too large", "429": "Too many requests (see Retry-After)",
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


def _operation(view: Any, path: str, method: str, params: list[tuple[str, str]],
               components: dict[str, Any]) -> dict[str, Any]:
    doc = (view.__doc__ or "").strip().splitlines()
    op: dict[str, Any] = {
        "summary": doc[0] if doc else path,
        "operationId": f"{method}_" + re.sub(r"[^a-zA-Z0-9]+", "_", path.removeprefix("/api/")).strip("_"),
        "parameters": [{"name": p, "in": "path", "required": True, "schema": {"type": t}} for p, t in params],
        "responses": {"200": {"description": "OK", "content": {"application/json": {}}},
                      **{code: {"description": text, "content": {"application/json": {"schema": ERROR}}}
                         for code, text in ERROR_RESPONSES.items()}},
    }
    model = getattr(view, "request_body", None)
    if model is not None and method in ("post", "put", "patch"):
        schema = model.model_json_schema(ref_template="#/components/schemas/{model}", by_alias=True)
        components.update(schema.pop("$defs", {}))
        components[model.__name__] = schema
        op["requestBody"] = {"required": True, "content": {"application/json": {
            "schema": {"$ref": f"#/components/schemas/{model.__name__}"}}}}
    if path in BODIES and method == "post":
        variants = []
        for model in BODIES[path].values():
            schema = model.model_json_schema(ref_template="#/components/schemas/{model}", by_alias=True)
            components.update(schema.pop("$defs", {}))
            components[model.__name__] = schema
            variants.append({"$ref": f"#/components/schemas/{model.__name__}"})
        op["requestBody"] = {"required": True, "content": {"application/json": {"schema": {"oneOf": variants}}},
                             "description": "The body's model depends on {phase}: " + ", ".join(
                                 f"{k} → {m.__name__}" for k, m in BODIES[path].items())}
        op["parameters"].append({"name": "wait", "in": "query", "required": False,
                                 "schema": {"type": "number"}, "description": "block up to N seconds"})
        op["responses"]["202"] = {"description": "Accepted: {run_id, status, status_url, events_url}"}
    return op


def build_document() -> dict[str, Any]:
    """Return the OpenAPI document for the current app's /api routes."""
    components: dict[str, Any] = {"Error": ERROR_SCHEMA}
    paths: dict[str, Any] = {}
    for rule in current_app.url_map.iter_rules():
        if not rule.rule.startswith("/api/"):
            continue
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

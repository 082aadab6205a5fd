"""The one error envelope: `{"error": {"code", "message", "details"}}`.

Exception tree (every class carries an HTTP status and a machine-readable code)::

    AppError
    ├── ValidationFailed        400  bad request body or query (pydantic errors in details)
    ├── Unauthorized            401  no credentials (log in, join a session, send a token) or invalid ones
    ├── Forbidden               403  the caller's role may not do this; CSRF or Origin check failed
    ├── NotFound                404  unknown config, run, entity, media
    ├── Conflict                409  run id reused for a different request, run not cancellable
    ├── ConfigError             500  schema files invalid, model role unknown, backend not configured
    ├── SafetyBlocked           422  a checkpoint blocked the text (details carry the verdict)
    ├── TooBusy                 429  our own limit: come back after `retry_after` seconds (Retry-After)
    └── BackendError            502  a provider failed
        ├── BackendUnavailable  503  not reachable / not configured / in cooldown
        │   └── BackendMisconfigured 503  our setup is wrong (missing node/model, rejected workflow):
        │                                 never retried, never counted toward a cooldown
        ├── BackendTimeout      504  no answer within the timeout
        ├── BackendRateLimited  429  provider asked us to slow down (retry_after in details)
        └── BackendBadResponse  502  malformed, mid-stream error, 200-with-error body

Handlers registered by `register_error_handlers` turn these, Werkzeug's HTTP errors and pydantic
validation errors into the envelope for `/api/*`; a 500 never leaks a traceback.
"""
from __future__ import annotations

import logging
from typing import Any

from flask import Flask, Response, jsonify, request
from pydantic import ValidationError
from werkzeug.exceptions import HTTPException

from devserver.redaction import redact, redact_text

log = logging.getLogger(__name__)


class AppError(Exception):
    """Base of every error the API reports in the envelope."""

    status = 500
    code = "internal_error"

    def __init__(self, message: str, *, code: str | None = None, details: dict[str, Any] | None = None,
                 status: int | None = None):
        message = redact_text(message)  # a provider may echo our API key in what it says
        super().__init__(message)
        self.message = message
        self.details = redact(details or {})
        if code:
            self.code = code
        if status:
            self.status = status

    def to_dict(self) -> dict[str, Any]:
        """Return the envelope body (secret values redacted again: details may have grown since)."""
        return {"error": {"code": self.code, "message": redact_text(self.message), "details": redact(self.details)}}


class ValidationFailed(AppError):
    status, code = 400, "validation_failed"


class Unauthorized(AppError):
    status, code = 401, "unauthorized"


class Forbidden(AppError):
    status, code = 403, "forbidden"


class NotFound(AppError):
    status, code = 404, "not_found"


class Conflict(AppError):
    status, code = 409, "conflict"


class ConfigError(AppError):
    status, code = 500, "config_error"


class SafetyBlocked(AppError):
    status, code = 422, "safety_blocked"


class TooBusy(AppError):
    """429 from one of our own limits (runs waiting, streams, exports, runs or uploads per minute): waiting
    helps, and the answer says how long (`retry_after` in details and the Retry-After header)."""

    status, code = 429, "too_busy"

    def __init__(self, message: str, *, retry_after: int, **kwargs: Any):
        super().__init__(message, **kwargs)
        self.retry_after = retry_after
        self.details["retry_after"] = retry_after


class BackendError(AppError):
    status, code = 502, "backend_error"

    def __init__(self, message: str, *, backend: str = "", retryable: bool = False, **kwargs: Any):
        super().__init__(message, **kwargs)
        self.backend = backend
        self.retryable = retryable
        if backend:
            self.details.setdefault("backend", backend)


class BackendUnavailable(BackendError):
    status, code = 503, "backend_unavailable"


class BackendMisconfigured(BackendUnavailable):
    status, code = 503, "backend_misconfigured"


class BackendTimeout(BackendError):
    status, code = 504, "backend_timeout"


class BackendRateLimited(BackendError):
    status, code = 429, "backend_rate_limited"

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: Any):
        super().__init__(message, **kwargs)
        self.retry_after = retry_after
        if retry_after is not None:
            self.details["retry_after"] = retry_after


class BackendBadResponse(BackendError):
    status, code = 502, "backend_bad_response"


def pydantic_details(exc: ValidationError) -> dict[str, Any]:
    """Turn pydantic errors into a JSON-safe list of {field, problem}."""
    return {"problems": [
        {"field": ".".join(str(p) for p in err["loc"]) or "(body)", "problem": err["msg"]}
        for err in exc.errors(include_url=False)
    ]}


def error_response(err: AppError) -> tuple[Response, int]:
    """Render an AppError as the envelope with its status."""
    response = jsonify(err.to_dict())
    retry_after = getattr(err, "retry_after", None)  # any 429 that knows when to come back says so
    if retry_after is not None:
        response.headers["Retry-After"] = str(int(retry_after + 0.999))
    return response, err.status


def register_error_handlers(app: Flask) -> None:
    """Make every error under /api/* come back in the envelope."""

    @app.errorhandler(AppError)
    def _app_error(err: AppError):
        return error_response(err)

    @app.errorhandler(ValidationError)
    def _pydantic_error(err: ValidationError):
        return error_response(ValidationFailed("The request is not valid.", details=pydantic_details(err)))

    @app.errorhandler(HTTPException)
    def _http_error(err: HTTPException):
        if not (request.path == "/api" or request.path.startswith("/api/")):
            return err
        code = (err.name or "http_error").lower().replace(" ", "_")
        message = {
            404: "No such endpoint. See /api/openapi.json for the list.",
            405: f"Method {request.method} is not allowed here.",
            413: "The request body is too large.",
        }.get(err.code or 0, err.description or err.name)
        response, status = error_response(AppError(message, code=code, status=err.code or 500))
        for name, value in err.get_headers():  # keep Allow (405), Retry-After ...; the body is ours
            if name.lower() != "content-type":
                response.headers[name] = value
        return response, status

    @app.errorhandler(Exception)
    def _unexpected(err: Exception):
        # at most 200 characters of the path: a hostile 20,000-character path must not flood the log
        log.exception("unhandled error on %s %s", request.method, request.path[:200])
        return error_response(AppError("Something went wrong on the server. The error was logged."))

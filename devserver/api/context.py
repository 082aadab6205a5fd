"""Accessors for the per-app services stored in `app.extensions` (so handlers stay thin)."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from flask import current_app, request

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

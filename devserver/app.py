"""The app factory: builds config, schema catalog, backends and blueprints. Nothing runs at import."""
from __future__ import annotations

import logging
from typing import Any, Mapping

from flask import Flask

from config import MODEL_ROLES, SAFETY_LEVELS, Config
from devserver import api
from devserver.backends.registry import build_registry, known_backend_ids
from devserver.errors import ConfigError, register_error_handlers
from devserver.schemas.catalog import Catalog

VERSION = "0.1.0"


def create_app(overrides: Mapping[str, Any] | None = None, config: Config | None = None) -> Flask:
    """Build a fully wired app; `overrides` replace Config attributes by name (tests use this)."""
    cfg = (config or Config.from_env()).with_overrides(overrides)
    if cfg.DEFAULT_SAFETY_LEVEL not in SAFETY_LEVELS:
        raise ConfigError(f"DEFAULT_SAFETY_LEVEL must be one of {', '.join(SAFETY_LEVELS)}")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    app = Flask(__name__, static_folder=None)
    app.config.update(TESTING=cfg.TESTING, MAX_CONTENT_LENGTH=cfg.MAX_CONTENT_LENGTH, JSON_SORT_KEYS=False)
    app.json.ensure_ascii = False  # type: ignore[attr-defined]
    app.json.sort_keys = False  # type: ignore[attr-defined]
    app.extensions["devserver.config"] = cfg
    app.extensions["devserver.version"] = VERSION
    app.extensions["devserver.catalog"] = Catalog(cfg.SCHEMAS_DIR, MODEL_ROLES, known_backend_ids()).load()
    app.extensions["devserver.backends"] = build_registry(cfg)

    register_error_handlers(app)
    api.register(app)
    return app

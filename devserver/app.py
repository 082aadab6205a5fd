"""The app factory: builds config, schema catalog, backends, safety, recorder and orchestrator.

Nothing runs at import time; per-app state lives in `app.extensions`.
"""
from __future__ import annotations

import logging
from typing import Any, Mapping

from flask import Flask

from config import MODEL_ROLES, SAFETY_LEVELS, Config
from devserver import api
from devserver.backends.availability import AvailabilityChecker
from devserver.backends.registry import build_registry, known_backend_ids
from devserver.backends.router import Router
from devserver.engine.orchestrator import Orchestrator, Services
from devserver.safety.service import build_safety
from devserver.errors import ConfigError, register_error_handlers
from devserver.recorder import LivePipelineRecorder
from devserver.schemas.catalog import Catalog

VERSION = "0.1.0"
log = logging.getLogger(__name__)


def create_app(overrides: Mapping[str, Any] | None = None, config: Config | None = None) -> Flask:
    """Build a fully wired app; `overrides` replace Config attributes by name (tests use this)."""
    cfg = (config or Config.from_env()).with_overrides(overrides)
    if cfg.DEFAULT_SAFETY_LEVEL not in SAFETY_LEVELS:
        raise ConfigError(f"DEFAULT_SAFETY_LEVEL must be one of {', '.join(SAFETY_LEVELS)}")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    app = Flask(__name__, static_folder=None)
    app.config.update(TESTING=cfg.TESTING, MAX_CONTENT_LENGTH=cfg.MAX_CONTENT_LENGTH)
    app.json.ensure_ascii = False  # type: ignore[attr-defined]
    app.json.sort_keys = False  # type: ignore[attr-defined]

    catalog = Catalog(cfg.SCHEMAS_DIR, MODEL_ROLES, known_backend_ids()).load()
    registry = build_registry(cfg)
    router = Router(registry, cfg)
    for backend in registry:
        backend.attach(router)
    recorder = LivePipelineRecorder(cfg.EXPORTS_DIR, fsync=not cfg.TESTING)
    interrupted = recorder.mark_interrupted()
    if interrupted:
        log.warning("%d run(s) left unfinished by the last shutdown are now marked interrupted", interrupted)
    safety = build_safety(cfg, router.chat, see=router.chat_model, complete=router.complete,
                          capabilities=router.model_capabilities)
    orchestrator = Orchestrator(Services(catalog, router, safety, recorder, cfg), workers=cfg.RUN_WORKERS)

    app.extensions.update({
        "devserver.config": cfg, "devserver.version": VERSION, "devserver.catalog": catalog,
        "devserver.backends": registry, "devserver.router": router, "devserver.safety": safety,
        "devserver.recorder": recorder, "devserver.orchestrator": orchestrator,
        "devserver.availability": AvailabilityChecker(registry, router, cfg, cfg.AVAILABILITY_CACHE_SECONDS),
    })
    register_error_handlers(app)
    api.register(app)
    return app


def shutdown(app: Flask) -> None:
    """Stop the app's run workers and release its backends (loaded models, connections)."""
    app.extensions["devserver.orchestrator"].shutdown()
    app.extensions["devserver.backends"].close()

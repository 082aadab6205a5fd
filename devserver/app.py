"""The app factory: builds config, schema catalog, backends, safety, recorder and orchestrator.

Nothing runs at import time; per-app state lives in `app.extensions`.
"""
from __future__ import annotations

import logging
from typing import Any, Mapping

from flask import Flask

from config import MODEL_ROLES, SAFETY_LEVELS, Config
from devserver import access, api
from devserver.backends.availability import AvailabilityChecker
from devserver.backends.registry import build_registry, known_backend_ids
from devserver.backends.router import Router
from devserver.engine.orchestrator import Orchestrator, Services
from devserver.safety.service import build_safety
from devserver.errors import ConfigError, NotFound, register_error_handlers
from devserver.recorder import LivePipelineRecorder
from devserver.recorder.export_jobs import ExportJobs
from devserver.recorder.items import now_iso
from devserver.recorder.retention import Retention
from devserver.schemas.catalog import Catalog
from devserver.teacher import setup as teacher_setup

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
    orchestrator = Orchestrator(Services(catalog, router, safety, recorder, cfg), workers=cfg.RUN_WORKERS,
                                queue_max=cfg.RUN_QUEUE_MAX)

    app.extensions.update({
        "devserver.config": cfg, "devserver.version": VERSION, "devserver.catalog": catalog,
        "devserver.backends": registry, "devserver.router": router, "devserver.safety": safety,
        "devserver.recorder": recorder, "devserver.orchestrator": orchestrator,
        "devserver.availability": AvailabilityChecker(registry, router, cfg, cfg.AVAILABILITY_CACHE_SECONDS),
    })
    teacher_setup.install(app, cfg, catalog, safety, recorder, orchestrator)
    register_error_handlers(app)
    access.init_app(app, cfg)
    install_retention(app, cfg)
    jobs = ExportJobs(recorder, cfg.EXPORTS_DIR / "export_jobs", keep_seconds=cfg.EXPORT_JOB_KEEP_SECONDS,
                      max_active=cfg.EXPORT_JOBS_MAX)
    app.extensions["devserver.export_jobs"] = jobs
    if not cfg.TESTING:
        jobs.run_sweeps()
    api.register(app)
    return app


def install_retention(app: Flask, cfg: Config) -> Retention:
    """Wire deletion and the retention sweep: periods from the sessions, entries into the audit log."""
    workshops = app.extensions["devserver.access"].workshops
    teacher_db = app.extensions["devserver.teacher_db"]

    def days(session: str | None) -> int:
        try:
            own = workshops.get(session).retention_days if session else 0
        except NotFound:  # a session that no longer exists: the server's default period
            own = 0
        return own or cfg.RETENTION_DAYS

    def audit(session: str | None, run_id: str, actor: str, reason: str) -> None:
        teacher_db.execute("INSERT INTO moderation_audit (session_id, run_id, action, actor, reason, created_at) "
                           "VALUES (?, ?, 'delete', ?, ?, ?)", (session, run_id, actor, reason, now_iso()))

    retention = Retention(app.extensions["devserver.recorder"], days, audit,
                          forget=app.extensions["devserver.orchestrator"].forget)
    app.extensions["devserver.retention"] = retention
    if not cfg.TESTING:
        retention.start(cfg.RETENTION_FIRST_SWEEP_SECONDS, cfg.RETENTION_SWEEP_SECONDS)
    return retention


def shutdown(app: Flask) -> None:
    """Stop the app's run workers and release its backends (loaded models, connections)."""
    app.extensions["devserver.retention"].stop()
    app.extensions["devserver.export_jobs"].close()
    app.extensions["devserver.orchestrator"].shutdown()
    app.extensions["devserver.backends"].close()
    app.extensions["devserver.teacher_db"].close()
    app.extensions["devserver.access_db"].close()

"""HTTP API: one blueprint per resource, registered here (the web app's catch-all last)."""
from __future__ import annotations

from flask import Flask

from devserver.api import (attitudes, auth, config_editor, configs, exports, favicon, frontend, guards, health,
                           media, moderation, openapi, own_runs, pipeline, retention, runs, safety, sessions,
                           storyboard, uploads)


def register(app: Flask) -> None:
    """Attach every blueprint to the app, and the guards every route shares."""
    guards.register(app)
    for module in (configs, config_editor, health, safety, pipeline, storyboard, uploads, media, runs, exports,
                   retention, moderation, attitudes, openapi, auth, sessions, own_runs, favicon, frontend):
        app.register_blueprint(module.bp)

"""HTTP API: one blueprint per resource, registered here (the web app's catch-all last)."""
from __future__ import annotations

from flask import Flask

from devserver.api import configs, frontend, guards, health, media, openapi, pipeline, runs, safety


def register(app: Flask) -> None:
    """Attach every blueprint to the app, and the guards every route shares."""
    guards.register(app)
    for module in (configs, health, safety, pipeline, media, runs, openapi, frontend):
        app.register_blueprint(module.bp)

"""HTTP API: one blueprint per resource, registered here (the web app's catch-all last)."""
from __future__ import annotations

from flask import Flask

from devserver.api import config_editor, configs, frontend, health, media, moderation, openapi, pipeline, runs, safety


def register(app: Flask) -> None:
    """Attach every blueprint to the app."""
    for module in (configs, config_editor, health, safety, pipeline, media, runs, moderation, openapi, frontend):
        app.register_blueprint(module.bp)

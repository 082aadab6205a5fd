"""HTTP API: one blueprint per resource, registered here (the web app's catch-all last)."""
from __future__ import annotations

from flask import Flask

from devserver.api import (auth, configs, favicon, frontend, health, media, openapi, own_runs, pipeline, runs, safety,
                           sessions)


def register(app: Flask) -> None:
    """Attach every blueprint to the app."""
    for module in (configs, health, safety, pipeline, media, runs, openapi, auth, sessions, own_runs, favicon,
                   frontend):
        app.register_blueprint(module.bp)

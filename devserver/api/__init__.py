"""HTTP API: one blueprint per resource, registered here."""
from __future__ import annotations

from flask import Flask

from devserver.api import configs, health


def register(app: Flask) -> None:
    """Attach every blueprint to the app."""
    for module in (configs, health):
        app.register_blueprint(module.bp)

"""Serve the built Vue app at `/`; history-mode routes fall back to index.html, `/api/*` never does."""
from __future__ import annotations

from flask import Blueprint, abort, send_from_directory
from werkzeug.routing import PathConverter

from devserver.api import context

bp = Blueprint("frontend", __name__)


class AppPathConverter(PathConverter):
    """A path that is not under /api: the catch-all must never shadow an API route (or its 405)."""

    regex = r"(?!api(?:/|$))[^/].*?"


@bp.record_once
def _register_converter(state) -> None:
    state.app.url_map.converters["app_path"] = AppPathConverter


@bp.get("/")
@bp.get("/<app_path:path>")
def app_shell(path: str = ""):
    """Return a built asset, or index.html for the app's own routes."""
    dist = context.config().FRONTEND_DIST
    if path and (dist / path).is_file():
        return send_from_directory(dist, path, max_age=31536000 if path.startswith("assets/") else 0)
    if not (dist / "index.html").is_file():
        abort(404, description="The web app is not built: run ./start_devserver.sh (it builds it).")
    if "." in path.rsplit("/", 1)[-1]:
        abort(404)  # a missing asset is a 404, not the app shell
    return send_from_directory(dist, "index.html", max_age=0)

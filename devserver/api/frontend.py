"""Serve the built Vue app at `/`; history-mode routes fall back to index.html, `/api/*` never does."""
from __future__ import annotations

from pathlib import Path

from flask import Blueprint, abort, send_from_directory
from werkzeug.routing import PathConverter
from werkzeug.security import safe_join

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
    asset = safe_join(str(dist), path) if path else None
    if path and asset is None:
        abort(404)  # `..` or an absolute path: never test a file outside dist/ (a path oracle)
    if asset and _is_file(asset):
        return send_from_directory(dist, path, max_age=31536000 if path.startswith("assets/") else 0)
    if not (dist / "index.html").is_file():
        abort(404, description="The web app is not built: run ./start_devserver.sh (it builds it).")
    if "." in path.rsplit("/", 1)[-1]:
        abort(404)  # a missing asset is a 404, not the app shell
    return send_from_directory(dist, "index.html", max_age=0)


def _is_file(path: str) -> bool:
    try:
        return Path(path).is_file()
    except OSError:  # a name too long for the filesystem is simply not there
        return False

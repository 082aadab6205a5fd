"""The site icon, so browsers (which ask for one on every page) get an answer instead of a 404."""
from __future__ import annotations

from flask import Blueprint, Response

bp = Blueprint("favicon", __name__)

# A palette with three bands: the app's stages, drawn as an SVG of a few hundred bytes.
ICON = """<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 64 64">
<rect width="64" height="64" rx="14" fill="#1d3557"/>
<circle cx="22" cy="24" r="9" fill="#e63946"/>
<circle cx="42" cy="24" r="9" fill="#f1c453"/>
<circle cx="32" cy="42" r="9" fill="#4cc9f0"/>
</svg>
"""


@bp.get("/favicon.ico")
@bp.get("/favicon.svg")
def favicon():
    """Return the site icon (SVG, cached for a day)."""
    return Response(ICON, mimetype="image/svg+xml", headers={"Cache-Control": "public, max-age=86400"})

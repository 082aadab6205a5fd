"""Media endpoints: one handler for every media type, checked against the run's record.

A generated p5.js sketch also has a page of its own (`sketch_frame`) that the app shows in an iframe
with `sandbox="allow-scripts"`. The page carries its own strict policy (see `SKETCH_POLICY`), so the
app's policy needs no inline scripts, and the sketch runs in an opaque origin: no cookies, no access
to the app, no network.
"""
from __future__ import annotations

import secrets
from typing import Any

from flask import Blueprint, Response, jsonify, send_file

from devserver.api import context
from devserver.api.openapi import MEDIA_MIMES, declare
from devserver.engine.projection import project_status
from devserver.errors import NotFound
from devserver.recorder.run_id import require_run_id

bp = Blueprint("media", __name__, url_prefix="/api/media")
MEDIA_TYPES = ("image", "audio", "music", "video", "code", "text")


# The sketch page's policy: p5.js and the sketch by nonce, nothing else loads or connects; it is sandboxed
# even when opened on its own, and only this server's pages may frame it.
SKETCH_POLICY = ("default-src 'none'; script-src 'nonce-{nonce}'; style-src 'unsafe-inline'; img-src data: blob:; "
                 "base-uri 'none'; form-action 'none'; frame-ancestors 'self'; sandbox allow-scripts")
SKETCH_PAGE = """<!doctype html><html><head><meta charset="utf-8">
<style>html,body{{margin:0}}canvas{{display:block;max-width:100%;height:auto!important}}</style>
<script nonce="{nonce}" src="/vendor/p5.min.js"></script></head><body>
<script nonce="{nonce}">if (typeof p5 === 'undefined') parent.postMessage('p5-missing', '*')</script>
<script nonce="{nonce}">{code}</script>
</body></html>"""


def _script_safe(code: str) -> str:
    """Keep generated code from ending the script element early (`</script`) or nesting one (`<!--`)."""
    return code.replace("</", "<\\/").replace("<!--", "<\\!--")


def _outputs(run_id: str) -> list[dict[str, Any]]:
    # only finished outputs: a picture is saved before its image check ends, and must not be served until then
    return [o for o in context.orchestrator().status(run_id).get("outputs") or []
            if o.get("file") and o.get("status") == "succeeded"]


@bp.get("/info/<run_id>")
def info(run_id: str):
    """List the run's media files with type, MIME and URL."""
    run_id = require_run_id(run_id)
    return jsonify({"run_id": run_id, "media": [
        {k: o.get(k) for k in ("index", "output_config", "media_type", "mime", "url", "seed", "model", "backend")}
        for o in _outputs(run_id)]})


@bp.get("/run/<run_id>")
def run_media(run_id: str):
    """Return the run's status together with its media list (one call for a gallery view)."""
    run_id = require_run_id(run_id)
    status = project_status(context.orchestrator().status(run_id), context.audience())
    return jsonify({"run": status, "media": [o for o in status.get("outputs") or []
                                             if o.get("file") and o.get("status") == "succeeded"]})


@bp.get("/code/<run_id>/<int:index>/frame")
@declare(content=("text/html",))
def sketch_frame(run_id: str, index: int):
    """Serve a generated p5.js sketch as a sandboxed page of its own, under its own strict policy."""
    run_id = require_run_id(run_id)
    output = next((o for o in _outputs(run_id) if o["index"] == index and o["media_type"] == "code"), None)
    if output is None:
        raise NotFound(f"Run {run_id} has no sketch at index {index}.", code="media_not_found")
    code = context.recorder().entity_path(run_id, output["file"]).read_text(encoding="utf-8", errors="replace")
    nonce = secrets.token_urlsafe(16)
    response = Response(SKETCH_PAGE.format(nonce=nonce, code=_script_safe(code)), mimetype="text/html")
    response.headers.update({"Content-Security-Policy": SKETCH_POLICY.format(nonce=nonce),
                             "X-Frame-Options": "SAMEORIGIN"})
    return response


@bp.route("/<path:rest>", methods=["GET", "POST"])
def media_unknown(rest: str):
    """Answer any other /api/media path: a bad run id is a 400, anything else a 404."""
    parts = rest.split("/")
    context.unknown_path(parts[1] if len(parts) > 1 else None)


@bp.get("/<media_type>/<run_id>")
@bp.get("/<media_type>/<run_id>/<int:index>")
@declare(content=MEDIA_MIMES, enums={"media_type": MEDIA_TYPES})
def media(media_type: str, run_id: str, index: int | None = None):
    """Serve one generated file; the type must match the record. Range requests work for audio/video."""
    run_id = require_run_id(run_id)
    if media_type not in MEDIA_TYPES:
        raise NotFound(f"Unknown media type {media_type!r}; use one of {', '.join(MEDIA_TYPES)}.",
                       code="media_type_unknown")
    outputs = _outputs(run_id)
    match = [o for o in outputs if o["index"] == index] if index is not None else \
        [o for o in outputs if o["media_type"] == media_type]
    if not match:
        where = f"at index {index}" if index is not None else f"of type {media_type}"
        raise NotFound(f"Run {run_id} has no media {where}.", code="media_not_found")
    output = match[0]
    if output["media_type"] != media_type:
        raise NotFound(f"Output {output['index']} of run {run_id} is {output['media_type']}, not {media_type}.",
                       code="media_type_mismatch", details={"media_type": output["media_type"]})
    path = context.recorder().entity_path(run_id, output["file"])
    return send_file(path, mimetype=output.get("mime") or "application/octet-stream", conditional=True,
                     download_name=f"{run_id}_{output['index']}.{path.suffix.lstrip('.')}", max_age=3600)

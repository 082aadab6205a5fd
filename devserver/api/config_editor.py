"""Config editor endpoints (teachers): validate, dry-run, create, change, delete, history, restore.

Shipped configs are read-only (409 `config_read_only`); a config that fails validation or the safety
lint is a 422 listing every field. A saved config is live for the next run without restart.
"""
from __future__ import annotations

from flask import Blueprint, current_app, jsonify

from devserver.access.control import principal

from devserver.api import context
from devserver.api.configs import interception_summary
from devserver.api.openapi import documents_body
from devserver.teacher.config_editor import ConfigEditor, lint_level
from devserver.teacher.dry_run import dry_run
from devserver.schemas.models import InterceptionConfig
from devserver.teacher.requests import DryRunRequest, RestoreRequest

bp = Blueprint("config_editor", __name__, url_prefix="/api/configs")


def editor() -> ConfigEditor:
    """Return the app's config editor."""
    return current_app.extensions["devserver.config_editor"]


def author() -> str:
    """Return the signed-in teacher's name for the version history."""
    user = principal().user
    return user.name if user is not None else "unknown"


@bp.get("/editor")
def list_editable():
    """List every attitude with its source (shipped, read-only / teacher, editable), and the pipelines to pick."""
    lang, ed = context.lang(), editor()
    configs = [{**interception_summary(c, lang), "source": ed.source(c.id)}
               for c in context.catalog().snapshot.interception.values()]
    pipelines = [{"name": p.name, "type": p.type, "iterations": p.iterations}
                 for p in context.catalog().shipped.pipelines.values() if p.type != "media_generation"]
    return jsonify({"lang": lang, "configs": sorted(configs, key=lambda c: (c["source"], c["id"])),
                    "pipelines": pipelines})


@bp.get("/interception/<config_id>/source")
def config_source(config_id: str):
    """Return a config's editable JSON text (shipped ones too, to duplicate them)."""
    return jsonify(editor().raw(config_id))


@bp.post("/validate")
@documents_body(InterceptionConfig)
def validate_config():
    """Validate a config and lint its context; 422 lists every problem."""
    cfg = editor().checked(context.json_body())
    return jsonify({"valid": True, "id": cfg.id, "lint_level": lint_level(cfg)})


@bp.post("/dry-run")
@documents_body(DryRunRequest)
def dry_run_config():
    """Try an unsaved config on a sample idea: the three parts and the result (nothing is recorded)."""
    req = DryRunRequest.model_validate(context.json_body())
    cfg = editor().checked(req.config)
    return jsonify(dry_run(cfg, req.input_text, req.lang, context.catalog(), context.router().chat, context.safety()))


@bp.post("/interception")
@documents_body(InterceptionConfig)
def create_config():
    """Create a teacher config (from scratch or a duplicate); live at once."""
    body = context.json_body()
    return jsonify({"id": body.get("id"), "version": editor().create(body, author())}), 201


@bp.put("/interception/<config_id>")
@documents_body(InterceptionConfig)
def update_config(config_id: str):
    """Save a new version of a teacher config; live at once."""
    return jsonify({"id": config_id, "version": editor().update(config_id, context.json_body(), author())})


@bp.delete("/interception/<config_id>")
def delete_config(config_id: str):
    """Delete a teacher config (409 naming the sessions that still use it); the history stays."""
    return jsonify({"id": config_id, "version": editor().delete(config_id, author()), "deleted": True})


@bp.get("/interception/<config_id>/versions")
def config_versions(config_id: str):
    """List every version of a teacher config: who, when, what, and the diff to the one before."""
    return jsonify({"id": config_id, "versions": editor().store.history(config_id)})


@bp.get("/interception/<config_id>/versions/<int:version>")
def config_version(config_id: str, version: int):
    """Return the exact saved text of one version."""
    return jsonify({"id": config_id, "version": version, "text": editor().store.version_text(config_id, version)})


@bp.post("/interception/<config_id>/restore")
@documents_body(RestoreRequest)
def restore_config(config_id: str):
    """Make an old version current again, byte for byte (as a new version)."""
    req = RestoreRequest.model_validate(context.json_body())
    return jsonify({"id": config_id, "version": editor().restore(config_id, req.version, author()),
                    "restored": req.version})

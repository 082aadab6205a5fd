"""Config endpoints: interception configs (attitudes) and output configs (media models)."""
from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify

from devserver.access.control import control, principal
from devserver.api import context
from devserver.backends.availability import Availability
from devserver.errors import AppError
from devserver.schemas.catalog import SchemaProblems
from devserver.schemas.models import InterceptionConfig, LlmChunk, OutputConfig

bp = Blueprint("configs", __name__, url_prefix="/api/configs")
READY = Availability(True, "ok")


def _texts(cfg: Any, lang: str, names: tuple[str, ...]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in names:
        value = getattr(cfg, name)
        out[name] = value.get(lang) if value is not None else None
    out["i18n"] = {n: getattr(cfg, n).model_dump() for n in names if getattr(cfg, n) is not None}
    return out


def interception_summary(cfg: InterceptionConfig, lang: str) -> dict[str, Any]:
    """Return the list view of an interception config."""
    pipeline = context.catalog().pipeline(cfg.pipeline)
    return {"id": cfg.id, "kind": "interception", "version": cfg.version, "pipeline": cfg.pipeline,
            "pipeline_type": pipeline.type,
            "iterations": cfg.parameters.iterations or pipeline.iterations,
            **_texts(cfg, lang, ("name", "description", "category")),
            "display": cfg.display.model_dump(), "audience": cfg.audience.model_dump(),
            "media_preferences": cfg.media_preferences.model_dump(),
            "user_defined": cfg.context is None, "takes_image": cfg.takes_image,
            # an attitude that takes a picture needs the vision model; the others are always available
            **(context.availability().vision().to_dict(lang) if cfg.takes_image else READY.to_dict(lang))}


def output_summary(cfg: OutputConfig, lang: str) -> dict[str, Any]:
    """Return the list view of an output config."""
    chunk = context.catalog().output_chunk(cfg.id)
    return {"id": cfg.id, "kind": "output", "version": cfg.version, "media_type": cfg.media_type,
            **_texts(cfg, lang, ("name", "description")),
            "backend": chunk.backend, "model": chunk.model,
            "estimated_duration_seconds": chunk.estimated_duration_seconds, "vram_gb": chunk.vram_gb,
            "has_optimization": chunk.optimization_instruction is not None,
            "takes_image": chunk.takes_image,  # starts from the student's picture, which it then needs
            "parameters": cfg.parameters.model_dump(exclude_none=True),
            "display": cfg.display.model_dump(), "audience": cfg.audience.model_dump(),
            **context.availability().check(chunk).to_dict(lang)}


def _by_order(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(items, key=lambda c: (c["display"]["order"], c["id"]))


@bp.get("/interception")
def list_interception():
    """List every interception config (attitude), localised."""
    lang = context.lang()
    configs = [interception_summary(c, lang) for c in context.catalog().snapshot.interception.values()
               if control().offers(principal(), "attitudes", c.id)]  # a student sees what their session allows
    return jsonify({"lang": lang, "configs": _by_order(configs)})


@bp.get("/outputs")
def list_outputs():
    """List every output config (media model), localised."""
    lang = context.lang()
    outputs = [output_summary(c, lang) for c in context.catalog().snapshot.outputs.values()
               if control().offers(principal(), "outputs", c.id)]
    return jsonify({"lang": lang, "outputs": _by_order(outputs)})


@bp.get("/<config_id>")
def get_config(config_id: str):
    """Return one config in full: an attitude with its context and three-part preview, or an output."""
    lang, catalog = context.lang(), context.catalog()
    if config_id in catalog.snapshot.outputs:
        return jsonify(output_summary(catalog.output(config_id), lang))
    cfg = catalog.interception(config_id)
    chunk = catalog.chunk(catalog.pipeline(cfg.pipeline).chunks[0])
    assert isinstance(chunk, LlmChunk)
    body = interception_summary(cfg, lang)
    body["context"] = cfg.context.get(lang) if cfg.context else ""
    body["i18n"]["context"] = cfg.context.model_dump() if cfg.context else {"de": "", "en": ""}
    body["parameters"] = cfg.parameters.model_dump(exclude_none=True)
    body["prompt_structure"] = {"task_instruction": chunk.task_instruction, "context": body["context"],
                                "input": None, "model_role": chunk.model_role}
    return jsonify(body)


@bp.post("/reload")
def reload_configs():
    """Re-read every schema file; on problems keep serving the last good set and list every problem."""
    catalog = context.catalog()
    try:
        catalog.reload()
    except SchemaProblems as problems:
        raise AppError("The schema files have problems; the server keeps using the last valid set.",
                       code="schema_invalid", status=422, details=problems.details) from None
    snap = catalog.snapshot
    return jsonify({"reloaded": True, "interception_configs": len(snap.interception),
                    "output_configs": len(snap.outputs), "pipelines": len(snap.pipelines),
                    "chunks": len(snap.chunks)})

"""A dry run of an unsaved config: the student's path through Stage 1 and the interception, recorded nowhere.

The sample idea and the context pass the same checkpoints as in a real run (input, rules, translation,
every interception pass), so a teacher sees exactly what a student would — or the block a student would get.
"""
from __future__ import annotations

from typing import Any

from devserver.engine import stages
from devserver.schemas.catalog import Catalog
from devserver.schemas.models import InterceptionConfig, LlmChunk
from devserver.teacher.config_editor import lint_level


def _blocked(safety: Any, checkpoint: str, verdict: Any, lang: str) -> dict[str, Any]:
    return {"status": "blocked", "block": {"checkpoint": checkpoint, "category": verdict.category,
                                           "teacher_reason": verdict.teacher_reason,
                                           "message": safety.message(verdict, lang)}}


def dry_run(cfg: InterceptionConfig, idea: str, lang: str, catalog: Catalog, chat: Any, safety: Any) -> dict[str, Any]:
    """Run a sample idea through safety, translation and the interception of `cfg`; return parts and result."""
    pipeline = catalog.pipeline(cfg.pipeline)
    chunk = catalog.chunk(pipeline.chunks[0])
    translate_chunk = catalog.chunk("translate")
    assert isinstance(chunk, LlmChunk) and isinstance(translate_chunk, LlmChunk)
    level = lint_level(cfg)
    context = cfg.context.get(lang) if cfg.context else ""
    out: dict[str, Any] = {"level": level, "parts": {"task_instruction": chunk.task_instruction,
                                                     "context": context, "input": idea}, "iterations": []}
    for name, text in (("input", idea), ("rules", context)):
        verdict = safety.check(name, text, level)
        if verdict.decision != "allow":
            return {**out, **_blocked(safety, name, verdict, lang)}
    translation = stages.translate(chat, translate_chunk, idea)
    if translation.skipped is None:
        verdict = safety.check("translation", translation.text, level)
        if verdict.decision != "allow":
            return {**out, **_blocked(safety, "translation", verdict, lang)}
    out["parts"]["input"] = translation.text
    iterations = cfg.parameters.iterations or pipeline.iterations or 1
    outcome = stages.intercept(chat, chunk, context, translation.text, iterations=iterations,
                               languages=cfg.parameters.languages, temperature=cfg.parameters.temperature,
                               max_tokens=cfg.parameters.max_tokens)
    for index, step in enumerate(outcome.iterations, 1):
        verdict = safety.check("interception", step.text, level)
        if verdict.decision != "allow":  # the blocked text itself is withheld, as from a student
            return {**out, **_blocked(safety, "interception", verdict, lang)}
        out["iterations"].append({"index": index, "language": step.language, "text": step.text,
                                  "model": step.call.model_used if step.call else None})
    return {**out, "status": "succeeded", "result": outcome.text}

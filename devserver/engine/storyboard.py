"""The storyboard phases: one idea → a structured brief → scenes the student edits → one picture per scene.

    storyboard             Stage 1 (as for every run), then the brief (engine/brief.py): title and
                           logline checked as one text (blocked → the run is blocked), every scene
                           checked on its own (blocked → that scene is marked, the others stay)
    scenes                 the student's edited scene list (add, remove, reorder, edit): every changed
                           text is checked; a blocked edit marks its scene blocked, text withheld
    storyboard_generation  Stages 3 and 4 per scene in order, as loop iterations of the run with one
                           output; every scene passes Stage 3, also one marked blocked before (Stage 3
                           is the gate, the earlier checks are early warnings). Seed policy: scene n
                           (1-based) gets `base + n - 1`, base = the request's seed, else the output's
                           fixed seed, else one random number per generation.

The record links everything: the `storyboard_brief` item; one `storyboard_scene` item per scene
(`metadata.brief` = the brief item's sequence, `scene`, `scene_index`); `storyboard_edit` per edit;
the Stage 3 verdicts, blocks and output items carry `scene` and `scene_index` (= loop_iteration).
"""
from __future__ import annotations

import json
import random
from typing import Any

from devserver.engine.brief import BriefUnstructured, write_brief
from devserver.engine.context import Blocked, PhaseContext
from devserver.engine.phases import check_translated, checkpoint, generate_each, generate_one, guard, run_stage1
from devserver.engine.requests import GenerationRequest, SceneEditRequest, SceneGenerationRequest, StoryboardRequest
from devserver.engine.run_state import RunState
from devserver.engine.stages import PromptParts
from devserver.errors import ValidationFailed
from devserver.schemas.models import LlmChunk

GENERATING = frozenset({"queued", "running"})


def scene_text(scene: dict[str, Any]) -> str:
    """Return the one text a scene is checked as (what it says and what the image model will get)."""
    return f"{scene['description']}\n{scene['generation_prompt']}"


def check_scene(ctx: PhaseContext, scene: dict[str, Any], position: int, name: str, stage: str) -> dict[str, Any]:
    """Check one scene's texts (and their English translation); return the scene as ready or blocked."""
    try:
        text = scene_text(scene)
        checkpoint(ctx, name, text, stage, loop_iteration=position)
        check_translated(ctx, f"{name}_translation", text, stage, loop_iteration=position)
    except Blocked as blocked:
        return {**scene, "status": "blocked", "block": blocked.block, "output": None}
    return {**scene, "status": "ready", "block": None, "output": None}


def run_storyboard(ctx: PhaseContext, req: StoryboardRequest) -> None:
    """Stage 1, then the brief: every text of it checked before the student sees it."""
    catalog, state = ctx.services.catalog, ctx.state
    cfg = catalog.interception(req.schema_)
    chunk = catalog.chunk(catalog.pipeline(cfg.pipeline).chunks[0])
    assert isinstance(chunk, LlmChunk)
    context, text = run_stage1(ctx, req)

    ctx.enter("stage2", "brief")
    parts = PromptParts(chunk.task_instruction, context, text)
    try:
        step = write_brief(ctx.services.chat, chunk, parts, temperature=cfg.parameters.temperature,
                           max_tokens=cfg.parameters.max_tokens)
    except BriefUnstructured as err:  # the raw answers stay in the record, for teachers only
        ctx.emit("storyboard_brief", stage="stage2", withheld=True,
                 metadata={"status": "unstructured", "schema": cfg.id, **(err.details or {})})
        raise
    brief = step.brief
    head = {"title": brief.title, "logline": brief.logline}
    meta = {"schema": cfg.id, "config_version": cfg.version, "scenes": len(brief.scenes),
            "parts": parts.to_dict(), **step.record()}
    guard(ctx, "storyboard_brief", f"{brief.title}\n{brief.logline}", "stage2", "storyboard_brief",
          content=json.dumps(head, ensure_ascii=False), metadata=meta)
    check_translated(ctx, "storyboard_brief_translation", f"{brief.title}\n{brief.logline}", "stage2",
                     "storyboard_brief", content=json.dumps(head, ensure_ascii=False), metadata=meta)
    item = ctx.emit("storyboard_brief", stage="stage2", content=json.dumps(head, ensure_ascii=False),
                    file=ctx.entity("storyboard_brief", brief.model_dump_json(indent=2), "json"), metadata=meta)
    scenes = []
    for position, written in enumerate(brief.scenes, start=1):
        scene = check_scene(ctx, {"id": f"s{position}", **written.model_dump(), "edited": False}, position,
                            "storyboard_scene", "stage2")
        record_scene(ctx, "storyboard_scene", scene, position, brief=item.get("sequence"))
        scenes.append(scene)
    state.set_storyboard({**head, "brief": item.get("sequence"), "next_id": len(scenes) + 1, "scenes": scenes,
                          "output_config": None})
    if all(s["status"] == "blocked" for s in scenes):
        raise Blocked(scenes[0]["block"] or {})


def record_scene(ctx: PhaseContext, item_type: str, scene: dict[str, Any], position: int, **metadata: Any) -> None:
    """Record one scene's texts (withheld from students when blocked), linked by its id and position."""
    blocked = scene["status"] == "blocked"
    content = json.dumps({k: scene[k] for k in ("description", "generation_prompt")}, ensure_ascii=False)
    extra = {"checkpoint": scene["block"].get("checkpoint"), "category": scene["block"].get("category")} \
        if blocked else {}
    ctx.emit(item_type, stage="stage2", content=content, loop_iteration=position, withheld=blocked,
             metadata={"scene": scene["id"], "scene_index": position, "status": scene["status"], **extra,
                       **metadata})


def require_storyboard(state: RunState) -> dict[str, Any]:
    """Return the run's storyboard, or refuse: the run has none (not a storyboard, or its brief failed)."""
    if state.storyboard is None:
        raise ValidationFailed("This run has no storyboard yet: start one with a storyboard attitude first.",
                               code="no_storyboard")
    return state.storyboard


def check_scene_request(state: RunState | None, req: Any) -> None:
    """Refuse a scene phase before it is queued (400, nothing changes): the run has no storyboard, or the
    edit names a scene the storyboard does not have. Called with the run idle, so the board stays as read."""
    if state is None or not isinstance(req, (SceneEditRequest, SceneGenerationRequest)):
        return
    board = require_storyboard(state)
    if isinstance(req, SceneEditRequest):
        known = {scene["id"] for scene in board["scenes"]}
        unknown = [edit.id for edit in req.scenes if edit.id is not None and edit.id not in known]
        if unknown:
            raise ValidationFailed("The storyboard has no such scene.", code="scene_not_found",
                                   details={"scenes": unknown})


def run_scene_edit(ctx: PhaseContext, req: SceneEditRequest) -> None:
    """Apply the student's scene list (new order, added, removed, edited scenes); check every changed text."""
    board = require_storyboard(ctx.state)
    known = {scene["id"]: scene for scene in board["scenes"]}
    ctx.enter("stage2", "scenes")
    next_id, scenes, changed = board["next_id"], [], []
    for position, edit in enumerate(req.scenes, start=1):
        old = known.get(edit.id) if edit.id else None
        texts = {"description": edit.description if edit.description is not None else (old or {})["description"],
                 "generation_prompt": edit.generation_prompt if edit.generation_prompt is not None
                 else (old or {})["generation_prompt"]}
        if old is not None and all(old[k] == texts[k] for k in texts):
            scenes.append(old)  # unchanged: keeps its verdict and its picture
            continue
        scene_id = edit.id or f"s{next_id}"
        next_id += 0 if edit.id else 1
        scene = check_scene(ctx, {"id": scene_id, **texts, "edited": True}, position, "user_edit", "stage2")
        kept = old is not None and old["status"] != "blocked"  # a blocked original stays in its own withheld item
        record_scene(ctx, "user_edit", scene, position, field="scene",
                     original={k: old[k] for k in texts} if kept else None)
        scenes.append(scene)
        changed.append(scene_id)
    title = board["title"]
    if req.title is not None and req.title != title:  # a blocked title blocks this edit; the storyboard stays
        guard(ctx, "user_edit", req.title, "stage2", "user_edit", content=req.title, metadata={"field": "title"})
        ctx.emit("user_edit", stage="stage2", content=req.title, metadata={"field": "title", "original": title})
        title = req.title
    removed = sorted(set(known) - {s["id"] for s in scenes})
    ctx.emit("storyboard_edit", stage="stage2", metadata={
        "order": [s["id"] for s in scenes], "changed": changed, "removed": removed,
        "title_changed": title != board["title"], "brief": board.get("brief")})
    ctx.state.set_storyboard({**board, "title": title, "next_id": next_id, "scenes": scenes})


def run_scene_generation(ctx: PhaseContext, req: SceneGenerationRequest) -> None:
    """Stages 3 and 4 for every scene in order with one output; each scene ends in its own status."""
    state, catalog = ctx.state, ctx.services.catalog
    board = require_storyboard(state)
    chunk = catalog.output_chunk(req.output_config)
    params = catalog.output(req.output_config).parameters
    base = req.seed if req.seed is not None else (params.seed if params.seed_policy == "fixed" and params.seed
                                                  is not None else random.SystemRandom().randrange(2**31))
    scenes = {scene["id"]: scene for scene in board["scenes"]}
    outputs = state.start_scenes(req.output_config, chunk.media_type)

    def draw(out: Any, loop: int) -> None:
        scene = scenes[out.scene]
        state.update_output(out, seed=base + loop - 1)  # known for every scene, drawn or not
        if scene["status"] == "blocked":  # checked again at the gate, on everything the scene says
            state.update_output(out, status="running")
            checkpoint(ctx, "stage3_scene", scene_text(scene), "stage3", loop_iteration=loop)
            raise Blocked({**(scene["block"] or {}), "stage": "stage3"})
        one = GenerationRequest(run_id=state.run_id, output_config=req.output_config, seed=base + loop - 1,
                                lang=req.lang)
        generate_one(ctx, one, out, chunk, loop, text=scene["generation_prompt"])

    generate_each(ctx, outputs, draw)


STORYBOARD_PHASES = {"storyboard": run_storyboard, "scenes": run_scene_edit,
                     "storyboard_generation": run_scene_generation}

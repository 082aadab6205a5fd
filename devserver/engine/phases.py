"""The phases of the student's flow, each a sequence of stage calls with a checkpoint at every boundary.

    stage2      Stage 1 (input + rules safety, translation, translation safety) and Stage 2 (interception,
                every iteration checked)
    optimize    the interception result (or the student's edit, checked) adapted to one output model
    generation  per chosen output: Stage 3 on the exact text that goes to the generator, then Stage 4
    execute     all of the above

A phase raises `Blocked` or `Cancelled` or a `BackendError`; the orchestrator turns that into the run's
terminal status. One output failing in a generation does not fail the others.
"""
from __future__ import annotations

import random
import time
import uuid
from typing import Any, Callable

from devserver.backends.base import MediaRequest, Progress
from devserver.engine import image_source, stages
from devserver.engine.context import Blocked, PhaseContext
from devserver.engine.image_gate import screen_image
from devserver.engine.requests import ExecuteRequest, GenerationRequest, OptimizeRequest, Stage2Request
from devserver.engine.run_state import OutputState
from devserver.errors import BackendError, ValidationFailed
from devserver.recorder.items import BLOCKED_ITEMS, SAFETY_CHECK_ITEMS
from devserver.safety.image_check import prepare
from devserver.schemas.models import LlmChunk, OutputChunk

PICTURE_LABEL = "The picture shows:"  # joins the vision model's description to the student's text
PROMPT_NAMESPACE = uuid.UUID("5b1f7c1e-8f0e-4d6a-9a57-2f3c4d5e6f70")
EXTENSIONS = {"image/png": "png", "image/jpeg": "jpg", "image/webp": "webp", "image/gif": "gif",
              "audio/mpeg": "mp3", "audio/wav": "wav", "audio/x-wav": "wav", "audio/flac": "flac",
              "audio/ogg": "ogg", "video/mp4": "mp4", "video/webm": "webm", "text/javascript": "js",
              "text/plain": "txt"}


def checkpoint(ctx: PhaseContext, name: str, text: str, stage: str, *, loop_iteration: int | None = None,
               stage_iteration: int | None = None) -> Any:
    """Run one safety checkpoint, record its verdict, and raise Blocked when it blocks."""
    verdict = ctx.services.safety.check(name, text, ctx.state.safety_level)
    item_type = SAFETY_CHECK_ITEMS[stage]  # the item names the stage the check ran in
    ctx.emit(item_type, stage=stage, content=None, stage_iteration=stage_iteration, loop_iteration=loop_iteration,
             metadata={"checkpoint": name, **verdict.to_dict()})
    if verdict.decision != "allow":  # anything but an explicit allow blocks
        raise Blocked(block_for(ctx, stage, name, verdict))
    return verdict


def guard(ctx: PhaseContext, name: str, text: str, stage: str, item_type: str, **item: Any) -> None:
    """Check a model-written text before anyone sees it; a blocked one is recorded, withheld from students."""
    try:
        checkpoint(ctx, name, text, stage, loop_iteration=item.get("loop_iteration"),
                   stage_iteration=item.get("stage_iteration"))
    except Blocked:
        ctx.emit(item_type, stage=stage, content=text, withheld=True, **item)
        raise


def check_translated(ctx: PhaseContext, name: str, text: str, stage: str, item_type: str | None = None,
                     **item: Any) -> str | None:
    """Check the English translation of a text that is not English (terms of other languages surface there).

    Returns the translation, or None when the text is English already. The translation is recorded; when
    it blocks, the item of `item_type` (a model text) is recorded withheld with both versions.

    On a demo translation model (which measurably cannot translate: its answers fail the quality gate and
    the check falls back to the original) there is no translation to check: every caller has checked the
    original text already, in all its views and with every language's term list."""
    chunk = ctx.services.catalog.chunk("translate")
    assert isinstance(chunk, LlmChunk)
    step = stages.translate(ctx.services.chat, chunk, text,
                            reliable=not ctx.services.router.is_demo(chunk.model_role))
    if step.skipped is not None:
        return None
    where = {"loop_iteration": item.get("loop_iteration"), "stage_iteration": item.get("stage_iteration")}
    try:
        checkpoint(ctx, name, step.text, stage, **where)
    except Blocked:
        ctx.emit("translation_result", stage=stage, content=step.text, withheld=True, **where,
                 metadata={"checkpoint": name, **step.record()})
        if item_type is not None:
            ctx.emit(item_type, stage=stage, content=text, withheld=True, **item)
        raise
    ctx.emit("translation_result", stage=stage, content=step.text, **where, metadata={"checkpoint": name,
                                                                                       **step.record()})
    return step.text


def block_for(ctx: PhaseContext, stage: str, name: str, verdict: Any) -> dict[str, Any]:
    """Build the student-facing block (messages in every language) for a verdict."""
    return {"stage": stage, "checkpoint": name, "category": verdict.category,
            "message": {lang: ctx.services.safety.message(verdict, lang) for lang in ("de", "en")}}


def notice(ctx: PhaseContext, stage: str, step: str, result: stages.TextStep) -> None:
    """Tell the student when the quality gate kept an earlier text instead of the model's answer."""
    if result.fallback:
        ctx.state.add_notice({"stage": stage, "step": step, "code": result.fallback})


def run_stage1(ctx: PhaseContext, req: Stage2Request) -> tuple[str, str]:
    """Stage 1: the idea and the student's rules checked, the idea translated; return (context, translation)."""
    catalog, state = ctx.services.catalog, ctx.state
    cfg = catalog.interception(req.schema_)
    config_context = cfg.context.get(req.lang) if cfg.context else ""
    context = req.context_prompt if req.context_prompt is not None else config_context

    ctx.enter("stage1", "safety")
    ctx.emit("user_input_text", stage="stage1", content=req.input_text,
             file=ctx.entity("input", req.input_text), metadata={"lang": req.lang})
    checkpoint(ctx, "input", req.input_text, "stage1")
    if req.context_prompt is not None and req.context_prompt != config_context:
        ctx.emit("user_edit", stage="stage1", content=req.context_prompt,
                 file=ctx.entity("rules", req.context_prompt), metadata={"field": "context_prompt"})
        checkpoint(ctx, "rules", req.context_prompt, "stage1")
        check_translated(ctx, "rules_translation", req.context_prompt, "stage1")
    if not context.strip():
        raise ValidationFailed("Write some rules for your own attitude first.", code="empty_rules")

    ctx.enter("stage1", "translation")
    translate_chunk = catalog.chunk("translate")
    assert isinstance(translate_chunk, LlmChunk)
    reliable = not ctx.services.router.is_demo(translate_chunk.model_role)
    translation = stages.translate(ctx.services.chat, translate_chunk, req.input_text, reliable=reliable)
    item = {"file": ctx.entity("translation", translation.text), "metadata": translation.record()}
    if translation.skipped is None:
        guard(ctx, "translation", translation.text, "stage1", "translation_result", **item)
    state.touch(translation=None if translation.skipped or translation.fallback else translation.text)
    notice(ctx, "stage1", "translation", translation)
    ctx.emit("translation_result", stage="stage1", content=translation.text, **item)
    return context, translation.text


def run_stage2(ctx: PhaseContext, req: Stage2Request) -> None:
    """Stage 1 and the interception; leaves the result in state.interception."""
    catalog, state = ctx.services.catalog, ctx.state
    cfg = catalog.interception(req.schema_)
    pipeline = catalog.pipeline(cfg.pipeline)
    chunk = catalog.chunk(pipeline.chunks[0])
    assert isinstance(chunk, LlmChunk)
    context, text = run_stage1(ctx, req)

    # an `execute` picture may be meant for its outputs only (img2img after a text-only attitude)
    picture = describe_picture(ctx, req.input_image) if req.input_image and cfg.takes_image else None
    text_in = text if picture is None else f"{text}\n\n{PICTURE_LABEL} {picture}"

    ctx.enter("stage2", "interception")
    iterations = cfg.parameters.iterations or pipeline.iterations or 1
    state.begin_interception(chunk.task_instruction, context, text_in, iterations)

    def on_iteration(index: int, step: stages.TextStep) -> None:
        item = {"stage_iteration": index, "file": ctx.entity(f"interception_{index}", step.text),
                "metadata": step.record()}
        guard(ctx, "interception", step.text, "stage2", "interception_iteration", **item)
        # a pass in another language (Stille Post) is shown only once its back-translation passed too
        back = check_translated(ctx, "back_translation", step.text, "stage2", "interception_iteration", **item)
        state.add_iteration(index, step.language, step.text, iterations, back_translation=back)
        if back is not None:
            item["metadata"] = {**item["metadata"], "back_translation": back}
        notice(ctx, "stage2", "interception", step)
        ctx.emit("interception_iteration", stage="stage2", content=step.text, **item)
        ctx.check_cancel()

    outcome = stages.intercept(ctx.services.chat, chunk, context, text_in, iterations=iterations,
                               languages=cfg.parameters.languages, temperature=cfg.parameters.temperature,
                               max_tokens=cfg.parameters.max_tokens, on_iteration=on_iteration)
    state.finish_interception(outcome.text)
    ctx.emit("interception_final", stage="stage2", content=outcome.text,
             file=ctx.entity("interception", outcome.text),
             metadata={"schema": cfg.id, "config_version": cfg.version, "iterations": len(outcome.iterations),
                       "parts": {"task_instruction": chunk.task_instruction, "context": context,
                                 "input": text_in}})


def describe_picture(ctx: PhaseContext, ref: str) -> str:
    """Let VISION_MODEL describe the student's uploaded picture; the description is checked like any model text."""
    ctx.enter("stage1", "image_description")
    services = ctx.services
    image = image_source.find(services.recorder, ref, ctx.state.run_id, image_source.UPLOAD_ITEMS)
    picture = prepare(image_source.load(services.recorder, image).data, services.config.IMAGE_CHECK_MAX_SIDE)
    step = stages.describe_image(services.see, picture)
    item = {"file": ctx.entity("image_description", step.text),
            "metadata": {"input_image": str(image), **step.record()}}
    guard(ctx, "image_description", step.text, "stage1", "image_description", **item)
    ctx.emit("image_description", stage="stage1", content=step.text, **item)
    return step.text


def edited(ctx: PhaseContext, original: str | None, text: str, field: str, stage: str,
           loop_iteration: int | None = None) -> None:
    """Record a student's edit of an intermediate text and check it like any other text."""
    if original is not None and text == original:
        return
    ctx.emit("user_edit", stage=stage, content=text, loop_iteration=loop_iteration,
             file=ctx.entity(f"edit_{field}", text), metadata={"field": field, "original": original})
    checkpoint(ctx, "user_edit", text, stage, loop_iteration=loop_iteration)
    check_translated(ctx, "user_edit_translation", text, stage, loop_iteration=loop_iteration)


def run_optimize(ctx: PhaseContext, req: OptimizeRequest) -> None:
    """Adapt the (possibly edited) interception result to one output model."""
    state, catalog = ctx.state, ctx.services.catalog
    output_chunk = catalog.output_chunk(req.output_config)
    base = state.interception.get("result")
    text = req.prompt if req.prompt is not None else base
    if text is None:
        raise ValidationFailed("This run has no interception result yet: send `prompt` or run stage2 first.",
                               code="nothing_to_optimize")
    ctx.enter("stage2", "optimization")
    if req.prompt is not None:
        edited(ctx, base, req.prompt, "interception_result", "stage2")
    optimize_one(ctx, req.output_config, output_chunk, text)


def optimize_one(ctx: PhaseContext, output_id: str, output_chunk: OutputChunk, text: str) -> str:
    """Run the optimization step for one output and record it; return the optimized text."""
    chunk = ctx.services.catalog.chunk("optimize")
    assert isinstance(chunk, LlmChunk)
    ctx.state.set_optimization(output_id, instruction=output_chunk.optimization_instruction.get(ctx.state.lang)
                               if output_chunk.optimization_instruction else None, input=text, result=None,
                               status="running")
    reliable = not ctx.services.router.is_demo(chunk.model_role)
    step = stages.optimize(ctx.services.chat, chunk, output_chunk, text, ctx.state.lang, reliable=reliable)
    item = {"file": ctx.entity(f"optimization_{output_id}", step.text),
            "metadata": {"output_config": output_id, **step.record()}}
    if step.skipped is None:  # a model wrote it: checked before the student sees it
        try:
            guard(ctx, "optimization", step.text, "stage2", "optimization_result", **item)
        except Blocked:
            ctx.state.set_optimization(output_id, status="blocked")
            raise
    ctx.state.set_optimization(output_id, result=step.text, status="succeeded")
    notice(ctx, "stage2", f"optimization:{output_id}", step)
    ctx.emit("optimization_result", stage="stage2", content=step.text, **item)
    return step.text


def run_generation(ctx: PhaseContext, req: GenerationRequest) -> None:
    """Stages 3 and 4 for every chosen output; each output ends in its own status."""
    state, catalog = ctx.state, ctx.services.catalog
    chunks = {oid: catalog.output_chunk(oid) for oid in req.output_configs}  # unknown id → 404 before work
    missing = [oid for oid in req.output_configs if not (req.prompts.get(oid) or req.prompt or
               (state.optimizations.get(oid) or {}).get("result") or state.interception.get("result"))]
    if missing:  # never fall back to an unchecked or blocked earlier text
        raise ValidationFailed("There is no checked text to generate from: run the interception first or send "
                               "the prompt.", code="nothing_to_generate", details={"outputs": missing})
    outputs = state.start_generation([(oid, chunks[oid].media_type) for oid in req.output_configs])
    generate_each(ctx, outputs, lambda out, loop: generate_one(ctx, req, out, chunks[out.output_config], loop))


def generate_each(ctx: PhaseContext, outputs: list[OutputState], make: Callable[[OutputState, int], None]) -> None:
    """Make the outputs one after another (loop iterations 1..n); a blocked or failed one is marked, the rest go on.

    Ends like the run should: returns when anything was made, else raises the first block or error."""
    state = ctx.state
    for loop, out in enumerate(outputs, start=1):
        try:
            ctx.check_cancel()
            make(out, loop)
        except Blocked as blocked:
            state.update_output(out, status="blocked", block=blocked.block)
            stage = blocked.block.get("stage") or "stage3"
            ctx.emit(BLOCKED_ITEMS.get(stage, "stage3_blocked"), stage=stage, loop_iteration=loop,
                     metadata={"output_config": out.output_config, **scene_fields(out, loop), **blocked.block})
        except BackendError as err:  # interrupted in ComfyUI itself (or cancelled) is not a failure
            state.update_output(out, status="cancelled" if err.code == "cancelled" else "failed",
                                error={"code": err.code, "message": err.message})
            ctx.emit("pipeline_cancelled" if err.code == "cancelled" else "output_failed", stage="stage4",
                     loop_iteration=loop, withheld=True,
                     metadata={"output_config": out.output_config, **scene_fields(out, loop), "code": err.code,
                               "message": err.message, "details": err.details})
        except BaseException:  # cancel or a bug: no output may stay "running" or "queued" forever
            final = "cancelled" if ctx.cancel.cancelled or state.cancel_requested else "failed"
            for rest in outputs[loop - 1:]:
                state.update_output(rest, status=final)
            raise
        finally:
            state.update_output(out, queue_position=None)
            state.touch(queue_position=None)
            ctx.persist()
    ctx.check_cancel()
    if any(o.status == "succeeded" for o in outputs):
        return
    blocked = [o for o in outputs if o.status == "blocked"]
    if blocked:  # nothing was made and a checkpoint said no: the student sees the block first
        raise Blocked(blocked[0].block or {})
    first = outputs[0].error or {}
    raise BackendError(first.get("message", "Every output failed."), code=first.get("code", "backend_error"))


def scene_fields(out: OutputState, loop: int) -> dict[str, Any]:
    """Return what links an output's items to its storyboard scene (nothing for other runs)."""
    return {"scene": out.scene, "scene_index": loop} if out.scene else {}


def final_text(ctx: PhaseContext, req: GenerationRequest, out: OutputState, chunk: OutputChunk, loop: int) -> str:
    """Return the exact text for one output: the student's edit, the optimization, or a fresh one."""
    state = ctx.state
    optimized = (state.optimizations.get(out.output_config) or {}).get("result")
    edit = req.prompts.get(out.output_config) or req.prompt
    if edit is not None:
        edited(ctx, optimized or state.interception.get("result"), edit, f"prompt_{out.output_config}",
               "stage3", loop)
        return edit
    if optimized is not None:
        return optimized
    ctx.enter("stage2", "optimization")
    return optimize_one(ctx, out.output_config, chunk, state.interception["result"])


def generate_one(ctx: PhaseContext, req: GenerationRequest, out: OutputState, chunk: OutputChunk,
                 loop: int, text: str | None = None) -> None:
    """Stage 3 on the exact text for one output, then Stage 4; the file lands in the run folder.

    `text` (a storyboard scene's prompt) replaces the text `final_text` picks."""
    state, services = ctx.state, ctx.services
    recorded = scene_fields(out, loop)
    state.update_output(out, status="running")
    text = text if text is not None else final_text(ctx, req, out, chunk, loop)

    ctx.enter("stage3", "safety_check")
    verdict = services.safety.stage3(text, state.safety_level)
    ctx.emit("stage3_safety_check", stage="stage3", loop_iteration=loop,
             metadata={"checkpoint": "stage3", "output_config": out.output_config, **recorded, **verdict.to_dict()})
    if verdict.decision != "allow":
        raise Blocked(block_for(ctx, "stage3", "stage3", verdict))
    state.update_output(out, prompt=verdict.positive_prompt, negative_prompt=verdict.negative_prompt)

    cfg = services.catalog.output(out.output_config)
    params = cfg.parameters
    seed = req.seed if req.seed is not None else (params.seed if params.seed_policy == "fixed" else None)
    state.update_output(out, seed=seed if seed is not None else random.SystemRandom().randrange(2**31))
    job_id = str(uuid.uuid5(PROMPT_NAMESPACE, f"{state.run_id}:{state.generation_count}:{out.index}"))
    source = image_source.find(services.recorder, req.input_image, state.run_id) if req.input_image else None
    request = MediaRequest(prompt=out.prompt, negative_prompt=out.negative_prompt or "", seed=out.seed,
                           width=params.width, height=params.height, steps=params.steps, cfg=params.cfg,
                           duration=params.duration, job_id=job_id, chunk=chunk, denoise=req.denoise,
                           input_image=image_source.load(services.recorder, source) if source else None)

    ctx.enter("stage4", "generation")
    services.before_media(chunk)

    def on_progress(progress: Progress) -> None:
        state.update_output(out, progress={"current": progress.current, "total": progress.total})
        state.touch(progress=out.progress)

    waiting_since: list[float] = []

    def on_queue(position: int) -> None:  # recorded too: researchers study how long students wait
        state.update_output(out, queue_position=position)
        state.touch(queue_position=position)
        waiting_since[:] = waiting_since or [time.monotonic()]
        ctx.emit("queue_update", stage="stage4", loop_iteration=loop, metadata={
            "output_config": out.output_config, "backend": chunk.backend, "position": position,
            "waited_ms": round((time.monotonic() - waiting_since[0]) * 1000, 1)})

    result = services.router.generate(chunk.backend, request, on_progress=on_progress, cancel=ctx.cancel,
                                      on_queue=on_queue)
    if chunk.media_type == "code":  # a blocked sketch stays in the record for teachers, withheld from students
        guard(ctx, "code", result.files[0].data.decode("utf-8", "replace"), "stage4", "output_code",
              media_type="code", loop_iteration=loop, metadata={"output_config": out.output_config})
    media = result.files[0]
    ext = EXTENSIONS.get(media.mime, media.name.rpartition(".")[2] or "bin")
    file = ctx.entity(f"output_{chunk.media_type}", media.data, ext)
    if file is None or not (ctx.record.folder / file).is_file():
        raise BackendError("The generated file could not be saved on the server.", code="storage_failed",
                           backend=chunk.backend)
    screen_image(ctx, out, chunk, result, loop, file)  # kids/youth never see a picture that failed its check
    state.update_output(out, file=file, mime=media.mime, model=result.model_used, backend=result.backend,
                        url=f"/api/media/{chunk.media_type}/{state.run_id}/{out.index}", status="succeeded",
                        progress=out.progress or {"current": 1, "total": 1})
    ctx.emit(f"output_{chunk.media_type}", stage="stage4", media_type=chunk.media_type, loop_iteration=loop,
             file=out.file, metadata={"output_config": out.output_config, "index": out.index, "seed": out.seed,
                                      "prompt": out.prompt, "negative_prompt": out.negative_prompt,
                                      "mime": media.mime, **recorded, **source_link(source, req.denoise),
                                      **result.record()})


def source_link(source: image_source.ImageRef | None, denoise: float | None) -> dict[str, Any]:
    """Return what the output item records about the picture it started from (nothing without one)."""
    return {} if source is None else {"input_image": str(source), "denoise": denoise}


def run_execute(ctx: PhaseContext, req: ExecuteRequest) -> None:
    """All four stages: interception, then optimization and generation for every chosen output."""
    run_stage2(ctx, req)
    takes = req.input_image is not None and bool(image_source.outputs_taking(ctx.services.catalog, req.output_configs))
    generation = GenerationRequest(run_id=ctx.state.run_id, output_configs=req.output_configs, seed=req.seed,
                                   lang=req.lang, input_image=req.input_image if takes else None,
                                   denoise=req.denoise if takes else None)
    run_generation(ctx, generation)


PHASES = {"stage2": run_stage2, "optimize": run_optimize, "generation": run_generation, "execute": run_execute}

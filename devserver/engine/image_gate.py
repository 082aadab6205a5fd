"""Stage 4's last step for pictures: the image check between the saved file and the student.

The file is already in the run folder (teachers and researchers keep what was made). A picture the
check withholds is recorded as a withheld `output_image` item and leaves the output without a file,
so status, entities and `/api/media` never hand it to a student; the output ends `blocked` with a
child-friendly message. No vision model configured → nothing happens here (health says so).
"""
from __future__ import annotations

from typing import Any

from devserver.backends.base import MediaResult
from devserver.engine.context import Blocked, PhaseContext
from devserver.engine.run_state import OutputState
from devserver.schemas.models import OutputChunk


def screen_image(ctx: PhaseContext, out: OutputState, chunk: OutputChunk, result: MediaResult, loop: int,
                 file: str) -> None:
    """Check a saved picture (`file` in the run folder) before anyone sees it; raise Blocked when it fails."""
    if chunk.media_type != "image":
        return
    safety, level = ctx.services.safety, ctx.state.safety_level
    if not safety.images.configured:
        return
    ctx.enter("stage4", "image_check")
    verdict = safety.check_image(result.files[0].data, level)
    meta: dict[str, Any] = {"output_config": out.output_config, "index": out.index}
    # students see only decision and category of it (projection.py): the model's reason says what a
    # withheld picture shows
    ctx.emit("stage4_safety_check", stage="stage4", loop_iteration=loop, metadata={**meta, **verdict.to_dict()})
    if verdict.decision == "allow":
        return
    ctx.emit("output_image", stage="stage4", media_type="image", loop_iteration=loop, file=file, withheld=True,
             metadata={**meta, "seed": out.seed, "prompt": out.prompt, "mime": result.files[0].mime,
                       **result.record()})
    raise Blocked({"stage": "stage4", "checkpoint": "image", "category": verdict.category,
                   "message": {lang: safety.image_message(verdict, lang) for lang in ("de", "en")}})

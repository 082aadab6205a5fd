"""The item log of a run: taxonomy, status vocabulary, and how items are built, encoded and read back.

One item is one line of `events.jsonl`. Readers are tolerant: a crash in the middle of a write leaves
a torn last line without its newline, which is skipped rather than failing the whole run record.
"""
from __future__ import annotations

import json
import logging
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

# DESIGN §6 plus the items marked (+), which the orchestrator needs for states §6 names but the
# original taxonomy has no item for. docs/RESEARCH_EXPORT.md explains each one.
ITEM_TYPES = frozenset({
    "pipeline_start", "stage_transition", "user_input_text", "user_edit", "translation_result",
    "stage1_safety_check", "stage1_blocked", "interception_iteration", "interception_final",
    "optimization_result", "stage3_safety_check", "stage3_blocked",
    "output_image", "output_audio", "output_music", "output_video", "output_code", "output_text",
    "pipeline_complete", "pipeline_error",
    "output_failed",          # (+) one output of a multi-output run failed, the others go on
    "queue_update",           # (+) waiting for a busy backend: queue position (for waiting-time studies)
    "moderation_release",     # (+) a teacher released a blocked run, with the written reason
    "pipeline_cancelled",     # (+) the user or teacher cancelled the run
    "pipeline_interrupted",   # (+) the server stopped while the run was in progress (set at start-up)
    "stage4_safety_check",    # (+) the vision model's verdict on a generated picture (IMAGE_CHECK_MODEL)
    "stage2_safety_check",    # (+) a check made in Stage 2 (interception passes, optimizations, edits there)
    "stage2_blocked",         # (+) Stage 2 blocked the run (an interception pass or an optimization)
    "stage4_blocked",         # (+) the picture check or the code check withheld one output
    "storyboard_brief",       # (+) a storyboard's brief: title and logline (scenes follow as items of their own)
    "storyboard_scene",       # (+) one scene of the brief, as the model wrote it, with its check's outcome
    "storyboard_edit",        # (+) the student's edited scene list: order, changed, removed scenes
    "user_input_image",       # (+) a picture the student uploaded (cleaned of metadata), see api/uploads.py
    "image_description",      # (+) the vision model's description of that picture (VISION_MODEL), checked
})

# The metadata fields of each item type: docs/RESEARCH_EXPORT.md §3 explains every one (a test compares
# the two), and build_item refuses any other, so the record cannot outgrow its documentation.
_CALL = ("backend", "model_requested", "model_used", "parameters", "duration_ms", "usage", "cost", "ids", "attempts")
_STEP = (*_CALL, "finish_reason", "chat_request", "answer_sha256", "logprobs", "skipped", "language", "quality",
         "fallback", "withheld")
_VERDICT = ("checkpoint", "level", "decision", "method", "category", "matched_terms", "latency_ms", "model",
            "teacher_reason", "calls")
_SCENE = ("scene", "scene_index")  # a storyboard scene's id and position (items of storyboard runs only)
_BLOCK = ("status", "output_config", "stage", "checkpoint", "category", "message", *_SCENE)
_MEDIA = (*_CALL, "files", "output_config", "index", "seed", "prompt", "negative_prompt", "mime", "withheld",
          "input_image", "denoise", *_SCENE)
_FAILURE = ("output_config", "code", "message", "details", "withheld", *_SCENE)
_SCENE_TEXT = (*_SCENE, "status", "checkpoint", "category", "withheld")
METADATA_FIELDS: dict[str, frozenset[str]] = {name: frozenset(fields) for name, fields in {
    "pipeline_start": ("phase", "request"), "stage_transition": ("from", "to", "step"),
    "user_input_text": ("lang",), "user_edit": ("field", "original", *_SCENE_TEXT), "translation_result": (*_STEP, "checkpoint"),
    "stage1_safety_check": (*_VERDICT, "file"), "stage2_safety_check": _VERDICT,
    "stage3_safety_check": (*_VERDICT, "output_config", "positive_prompt", "negative_prompt", *_SCENE),
    "stage4_safety_check": (*_VERDICT, "output_config", "index", *_SCENE),
    "stage1_blocked": _BLOCK, "stage2_blocked": _BLOCK, "stage3_blocked": _BLOCK, "stage4_blocked": _BLOCK,
    "interception_iteration": (*_STEP, "back_translation"),
    "interception_final": ("schema", "config_version", "iterations", "parts"),
    "optimization_result": (*_STEP, "output_config"),
    **{f"output_{kind}": _MEDIA for kind in ("image", "audio", "music", "video", "code", "text")},
    "pipeline_complete": ("status", "phase"), "pipeline_error": ("status", "code", "message", "details", "withheld"),
    "output_failed": _FAILURE, "pipeline_cancelled": ("status", *_FAILURE),
    "queue_update": ("output_config", "backend", "position", "waited_ms"),
    "moderation_release": ("checkpoint", "category", "block_sequence", "reason", "released_by", "audit_id"),
    "pipeline_interrupted": ("previous_status",),
    "user_input_image": ("mime", "width", "height", "bytes", "sha256", "metadata_removed", "checked"),
    "image_description": (*_STEP, "input_image"),
    "storyboard_brief": (*_STEP, "schema", "config_version", "scenes", "parts", "json_schema", "raw_answers",
                         "status"),
    "storyboard_scene": (*_SCENE_TEXT, "brief"),
    "storyboard_edit": ("order", "changed", "removed", "title_changed", "brief"),
}.items()}

STATUSES = ("queued", "running", "succeeded", "blocked", "failed", "cancelled", "interrupted")
SAFETY_CHECK_ITEMS = {"stage1": "stage1_safety_check", "stage2": "stage2_safety_check",
                      "stage3": "stage3_safety_check", "stage4": "stage4_safety_check"}
BLOCKED_ITEMS = {"stage1": "stage1_blocked", "stage2": "stage2_blocked", "stage3": "stage3_blocked",
                 "stage4": "stage4_blocked"}
TERMINAL_STATUSES = frozenset({"succeeded", "blocked", "failed", "cancelled", "interrupted"})
ACTIVE_STATUSES = tuple(s for s in STATUSES if s not in TERMINAL_STATUSES)


def now_iso() -> str:
    """Return the current UTC time as ISO 8601 with microseconds (fixed width, so strings sort)."""
    return datetime.now(timezone.utc).isoformat(timespec="microseconds")


def build_item(sequence: int, item_type: str, *, stage: str | None = None, content: str | None = None,
               media_type: str = "text", stage_iteration: int | None = None,
               loop_iteration: int | None = None, metadata: dict[str, Any] | None = None,
               file: str | None = None) -> dict[str, Any]:
    """Return one item with every field of the taxonomy; unknown item types and fields are programming errors."""
    if item_type not in ITEM_TYPES:
        raise ValueError(f"unknown item_type {item_type!r}; known: {', '.join(sorted(ITEM_TYPES))}")
    undeclared = set(metadata or ()) - METADATA_FIELDS.get(item_type, frozenset())
    if undeclared:
        raise ValueError(f"{item_type} items have no field {', '.join(sorted(undeclared))}: declare it in "
                         "METADATA_FIELDS and describe it in docs/RESEARCH_EXPORT.md")
    return {"sequence": sequence, "timestamp": now_iso(), "stage": stage, "stage_iteration": stage_iteration,
            "loop_iteration": loop_iteration, "item_type": item_type, "media_type": media_type,
            "content": content, "file": file, "metadata": metadata or {}}


def encode_item(item: dict[str, Any]) -> bytes:
    """Return the item as one JSON line (UTF-8, newline-terminated); odd values become strings."""
    return (json.dumps(item, ensure_ascii=False, default=str) + "\n").encode("utf-8")


def parse_items(data: bytes, source: str = "events.jsonl") -> list[dict[str, Any]]:
    """Parse a JSON-lines log, skipping a torn last line and (with a warning) any other broken line."""
    items: list[dict[str, Any]] = []
    lines = data.split(b"\n")
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except ValueError:
            item = None
        if isinstance(item, dict):
            items.append(item)
        elif number == len(lines):
            log.info("%s: skipped a torn last line (the process stopped mid-write)", source)
        else:
            log.warning("%s: skipped unreadable line %d", source, number)
    return items


def read_items(path: Path) -> list[dict[str, Any]]:
    """Read every item of an `events.jsonl`; a missing file is an empty log."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return []
    return parse_items(data, str(path))

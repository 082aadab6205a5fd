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
    """Return one item with every field of the taxonomy; unknown item types are a programming error."""
    if item_type not in ITEM_TYPES:
        raise ValueError(f"unknown item_type {item_type!r}; known: {', '.join(sorted(ITEM_TYPES))}")
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

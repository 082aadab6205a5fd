"""What each audience may see of a run: the one place that decides it.

    staff    teachers and researchers: the full record (every text, every verdict, every parameter)
    student  what a student may see: texts a checkpoint withheld (blocked, unchecked, an error's
             technical details) come without content and file; safety verdicts carry only their
             decision and category, never the matched terms, the teacher's reason or the verifier's
             model; the status shows only its documented fields.

Every route a student can call for a run (status, events, entities, entity, journey, media) answers
through `project_status`, `project_item` or `project_run`, so nothing blocked leaves the server on
a student's route. The audience is a parameter so the access model can pick it by role.
"""
from __future__ import annotations

from typing import Any, Literal

from devserver.recorder.items import SAFETY_CHECK_ITEMS

Audience = Literal["student", "staff"]
AUDIENCES: tuple[str, ...] = ("student", "staff")

# The status JSON a student's screen is built from (RunState.status_dict); anything else in a
# restored run's metadata (request fingerprints, counters) is bookkeeping.
STATUS_FIELDS = ("run_id", "status", "phase", "stage", "step", "progress", "queue_position", "safety_level",
                 "schema", "lang", "session", "input_text", "context_prompt", "translation", "interception",
                 "optimizations", "outputs", "block", "error", "models", "notices", "created_at", "updated_at",
                 "storyboard")
# Of a safety verdict, students learn what was decided, never what was matched or why in detail.
VERDICT_ITEMS = frozenset(SAFETY_CHECK_ITEMS.values())
VERDICT_FIELDS = frozenset({"checkpoint", "level", "decision", "category", "output_config", "latency_ms"})
# Of a withheld item, students learn only where it happened and that it was withheld.
WITHHELD_FIELDS = frozenset({"withheld", "status", "code", "checkpoint", "stage", "category", "output_config",
                             "index", "language", "field", "scene", "scene_index"})
# Teacher-only anywhere, whatever the item: the words that tripped the filter, the reasons written
# for the teacher, a model's raw answer kept for diagnosis, and the messages a model call was sent
# (a back-translation's messages carry the foreign pass it checks, which may be withheld), and the
# quality gate's findings, which quote the model's rejected, never-checked answer.
STAFF_ONLY_FIELDS = frozenset({"matched_terms", "teacher_reason", "details", "answer", "chat_request", "quality",
                               "raw_answers"})
# Of a storyboard scene a checkpoint blocked, students learn that it was blocked and why in general.
BLOCKED_SCENE_FIELDS = ("id", "status", "block", "output", "edited")


def check_audience(audience: str) -> Audience:
    """Return the audience if known; an unknown one is a programming error."""
    if audience not in AUDIENCES:
        raise ValueError(f"unknown audience {audience!r}; use one of {', '.join(AUDIENCES)}")
    return audience  # type: ignore[return-value]


def _keep(meta: dict[str, Any], allowed: frozenset[str]) -> dict[str, Any]:
    return {k: v for k, v in meta.items() if k in allowed}


def project_item(item: dict[str, Any], audience: str = "student") -> dict[str, Any]:
    """Return one recorded item as the audience may see it."""
    if check_audience(audience) == "staff":
        return item
    meta = item.get("metadata") if isinstance(item.get("metadata"), dict) else {}
    if meta.get("withheld"):
        return {**item, "content": None, "file": None, "metadata": _keep(meta, WITHHELD_FIELDS)}
    if item.get("item_type") in VERDICT_ITEMS:
        return {**item, "metadata": project_verdict(meta)}
    return {**item, "metadata": {k: v for k, v in meta.items() if k not in STAFF_ONLY_FIELDS}}


def project_verdict(verdict: dict[str, Any], audience: str = "student") -> dict[str, Any]:
    """Return a safety verdict as the audience may see it (students: what was decided, not what matched)."""
    if check_audience(audience) == "staff":
        return verdict
    return _keep(verdict, VERDICT_FIELDS)


def project_status(status: dict[str, Any], audience: str = "student") -> dict[str, Any]:
    """Return a run's status (live or from its folder) as the audience may see it."""
    if check_audience(audience) == "staff":
        return status
    shown = {key: status.get(key) for key in STATUS_FIELDS}
    if isinstance(shown.get("storyboard"), dict):
        shown["storyboard"] = project_storyboard(shown["storyboard"])
    return shown


def project_storyboard(board: dict[str, Any]) -> dict[str, Any]:
    """Return a storyboard as a student may see it: a blocked scene without its texts."""
    scenes = [scene if scene.get("status") != "blocked" else {k: scene.get(k) for k in BLOCKED_SCENE_FIELDS}
              for scene in board.get("scenes") or []]
    return {**board, "scenes": scenes}


def project_run(document: dict[str, Any], audience: str = "student") -> dict[str, Any]:
    """Return a run document ({run_id, metadata, events, files}) as the audience may see it.

    Students get the status fields as `metadata` and every item projected; file names are left out
    (a withheld text has its file too, and no student route serves those files)."""
    if check_audience(audience) == "staff":
        return document
    return {"run_id": document["run_id"], "metadata": project_status(document.get("metadata") or {}),
            "events": [project_item(i) for i in document.get("events") or []]}

"""Moderation of a workshop session: its runs live, its blocked attempts in full, audited releases.

What a release does (docs/TEACHER_GUIDE.md): the teacher confirms, with a written reason, that a block
was a false alarm. The run gets a `moderation_release` item carrying the blocked text and the reason,
so the student sees the text and the teacher's note; the run stays `blocked` and nothing is sent to a
generator — a new attempt passes every checkpoint again. A §86a block cannot be released at kids or
youth level. Every release is also written to the audit log (who, when, why).
"""
from __future__ import annotations

import json
from typing import Any

from devserver.access.db import AccessDB
from devserver.engine.projection import project_item
from devserver.errors import Conflict
from devserver.recorder.items import BLOCKED_ITEMS, SAFETY_CHECK_ITEMS, now_iso
from devserver.safety.levels import AGE_LEVELS

BLOCK_ITEMS = tuple(BLOCKED_ITEMS.values())
CHECK_ITEMS = tuple(SAFETY_CHECK_ITEMS.values())
SESSION_RUN_LIMIT = 200


def blocked_attempt(items: list[dict[str, Any]]) -> dict[str, Any] | None:
    """Return the teacher's view of a run's last block: checkpoint, category, reason and the blocked text."""
    blocks = [i for i in items if i.get("item_type") in BLOCK_ITEMS]
    if not blocks:
        return None
    block = blocks[-1]
    meta = block.get("metadata") or {}
    verdicts = [i for i in items if i.get("item_type") in CHECK_ITEMS and i["sequence"] < block["sequence"]
                and (i.get("metadata") or {}).get("decision") != "allow"]
    verdict = (verdicts[-1].get("metadata") or {}) if verdicts else {}
    texts = [i for i in items if i["sequence"] < block["sequence"] and i.get("content")
             and i.get("item_type") not in CHECK_ITEMS]
    return {"sequence": block["sequence"], "timestamp": block.get("timestamp"), "stage": meta.get("stage"),
            "checkpoint": meta.get("checkpoint") or verdict.get("checkpoint"), "category": meta.get("category"),
            "level": verdict.get("level"), "method": verdict.get("method"),
            "matched_terms": verdict.get("matched_terms", []), "teacher_reason": verdict.get("teacher_reason", ""),
            "text": texts[-1]["content"] if texts else None, "message": meta.get("message")}


def releasable(attempt: dict[str, Any], level: str | None) -> str | None:
    """Return why this block cannot be released, or None when a teacher may release it."""
    if attempt.get("category") == "p86a" and (level or "kids") in AGE_LEVELS:
        return ("§86a blocks (symbols and slogans of banned organisations) cannot be released at kids or "
                "youth level.")
    return None


class Moderation:
    """A session's runs and blocked attempts, releases, and the audit log."""

    def __init__(self, db: AccessDB, recorder: Any, orchestrator: Any):
        self.db, self.recorder, self.orchestrator = db, recorder, orchestrator

    def session_runs(self, session_id: str) -> list[dict[str, Any]]:
        """Return the session's runs, newest first, with live status, outputs and any blocked attempt."""
        page = self.recorder.index.list({"session": session_id}, limit=SESSION_RUN_LIMIT)
        return [self._run_view(row["run_id"]) for row in page["runs"]]

    def _run_view(self, run_id: str) -> dict[str, Any]:
        state = self.orchestrator.get(run_id)
        meta = state.status_dict() if state is not None else self.recorder.metadata(run_id)
        # Only a blocked run has an attempt or a release to show: the others' logs are not read (the page polls).
        items = self.recorder.events(run_id) if meta.get("status") == "blocked" else []
        releases = [i for i in items if i.get("item_type") == "moderation_release"]
        view = {key: meta.get(key) for key in ("run_id", "status", "phase", "stage", "step", "schema",
                                               "safety_level", "lang", "input_text", "context_prompt",
                                               "created_at", "updated_at")}
        view["outputs"] = [{k: o.get(k) for k in ("output_config", "media_type", "status", "url", "index")}
                           for o in meta.get("outputs") or [] if isinstance(o, dict)]
        view["interception_result"] = (meta.get("interception") or {}).get("result")
        attempt = blocked_attempt(items) if view["status"] == "blocked" else None
        if attempt is not None:
            attempt["releasable"] = releasable(attempt, meta.get("safety_level")) is None
        view["blocked"] = attempt
        view["release"] = (releases[-1].get("metadata") or {}) if releases else None
        return view

    def release(self, run_id: str, reason: str, actor: str, session_id: str | None) -> dict[str, Any]:
        """Release a blocked run with a written reason: record it in the run and in the audit log."""
        view = self._run_view(run_id)
        if view["status"] != "blocked" or view["blocked"] is None:
            raise Conflict("Only a blocked run can be released.", code="run_not_blocked",
                           details={"run_id": run_id, "status": view["status"]})
        if view["release"] is not None and view["release"].get("block_sequence") == view["blocked"]["sequence"]:
            raise Conflict("This block has been released already.", code="already_released",
                           details={"run_id": run_id})
        why_not = releasable(view["blocked"], view["safety_level"])
        if why_not:
            raise Conflict(why_not, code="release_not_allowed",
                           details={"run_id": run_id, "category": view["blocked"]["category"],
                                    "level": view["safety_level"]})
        attempt = view["blocked"]
        details = {"checkpoint": attempt["checkpoint"], "category": attempt["category"],
                   "block_sequence": attempt["sequence"]}
        with self.db.transaction() as conn:
            cursor = conn.execute("INSERT INTO moderation_audit (session_id, run_id, action, actor, reason, "
                                  "created_at, details) VALUES (?, ?, 'release', ?, ?, ?, ?)",
                                  (session_id, run_id, actor, reason, now_iso(), json.dumps(details)))
            audit_id = cursor.lastrowid
        record = self.recorder.open_run(run_id, {})
        item = record.event("moderation_release", stage=attempt["stage"], content=attempt["text"],
                            metadata={**details, "reason": reason, "released_by": actor, "audit_id": audit_id})
        state = self.orchestrator.get(run_id)
        if state is not None:
            state.publish(project_item(item, "student"))  # the live buffer holds student projections
        return {"run_id": run_id, "audit_id": audit_id, "released": True, "item": item}

    def audit(self, session_id: str) -> list[dict[str, Any]]:
        """Return the session's audit entries, newest first."""
        rows = self.db.query("SELECT * FROM moderation_audit WHERE session_id IS ? ORDER BY id DESC", (session_id,))
        return [{**dict(r), "details": json.loads(r["details"])} for r in rows]

"""A run's research summary, derived from its item log: stage durations, queue waits, safety outcome.

The recorder stores it in `metadata.json` (`summary`) on every snapshot, and the run index keeps
its fields as columns, so statistics over 100k runs never read an item log. A pure function of the
items: rebuilding the index from old folders derives the same summary again.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any, Iterable

NOT_A_CATEGORY = frozenset({None, "", "none"})


def _seconds(timestamp: Any) -> float | None:
    try:
        return datetime.fromisoformat(timestamp).timestamp()
    except (TypeError, ValueError):
        return None


def summarize(items: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """Return {stage_ms, queue_wait_ms, block_category, safety_categories, released} for a run's items.

    A stage lasts from its first item to the first item of the next stage (the last stage: to the
    run's last item). Queue waits add up the `waited_ms` of `queue_update` items that ended a wait
    (position 0). `safety_categories` are the categories of every check that did not allow.
    """
    stage_ms: dict[str, float] = {}
    categories: set[str] = set()
    block_category: str | None = None
    queue_wait_ms = 0.0
    released = False
    current: tuple[str, float] | None = None
    last: float | None = None
    for item in items:
        meta = item.get("metadata") if isinstance(item.get("metadata"), dict) else {}
        moment = _seconds(item.get("timestamp"))
        stage = item.get("stage")
        if moment is not None:
            if stage and (current is None or current[0] != stage):
                if current is not None:
                    stage_ms[current[0]] = stage_ms.get(current[0], 0.0) + (moment - current[1]) * 1000
                current = (stage, moment)
            last = moment
        kind = item.get("item_type", "")
        if kind.endswith("_safety_check") and meta.get("decision") not in (None, "allow"):
            categories.add(str(meta.get("category")))
            if meta.get("decision") == "block" and meta.get("category") not in NOT_A_CATEGORY:
                block_category = str(meta["category"])  # the *_blocked item may follow the last snapshot
        elif kind.endswith("_blocked") and meta.get("category") not in NOT_A_CATEGORY:
            block_category = str(meta["category"])
            categories.add(block_category)
        elif kind == "queue_update" and meta.get("position") == 0:
            queue_wait_ms += float(meta.get("waited_ms") or 0)
        elif kind == "moderation_release":
            released = True
    if current is not None and last is not None:
        stage_ms[current[0]] = stage_ms.get(current[0], 0.0) + (last - current[1]) * 1000
    return {"stage_ms": {k: round(v, 1) for k, v in stage_ms.items()}, "queue_wait_ms": round(queue_wait_ms, 1),
            "block_category": block_category, "safety_categories": sorted(categories - NOT_A_CATEGORY),
            "released": released}

"""The research summary of a run is derived from its items alone."""
from __future__ import annotations

from devserver.recorder.summary import summarize


def item(t: float, item_type: str, stage: str | None = None, **metadata):
    return {"timestamp": f"2026-11-28T10:00:{t:09.6f}+00:00", "item_type": item_type, "stage": stage,
            "metadata": metadata}


def test_stages_waits_blocks_and_releases_are_summarised():
    summary = summarize([
        item(0, "pipeline_start"),
        item(1, "stage_transition", "stage1"), item(2, "stage1_safety_check", "stage1", decision="allow", category="none"),
        item(3, "stage_transition", "stage2"),
        item(7, "stage_transition", "stage3"),
        item(8, "stage3_safety_check", "stage3", decision="block", category="violence"),
        item(8.5, "stage3_blocked", "stage3", category="violence"),
        item(9, "stage_transition", "stage4"), item(10, "queue_update", "stage4", position=2, waited_ms=0),
        item(14, "queue_update", "stage4", position=0, waited_ms=4000.0),
        item(20, "moderation_release", reason="art history lesson"),
    ])
    assert summary["stage_ms"] == {"stage1": 2000.0, "stage2": 4000.0, "stage3": 2000.0, "stage4": 11000.0}
    assert summary["queue_wait_ms"] == 4000.0
    assert summary["block_category"] == "violence" and summary["safety_categories"] == ["violence"]
    assert summary["released"] is True


def test_odd_items_never_break_the_summary():
    summary = summarize([{"item_type": "stage_transition"}, {"timestamp": "yesterday", "stage": "stage1"},
                         {"item_type": "stage1_safety_check", "metadata": "not a dict"}])
    assert summary == {"stage_ms": {}, "queue_wait_ms": 0.0, "block_category": None, "safety_categories": [],
                       "released": False}

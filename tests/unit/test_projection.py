"""The student projection: what a student may see of a run's items, status and verdicts; staff see all."""
from __future__ import annotations

import pytest

from devserver.engine.projection import project_item, project_run, project_status, project_verdict

VERDICT = {"checkpoint": "interception", "level": "kids", "decision": "block", "method": "fast_filter",
           "category": "p86a", "matched_terms": ["Hakenkreuz"], "latency_ms": 0.3, "model": None,
           "teacher_reason": "term list: 'Hakenkreuz'", "positive_prompt": "", "negative_prompt": ""}
WITHHELD = {"sequence": 5, "item_type": "interception_iteration", "content": "A Hakenkreuz flag",
            "file": "03_interception_1.txt", "metadata": {"withheld": True, "model_used": "writer",
                                                          "parameters": {"messages": ["..."]}, "language": "fi",
                                                          "back_translation": "A Hakenkreuz flag"}}


def test_a_withheld_item_keeps_where_it_happened_but_not_what_it_said():
    seen = project_item(WITHHELD)
    assert seen["content"] is None and seen["file"] is None
    assert seen["metadata"] == {"withheld": True, "language": "fi"}
    assert seen["sequence"] == 5 and seen["item_type"] == "interception_iteration"


def test_a_verdict_says_what_was_decided_not_what_matched():
    item = {"sequence": 6, "item_type": "stage1_safety_check", "content": None, "metadata": VERDICT}
    assert project_item(item)["metadata"] == {"checkpoint": "interception", "level": "kids", "decision": "block",
                                              "category": "p86a", "latency_ms": 0.3}
    assert project_verdict(VERDICT) == project_item(item)["metadata"]


def test_no_item_carries_terms_reasons_or_raw_answers():
    item = {"sequence": 7, "item_type": "pipeline_error", "content": None,
            "metadata": {"code": "no_sketch", "details": {"answer": "raw"}, "teacher_reason": "x",
                         "matched_terms": ["y"], "answer": "raw"}}
    assert project_item(item)["metadata"] == {"code": "no_sketch"}


def test_a_model_call_s_messages_stay_with_staff():
    item = {"sequence": 8, "item_type": "stage1_safety_check", "content": None,
            "metadata": {"checkpoint": "back_translation", "decision": "block", "category": "p86a"}}
    call = {"sequence": 9, "item_type": "translation_result", "content": "A flag",
            "metadata": {"model_used": "writer", "answer_sha256": "ab",
                         "chat_request": {"messages": [{"role": "user", "content": "Hakenkreuz-Fahne"}]}}}
    assert "Hakenkreuz" not in str(project_item(call)) and project_item(call)["content"] == "A flag"
    gated = {"sequence": 10, "item_type": "translation_result", "content": "eine Fahne",
             "metadata": {"fallback": "not_translated", "quality": {"first_answer": "Sure! A Hakenkreuz flag"}}}
    assert "Hakenkreuz" not in str(project_item(gated)) and project_item(gated)["metadata"]["fallback"]
    assert "Hakenkreuz" not in str(project_item(item))


def test_the_status_shows_only_its_documented_fields():
    status = {"run_id": "r", "status": "blocked", "request_fingerprints": {"a": "stage2"}, "generation_count": 2,
              "notices": [{"step": "translation", "kind": "not_translated"}]}
    seen = project_status(status)
    assert seen["status"] == "blocked" and "request_fingerprints" not in seen and "generation_count" not in seen
    assert seen["notices"] == status["notices"]  # the quality gate's notices are for the student


def test_staff_see_everything_and_an_unknown_audience_is_an_error():
    document = {"run_id": "r", "metadata": {"status": "blocked", "generation_count": 1}, "events": [WITHHELD],
                "files": ["03_interception_1.txt"]}
    assert project_run(document, "staff") is document
    student = project_run(document)
    assert "files" not in student and student["events"][0]["content"] is None
    with pytest.raises(ValueError):
        project_item(WITHHELD, "teacher")

"""Moderation: a session's blocked attempts with their reason, release with a written reason recorded
in the run and in the audit log; §86a blocks are not releasable at kids/youth."""
from __future__ import annotations

import pytest

REASON = "A detective story for the reading project, not violence."


def blocked_run(client, text: str, level: str = "kids", session: str = "s1") -> dict:
    run = client.post("/api/schema/pipeline/stage2?wait=60", json={
        "schema": "dada", "input_text": text, "safety_level": level, "session": session, "lang": "en"}).get_json()
    assert run["status"] == "blocked", run
    return run


def test_blocked_attempt_is_listed_with_reason_and_text(client):
    run = blocked_run(client, "a murder in the old library")
    runs = client.get("/api/moderation/sessions/s1/runs").get_json()["runs"]
    assert [r["run_id"] for r in runs] == [run["run_id"]]
    blocked = runs[0]["blocked"]
    assert blocked["checkpoint"] == "input" and blocked["category"] == "violence_graphic"
    assert blocked["text"] == "a murder in the old library" and blocked["teacher_reason"]
    assert blocked["releasable"] is True and runs[0]["release"] is None
    assert client.get("/api/moderation/sessions/other/runs").get_json()["runs"] == []


def test_release_is_recorded_in_the_run_and_the_audit_log(client):
    run_id = blocked_run(client, "a murder in the old library")["run_id"]
    res = client.post(f"/api/moderation/runs/{run_id}/release", json={"reason": REASON})
    assert res.status_code == 200
    items = client.get(f"/api/pipeline/{run_id}/entities").get_json()["entities"]
    release = [i for i in items if i["item_type"] == "moderation_release"]
    assert len(release) == 1 and release[0]["metadata"]["reason"] == REASON
    assert release[0]["content"] == "a murder in the old library"  # the student sees text and note
    entries = client.get("/api/moderation/sessions/s1/audit").get_json()["entries"]
    assert len(entries) == 1 and entries[0]["reason"] == REASON and entries[0]["run_id"] == run_id
    assert entries[0]["actor"] and entries[0]["created_at"]
    run = client.get("/api/moderation/sessions/s1/runs").get_json()["runs"][0]
    assert run["status"] == "blocked" and run["release"]["reason"] == REASON  # nothing was generated
    again = client.post(f"/api/moderation/runs/{run_id}/release", json={"reason": REASON})
    assert again.status_code == 409 and again.get_json()["error"]["code"] == "already_released"


@pytest.mark.parametrize("level", ["kids", "youth"])
def test_p86a_block_cannot_be_released_at_kids_or_youth(client, level):
    run_id = blocked_run(client, "Sieg Heil", level=level)["run_id"]
    listed = client.get("/api/moderation/sessions/s1/runs").get_json()["runs"][0]["blocked"]
    assert listed["category"] == "p86a" and listed["releasable"] is False
    res = client.post(f"/api/moderation/runs/{run_id}/release", json={"reason": REASON})
    assert res.status_code == 409 and res.get_json()["error"]["code"] == "release_not_allowed"
    assert "86a" in res.get_json()["error"]["message"]
    assert client.get("/api/moderation/sessions/s1/audit").get_json()["entries"] == []


def test_release_needs_a_reason_and_a_blocked_run(client):
    run_id = blocked_run(client, "a murder in the old library")["run_id"]
    for body in ({}, {"reason": "ok"}, {"reason": REASON, "extra": 1}):
        assert client.post(f"/api/moderation/runs/{run_id}/release", json=body).status_code == 400
    assert client.post("/api/moderation/runs/../release", json={"reason": REASON}).status_code in (400, 404)
    unknown = "00000000-0000-4000-8000-000000000000"
    assert client.post(f"/api/moderation/runs/{unknown}/release", json={"reason": REASON}).status_code == 404

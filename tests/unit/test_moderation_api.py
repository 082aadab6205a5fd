"""Moderation: a session's blocked attempts with their reason, release with a written reason recorded
in the run and in the audit log; §86a blocks are not releasable at kids/youth; only the session's
teachers may see or release. Students' own attitudes: saved after the rules check, published by a teacher."""
from __future__ import annotations

from types import SimpleNamespace

import pytest
from tests.waiting import phase_done

REASON = "A detective story for the reading project, not violence."


@pytest.fixture
def workshop(make_app, login, join):
    """A network-bound app, a teacher with a session, and a student who joined it."""
    app = make_app(HOST="192.0.2.10")

    def make(level: str = "kids") -> SimpleNamespace:
        teacher = app.test_client()
        login(teacher, "teacher")
        session = teacher.post("/api/sessions", json={"title": "Lesegruppe", "safety_level": level}).get_json()
        student = app.test_client()
        join(student, session["code"])
        return SimpleNamespace(app=app, teacher=teacher, student=student, id=session["id"])
    return make


def blocked_run(student, text: str) -> dict:
    run = phase_done(student, "/api/schema/pipeline/stage2", json={
        "schema": "dada", "input_text": text, "lang": "en", "safety_level": "adult"}).get_json()
    assert run["status"] == "blocked", run
    return run


def test_blocked_attempt_is_listed_with_reason_and_text(workshop):
    w = workshop()
    run = blocked_run(w.student, "a murder in the old library")
    assert run["safety_level"] == "kids"  # the student's "adult" could not loosen the session's level
    runs = w.teacher.get(f"/api/moderation/sessions/{w.id}/runs").get_json()["runs"]
    assert [r["run_id"] for r in runs] == [run["run_id"]]
    blocked = runs[0]["blocked"]
    assert blocked["checkpoint"] == "input" and blocked["category"] == "violence_graphic"
    assert blocked["text"] == "a murder in the old library" and blocked["teacher_reason"]
    assert blocked["releasable"] is True and runs[0]["release"] is None


def test_release_is_recorded_in_the_run_and_the_audit_log(workshop):
    w = workshop()
    run_id = blocked_run(w.student, "a murder in the old library")["run_id"]
    res = w.teacher.post(f"/api/moderation/runs/{run_id}/release", json={"reason": REASON})
    assert res.status_code == 200
    items = w.student.get(f"/api/pipeline/{run_id}/entities").get_json()["entities"]
    release = [i for i in items if i["item_type"] == "moderation_release"]
    assert len(release) == 1 and release[0]["metadata"]["reason"] == REASON
    assert release[0]["content"] == "a murder in the old library"  # the student sees text and note
    entries = w.teacher.get(f"/api/moderation/sessions/{w.id}/audit").get_json()["entries"]
    assert len(entries) == 1 and entries[0]["reason"] == REASON and entries[0]["run_id"] == run_id
    assert entries[0]["actor"] == "teacher1" and entries[0]["created_at"]
    run = w.teacher.get(f"/api/moderation/sessions/{w.id}/runs").get_json()["runs"][0]
    assert run["status"] == "blocked" and run["release"]["reason"] == REASON  # nothing was generated
    again = w.teacher.post(f"/api/moderation/runs/{run_id}/release", json={"reason": REASON})
    assert again.status_code == 409 and again.get_json()["error"]["code"] == "already_released"


@pytest.mark.parametrize("level", ["kids", "youth"])
def test_p86a_block_cannot_be_released_at_kids_or_youth(workshop, level):
    w = workshop(level)
    run_id = blocked_run(w.student, "Sieg Heil")["run_id"]
    listed = w.teacher.get(f"/api/moderation/sessions/{w.id}/runs").get_json()["runs"][0]["blocked"]
    assert listed["category"] == "p86a" and listed["releasable"] is False
    res = w.teacher.post(f"/api/moderation/runs/{run_id}/release", json={"reason": REASON})
    assert res.status_code == 409 and res.get_json()["error"]["code"] == "release_not_allowed"
    assert "86a" in res.get_json()["error"]["message"]
    assert w.teacher.get(f"/api/moderation/sessions/{w.id}/audit").get_json()["entries"] == []


def test_release_needs_a_reason_a_blocked_run_and_the_sessions_teacher(workshop, login):
    w = workshop()
    run_id = blocked_run(w.student, "a murder in the old library")["run_id"]
    for body in ({}, {"reason": "ok"}, {"reason": REASON, "extra": 1}):
        assert w.teacher.post(f"/api/moderation/runs/{run_id}/release", json=body).status_code == 400
    assert w.student.post(f"/api/moderation/runs/{run_id}/release", json={"reason": REASON}).status_code == 403
    anonymous = w.app.test_client()
    assert anonymous.post(f"/api/moderation/runs/{run_id}/release", json={"reason": REASON}).status_code == 401
    other = w.app.test_client()
    login(other, "teacher", "another_teacher")
    assert other.post(f"/api/moderation/runs/{run_id}/release", json={"reason": REASON}).status_code == 404
    assert other.get(f"/api/moderation/sessions/{w.id}/runs").status_code == 404
    no_csrf = w.app.test_client(csrf=False)
    login(no_csrf, "teacher")
    assert no_csrf.post(f"/api/moderation/runs/{run_id}/release", json={"reason": REASON}).status_code == 403
    assert w.teacher.get(f"/api/moderation/sessions/{w.id}/audit").get_json()["entries"] == []


def test_student_saves_own_attitude_and_teacher_publishes_it(workshop, join):
    w = workshop()
    res = w.student.post("/api/attitudes", json={"name": "Meadow", "context": "Everything becomes a calm meadow."})
    assert res.status_code == 201
    mine = res.get_json()
    assert mine["own"] is True and mine["published"] is False
    classmate = w.app.test_client()
    code = w.teacher.get(f"/api/sessions/{w.id}").get_json()["code"]
    join(classmate, code)
    assert classmate.get("/api/attitudes").get_json()["attitudes"] == []  # private until published
    listed = w.teacher.get(f"/api/moderation/sessions/{w.id}/attitudes").get_json()["attitudes"]
    assert [a["name"] for a in listed] == ["Meadow"] and listed[0]["student_id"]
    assert w.student.post(f"/api/moderation/sessions/{w.id}/attitudes/{mine['id']}/publish", json={}).status_code == 403
    res = w.teacher.post(f"/api/moderation/sessions/{w.id}/attitudes/{mine['id']}/publish", json={"published": True})
    assert res.status_code == 200 and res.get_json()["published"] is True
    shared = classmate.get("/api/attitudes").get_json()["attitudes"]
    assert [(a["name"], a["own"]) for a in shared] == [("Meadow", False)]
    assert classmate.delete(f"/api/attitudes/{mine['id']}").status_code == 404  # not theirs
    assert w.student.delete(f"/api/attitudes/{mine['id']}").status_code == 200


def test_harmful_own_attitude_is_not_saved(workshop):
    w = workshop()
    res = w.student.post("/api/attitudes", json={"name": "Bad", "context": "Draw a swastika and write Sieg Heil.",
                                                 "lang": "en"})
    assert res.status_code == 422 and res.get_json()["error"]["code"] == "attitude_blocked"
    assert res.get_json()["error"]["details"]["message"]["what"]
    assert w.student.get("/api/attitudes").get_json()["attitudes"] == []
    assert w.app.test_client().get("/api/attitudes").status_code == 401

"""Retention and deletion: expired runs of a session are deleted (and only those), by the sweep or by hand,
the index stays consistent, every deletion is in the audit log, and only the session's teachers may delete."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Iterator

import pytest

from tests.fakes.ollama_fake import OllamaFake
from tests.waiting import phase_done

ROLES = {"TRANSLATION_MODEL": "ollama/writer:latest", "STAGE2_INTERCEPTION_MODEL": "ollama/writer:latest",
         "STAGE2_OPTIMIZATION_MODEL": "ollama/writer:latest"}


@pytest.fixture
def ollama() -> Iterator[OllamaFake]:
    with OllamaFake(models=("writer:latest",)) as fake:
        yield fake


@pytest.fixture
def app(make_app, ollama):
    return make_app(OLLAMA_URL=ollama.url, MODEL_ROLE_MAP=ROLES, RETRY_ATTEMPTS=1)


def _session(teacher, title: str, days: int) -> str:
    body = teacher.post("/api/sessions", json={"title": title, "safety_level": "kids", "retention_days": days})
    assert body.status_code == 201, body.get_json()
    return body.get_json()


def _run(client, text: str = "Ein Hund im Park") -> str:
    body = phase_done(client, "/api/schema/pipeline/execute", json={
        "schema": "dada", "input_text": text, "output_configs": ["sketch_offline"]}).get_json()
    assert body["status"] in ("succeeded", "blocked"), body
    return body["run_id"]


def test_the_sweep_deletes_exactly_the_expired_runs_and_audits_them(app, teacher_client, join):
    short, long = _session(teacher_client, "Short", 1), _session(teacher_client, "Long", 30)
    students = []
    for session in (short, long):
        student = app.test_client()
        join(student, session["code"])
        students.append(student)
    expiring = [_run(students[0]), _run(students[0], "eine Hakenkreuz Fahne")]
    kept = [_run(students[1]), _run(app.test_client())]  # a 30-day session, and the default session (keep)
    retention, recorder = app.extensions["devserver.retention"], app.extensions["devserver.recorder"]

    assert retention.sweep() == {"deleted": [], "skipped": []}  # nothing is a day old yet
    result = retention.sweep(datetime.now(timezone.utc) + timedelta(days=2))
    assert sorted(result["deleted"]) == sorted(expiring) and result["skipped"] == []
    for run_id in expiring:
        assert not (recorder.runs_dir / run_id).exists()
        assert students[0].get(f"/api/pipeline/{run_id}/status").status_code == 404
    for run_id in kept:
        assert (recorder.runs_dir / run_id / "events.jsonl").is_file()
    assert recorder.index.list({"session": short["id"]}, 10, 0)["total"] == 0
    assert recorder.index.stats()["total"] == len(kept)
    audit = teacher_client.get(f"/api/moderation/sessions/{short['id']}/audit").get_json()["entries"]
    assert sorted(e["run_id"] for e in audit if e["action"] == "delete") == sorted(expiring)
    assert {e["actor"] for e in audit} == {"retention"}


def test_delete_now_for_a_run_and_a_session_only_by_its_teachers(app, teacher_client, join, login, ollama):
    session = _session(teacher_client, "Class 5b", 30)
    student = app.test_client()
    join(student, session["code"])
    first, second, third = _run(student), _run(student), _run(student)

    why = {"reason": "a parent asked for the data to be deleted"}
    assert student.delete(f"/api/runs/{first}", json=why).status_code in (401, 403)
    other = app.test_client()
    login(other, "teacher", name="other_teacher")
    assert other.delete(f"/api/runs/{first}", json=why).status_code == 404  # not their session: as if unknown
    assert other.delete(f"/api/sessions/{session['id']}/runs", json=why).status_code == 404
    assert teacher_client.delete(f"/api/runs/{first}").status_code == 400  # no reason, nothing deleted
    assert teacher_client.delete(f"/api/runs/{first}", json={"reason": ""}).status_code == 400

    assert teacher_client.delete(f"/api/runs/{first}", json=why).get_json() == {"deleted": [first], "skipped": []}
    assert teacher_client.delete(f"/api/runs/{first}", json=why).status_code == 404
    assert student.get(f"/api/pipeline/{first}/status").status_code == 404

    ollama.mode, ollama.delay = "slow", 30  # a run that is still going is not deleted
    going = student.post("/api/schema/pipeline/execute", json={
        "schema": "dada", "input_text": "Ein Vulkan", "output_configs": ["sketch_offline"]}).get_json()["run_id"]
    assert teacher_client.delete(f"/api/runs/{going}", json=why).status_code == 409
    result = teacher_client.delete(f"/api/sessions/{session['id']}/runs", json=why).get_json()
    assert sorted(result["deleted"]) == sorted([second, third]) and result["skipped"] == [going]
    student.post(f"/api/pipeline/{going}/cancel")
    audit = teacher_client.get(f"/api/moderation/sessions/{session['id']}/audit").get_json()["entries"]
    assert sorted(e["run_id"] for e in audit if e["action"] == "delete") == sorted([first, second, third])
    assert {(e["actor"], e["reason"]) for e in audit if e["action"] == "delete"} == {("teacher1", why["reason"])}

"""Workshop sessions: create, join with a code, runs private to their student, levels, limits, closing.

The server is bound to a network address, so every student joins. Runs stop at the term filter
(blocked) or are drawn by the offline sketch renderer: no language model is needed.
"""
from __future__ import annotations

import uuid

import pytest
from tests.waiting import phase_done

BLOCKED_TEXT = "eine Fahne mit H4kenkr3uz"  # stopped by the §86a term list before any model call
SKETCH = {"output_config": "sketch_offline", "prompt": "a red circle next to a blue square", "seed": 7, "lang": "en"}


def error_code(response) -> str:
    return response.get_json()["error"]["code"]


@pytest.fixture
def net_app(make_app):
    return make_app(HOST="192.0.2.10")


@pytest.fixture
def teacher(net_app, login):
    client = net_app.test_client()
    login(client, "teacher", "tina")
    return client


def new_session(teacher, **settings) -> dict:
    r = teacher.post("/api/sessions", json={"title": "Kunst 5a", "safety_level": "kids", **settings})
    assert r.status_code == 201, r.get_json()
    return r.get_json()


def student(app, join, session: dict):
    client = app.test_client()
    join(client, session["code"])
    return client


def sketch_run(client, **extra) -> dict:
    r = phase_done(client, "/api/schema/pipeline/generation", json={**SKETCH, **extra})
    assert r.status_code == 200, r.get_json()
    return r.get_json()


def test_a_session_gets_a_short_unambiguous_code_a_join_link_and_a_qr_code(teacher):
    session = new_session(teacher)
    assert len(session["code"]) == 6 and not set(session["code"]) & set("0O1IL2Z5S8B")
    assert session["join_url"].endswith(f"/join?code={session['code']}")
    svg = teacher.get(session["qr_svg"])
    assert svg.status_code == 200 and svg.mimetype == "image/svg+xml" and b"<svg" in svg.data
    png = teacher.get(session["qr_png"])
    assert png.mimetype == "image/png" and png.data.startswith(b"\x89PNG")
    listed = teacher.get("/api/sessions").get_json()["sessions"]
    assert [s["id"] for s in listed] == [session["id"]]


def test_a_session_naming_unknown_attitudes_or_outputs_lists_every_one(teacher):
    r = teacher.post("/api/sessions", json={"title": "x", "safety_level": "kids",
                                            "allowed_attitudes": ["dada", "nope"], "allowed_outputs": ["gone"]})
    assert r.status_code == 400
    fields = {p["field"] for p in r.get_json()["error"]["details"]["problems"]}
    assert fields == {"allowed_attitudes.1", "allowed_outputs.0"}
    r = teacher.post("/api/sessions", json={"title": "", "safety_level": "everyone", "runs_per_minute": 0})
    fields = {p["field"] for p in r.get_json()["error"]["details"]["problems"]}
    assert {"title", "safety_level", "runs_per_minute"} <= fields


def test_joining_gives_a_pseudonymous_pass_and_the_session_settings(net_app, teacher):
    session = new_session(teacher, lang="en")
    client = net_app.test_client()
    r = client.post("/api/sessions/join", json={"code": f" {session['code'][:3].lower()}-{session['code'][3:]} "})
    assert r.status_code == 200
    body = r.get_json()
    assert body["student"].startswith("st-") and body["session"]["lang"] == "en"
    assert "code" not in body["session"]  # a pass carries no way to let others in
    assert client.get_cookie("devserver_student").http_only
    assert client.get("/api/sessions/current").get_json()["session"]["id"] == session["id"]
    assert teacher.get(f"/api/sessions/{session['id']}").get_json()["students"] == 1
    other = net_app.test_client()
    assert other.post("/api/sessions/join", json={"code": session["code"]}).get_json()["student"] != body["student"]


@pytest.mark.parametrize("lang, header, words", [("en", None, "no workshop"), (None, "de-DE,de;q=0.9", "Code")])
def test_an_unknown_code_is_a_friendly_404_in_the_students_language(net_app, lang, header, words):
    body = {"code": "QQQQQQ", **({"lang": lang} if lang else {})}
    r = net_app.test_client().post("/api/sessions/join", json=body,
                                   headers={"Accept-Language": header} if header else {})
    assert r.status_code == 404 and error_code(r) == "session_code_unknown"
    assert words in r.get_json()["error"]["message"]


def test_a_kids_session_runs_a_request_for_adult_at_kids(net_app, teacher, join):
    kid = student(net_app, join, new_session(teacher, safety_level="kids"))
    r = phase_done(kid, "/api/schema/pipeline/stage2", json={"schema": "dada", "input_text": BLOCKED_TEXT, "safety_level": "adult"})
    run = r.get_json()
    assert run["status"] == "blocked" and run["safety_level"] == "kids"
    checks = [e for e in kid.get(f"/api/pipeline/{run['run_id']}/entities").get_json()["entities"]
              if e["item_type"] == "stage1_safety_check"]
    assert checks and all(c["metadata"]["level"] == "kids" for c in checks)


@pytest.mark.parametrize("level", ["kids", "adult"])
def test_the_safety_check_uses_the_sessions_level(net_app, teacher, join, level):
    kid = student(net_app, join, new_session(teacher, safety_level=level))
    verdict = kid.post("/api/safety/check", json={"text": "ein Hund", "level": "research"}).get_json()["verdict"]
    assert verdict["level"] == level


def test_an_adult_session_is_the_base_and_a_request_may_tighten_it(net_app, teacher, join):
    grown_up = student(net_app, join, new_session(teacher, safety_level="adult"))
    assert sketch_run(grown_up)["safety_level"] == "adult"  # looser than the server's default youth
    assert sketch_run(grown_up, safety_level="kids")["safety_level"] == "kids"


def test_another_browser_cannot_read_cancel_or_continue_a_students_run(net_app, teacher, join, login):
    session = new_session(teacher)
    owner, classmate = student(net_app, join, session), student(net_app, join, session)
    run_id = sketch_run(owner)["run_id"]
    unknown = str(uuid.uuid4())
    for path in (f"/api/pipeline/{run_id}/status", f"/api/pipeline/{run_id}/entities", f"/api/media/image/{run_id}",
                 f"/api/media/info/{run_id}", f"/api/runs/{run_id}"):
        assert owner.get(path).status_code == 200, path
        theirs, nobodys = classmate.get(path), classmate.get(path.replace(run_id, unknown))
        assert theirs.status_code == nobodys.status_code == 404, path  # a foreign run looks like no run at all
        assert theirs.get_json()["error"]["message"] == nobodys.get_json()["error"]["message"].replace(unknown, run_id)
        assert teacher.get(path).status_code == 200, path
    assert classmate.post(f"/api/pipeline/{run_id}/cancel").status_code == 404
    r = classmate.post("/api/schema/pipeline/generation", json={**SKETCH, "run_id": run_id})
    assert r.status_code == 404 and error_code(r) == "run_not_found"
    other_teacher = net_app.test_client()
    login(other_teacher, "teacher", "tom")
    assert other_teacher.get(f"/api/pipeline/{run_id}/status").status_code == 404


def test_my_runs_lists_only_the_callers_runs(net_app, teacher, join):
    session = new_session(teacher)
    ada, bo = student(net_app, join, session), student(net_app, join, session)
    mine = sketch_run(ada)["run_id"]
    sketch_run(bo)
    listed = ada.get("/api/runs/mine").get_json()
    assert [r["run_id"] for r in listed["runs"]] == [mine] and listed["total"] == 1
    assert listed["runs"][0]["session"] == session["id"]


def test_the_loopback_person_owns_the_default_session(make_app):
    client = make_app().test_client()
    run_id = sketch_run(client)["run_id"]
    assert client.get(f"/api/pipeline/{run_id}/status").get_json()["session"] == "default"
    assert [r["run_id"] for r in client.get("/api/runs/mine").get_json()["runs"]] == [run_id]
    assert client.get("/api/runs/list").status_code == 401  # research needs a login even on loopback


def test_a_teacher_sees_the_research_records_of_own_sessions_only(net_app, teacher, join, login):
    mine, theirs = new_session(teacher), None
    other = net_app.test_client()
    login(other, "teacher", "tom")
    theirs = new_session(other)
    sketch_run(student(net_app, join, mine))
    sketch_run(student(net_app, join, theirs))
    r = teacher.get("/api/runs/list")
    assert r.status_code == 400 and error_code(r) == "session_required"
    assert mine["id"] in r.get_json()["error"]["details"]["sessions"]
    assert teacher.get(f"/api/runs/list?session={mine['id']}").get_json()["total"] == 1
    assert teacher.get(f"/api/runs/list?session={theirs['id']}").status_code == 404
    assert teacher.get(f"/api/runs/stats?session={theirs['id']}").status_code == 404


def test_a_closed_session_stops_new_runs_but_keeps_the_old_ones_visible(net_app, teacher, join):
    session = new_session(teacher)
    kid = student(net_app, join, session)
    run_id = sketch_run(kid)["run_id"]
    assert teacher.post(f"/api/sessions/{session['id']}/close").get_json()["closed"] is True
    r = kid.post("/api/schema/pipeline/generation", json=SKETCH)
    assert r.status_code == 403 and error_code(r) == "session_closed"
    assert kid.get(f"/api/pipeline/{run_id}/status").status_code == 200
    r = net_app.test_client().post("/api/sessions/join", json={"code": session["code"], "lang": "en"})
    assert r.status_code == 409 and "ended" in r.get_json()["error"]["message"]


def test_starting_runs_too_fast_is_429_with_retry_after(net_app, teacher, join):
    kid = student(net_app, join, new_session(teacher, runs_per_minute=2))
    body = {"schema": "dada", "input_text": BLOCKED_TEXT}
    assert [kid.post("/api/schema/pipeline/stage2", json=body).status_code for _ in range(2)] == [202, 202]
    r = kid.post("/api/schema/pipeline/stage2", json=body)
    assert r.status_code == 429 and error_code(r) == "too_many_runs"
    assert 1 <= int(r.headers["Retry-After"]) <= 60
    assert r.get_json()["error"]["details"]["retry_after"] == int(r.headers["Retry-After"])


def test_a_run_cannot_grow_past_the_sessions_output_limit(net_app, teacher, join):
    kid = student(net_app, join, new_session(teacher, max_outputs_per_run=2))
    r = kid.post("/api/schema/pipeline/generation", json={**SKETCH, "output_configs": ["sketch_offline"] * 3})
    assert r.status_code == 409 and error_code(r) == "output_limit_reached"
    run_id = sketch_run(kid)["run_id"]
    assert sketch_run(kid, run_id=run_id, seed=8)["status"] == "succeeded"
    r = kid.post("/api/schema/pipeline/generation", json={**SKETCH, "run_id": run_id, "seed": 9})
    assert r.status_code == 409 and error_code(r) == "output_limit_reached"
    assert r.get_json()["error"]["details"] == {"limit": 2, "existing": 2, "requested": 1}


def test_a_run_cannot_take_more_steps_than_run_max_phases(make_app):
    client = make_app(RUN_MAX_PHASES=2).test_client()
    run_id = sketch_run(client)["run_id"]
    sketch_run(client, run_id=run_id, seed=8)
    r = client.post("/api/schema/pipeline/generation", json={**SKETCH, "run_id": run_id, "seed": 9})
    assert r.status_code == 409 and error_code(r) == "run_limit_reached"


def test_a_session_limits_the_attitudes_and_outputs_students_may_use(net_app, teacher, join):
    kid = student(net_app, join, new_session(teacher, allowed_attitudes=["bauhaus"], allowed_outputs=["p5js_code"]))
    r = kid.post("/api/schema/pipeline/stage2", json={"schema": "dada", "input_text": "ein Hund"})
    assert r.status_code == 403 and error_code(r) == "attitude_not_allowed"
    r = kid.post("/api/schema/pipeline/generation", json=SKETCH)
    assert r.status_code == 403 and error_code(r) == "output_not_allowed"
    assert [c["id"] for c in kid.get("/api/configs/interception").get_json()["configs"]] == ["bauhaus"]
    assert [o["id"] for o in kid.get("/api/configs/outputs").get_json()["outputs"]] == ["p5js_code"]
    assert len(teacher.get("/api/configs/interception").get_json()["configs"]) > 1  # staff see every config

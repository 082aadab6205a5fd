"""The storyboard brief and the scene editor against the Ollama protocol fake: what the model answers is set.

A malformed brief is asked for again once, then the run fails with a message a student understands while
teachers keep the raw answers; scenes the filter blocks are marked, their text withheld from students;
edits reorder, add, remove and are checked one by one.
"""
from __future__ import annotations

import json
from typing import Any, Iterator

import pytest

from tests.fakes.ollama_fake import OllamaFake
from tests.waiting import phase_done

START = {"schema": "storyboard_comic", "input_text": "a cat who wants to fly to the moon", "lang": "en"}
BLOCKED = "a dead body lying in a pool of blood"  # the kids list blocks it (schemas/safety/kids.json)


def scene(n: int, extra: str = "") -> dict[str, str]:
    return {"description": f"Panel {n}: the cat looks up at the moon{extra}",
            "generation_prompt": f"comic panel {n}, a small grey cat on a roof at night{extra}"}


def brief(scenes: list[dict[str, str]]) -> dict[str, Any]:
    return {"title": "The Moon Cat", "logline": "A cat builds a rocket to reach the moon.", "scenes": scenes}


@pytest.fixture
def ollama() -> Iterator[OllamaFake]:
    with OllamaFake(models=("writer:latest",)) as fake:
        yield fake


ROLES = {role: "ollama/writer:latest" for role in ("TRANSLATION_MODEL", "STAGE2_INTERCEPTION_MODEL",
                                                   "STAGE2_OPTIMIZATION_MODEL")}


@pytest.fixture
def app(make_app, ollama):
    return make_app(OLLAMA_URL=ollama.url, MODEL_ROLE_MAP=ROLES, RETRY_ATTEMPTS=1, DEFAULT_SAFETY_LEVEL="kids")


def start(client) -> dict[str, Any]:
    response = phase_done(client, "/api/schema/pipeline/storyboard", json=START)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def items(app, run_id: str) -> list[dict[str, Any]]:
    return app.extensions["devserver.recorder"].events(run_id)


def brief_calls(ollama: OllamaFake) -> list[dict[str, Any]]:
    return [b for b in ollama.chat_bodies() if b.get("format") and "scenes" in json.dumps(b["format"])]


def test_a_brief_is_asked_for_under_its_json_schema_and_every_scene_is_checked(app, ollama):
    ollama.json_answers = [brief([scene(1), scene(2, f", {BLOCKED}"), scene(3), scene(4)])]
    client = app.test_client()
    run = start(client)
    assert run["status"] == "succeeded", run
    board = run["storyboard"]
    assert board["title"] == "The Moon Cat" and [s["id"] for s in board["scenes"]] == ["s1", "s2", "s3", "s4"]
    assert [s["status"] for s in board["scenes"]] == ["ready", "blocked", "ready", "ready"]
    blocked = board["scenes"][1]
    assert "description" not in blocked and blocked["block"]["message"]  # the student learns it was blocked, not what
    assert BLOCKED not in json.dumps(client.get(f"/api/pipeline/{run['run_id']}/entities").get_json())
    sent = brief_calls(ollama)[0]["format"]
    assert sent["properties"]["scenes"]["minItems"] == 4 and sent["properties"]["scenes"]["maxItems"] == 8
    record = items(app, run["run_id"])
    head = next(i for i in record if i["item_type"] == "storyboard_brief")
    scenes = [i for i in record if i["item_type"] == "storyboard_scene"]
    assert [i["metadata"]["scene"] for i in scenes] == ["s1", "s2", "s3", "s4"]
    assert all(i["metadata"]["brief"] == head["sequence"] for i in scenes)
    assert scenes[1]["metadata"]["withheld"] and BLOCKED in scenes[1]["content"]  # kept for teachers


def test_a_malformed_brief_is_retried_once_and_then_fails_with_a_clear_message(app, ollama):
    ollama.json_answers = [{"title": "Only a title"}, brief([scene(1)])]  # no scenes; then too few
    client = app.test_client()
    run = start(client)
    assert run["status"] == "failed" and run["error"]["code"] == "brief_unstructured", run
    assert "scenes" in run["error"]["message"] and "Try again" in run["error"]["message"]
    assert len(brief_calls(ollama)) == 2  # asked once more, not more
    record = items(app, run["run_id"])
    kept = next(i for i in record if i["item_type"] == "storyboard_brief")
    assert [a["attempt"] for a in kept["metadata"]["raw_answers"]] == [1, 2]  # for teachers
    assert "Only a title" in kept["metadata"]["raw_answers"][0]["answer"]
    student = json.dumps(client.get(f"/api/pipeline/{run['run_id']}/entities").get_json())
    assert "Only a title" not in student and "raw_answers" not in student


def test_a_malformed_first_answer_is_repaired_by_the_retry(app, ollama):
    ollama.json_answers = ["{\"title\": \"cut off", brief([scene(n) for n in range(1, 6)])]
    run = start(app.test_client())
    assert run["status"] == "succeeded" and len(run["storyboard"]["scenes"]) == 5, run
    head = next(i for i in items(app, run["run_id"]) if i["item_type"] == "storyboard_brief")
    assert head["metadata"]["attempts"] == 2 and head["metadata"]["raw_answers"][0]["attempt"] == 1


def test_scene_edits_reorder_add_remove_and_check_every_changed_text(app, ollama):
    ollama.json_answers = [brief([scene(n) for n in range(1, 5)])]
    client = app.test_client()
    run_id = start(client)["run_id"]
    edit = {"scenes": [{"id": "s3"}, {"id": "s1", "description": "The cat finds a cardboard rocket."},
                       {"description": "The cat waves from the moon.", "generation_prompt": "a cat on the moon"},
                       {"id": "s4", "generation_prompt": f"comic panel, {BLOCKED}"}]}
    response = phase_done(client, f"/api/pipeline/{run_id}/scenes", "put", json=edit)
    assert response.status_code == 200, response.get_json()
    scenes = response.get_json()["storyboard"]["scenes"]
    assert [s["id"] for s in scenes] == ["s3", "s1", "s5", "s4"]  # s2 removed, s5 added
    assert [s["status"] for s in scenes] == ["ready", "ready", "ready", "blocked"]
    assert scenes[1]["description"] == "The cat finds a cardboard rocket." and scenes[1]["edited"]
    assert "generation_prompt" not in scenes[3] and BLOCKED not in response.get_data(as_text=True)
    edit_item = next(i for i in items(app, run_id) if i["item_type"] == "storyboard_edit")
    assert edit_item["metadata"]["removed"] == ["s2"] and set(edit_item["metadata"]["changed"]) == {"s1", "s5", "s4"}


@pytest.mark.parametrize("body, code", [
    ({"scenes": []}, "validation_failed"),
    ({"scenes": [{"description": "only half a new scene"}]}, "validation_failed"),
    ({"scenes": [{"id": "s1"}, {"id": "s1"}]}, "validation_failed"),
    ({"scenes": [{"id": f"s{i}"} for i in range(1, 10)]}, "validation_failed"),
])
def test_a_bad_scene_list_is_refused_naming_the_problem(app, ollama, body, code):
    ollama.json_answers = [brief([scene(n) for n in range(1, 5)])]
    client = app.test_client()
    run_id = start(client)["run_id"]
    response = client.put(f"/api/pipeline/{run_id}/scenes", json=body)
    assert response.status_code == 400 and response.get_json()["error"]["code"] == code


def test_an_unknown_scene_id_is_refused_before_anything_changes(app, ollama):
    ollama.json_answers = [brief([scene(n) for n in range(1, 5)])]
    client = app.test_client()
    run_id = start(client)["run_id"]
    before = client.get(f"/api/pipeline/{run_id}/status").get_json()
    response = client.put(f"/api/pipeline/{run_id}/scenes", json={"scenes": [{"id": "s1"}, {"id": "s9"}]})
    assert response.status_code == 400 and response.get_json()["error"]["code"] == "scene_not_found"
    assert response.get_json()["error"]["details"]["scenes"] == ["s9"]
    after = client.get(f"/api/pipeline/{run_id}/status").get_json()
    assert after == before  # no phase ran, nothing was recorded


def test_scene_phases_on_a_run_without_a_storyboard_are_refused_at_once(app, ollama):
    ollama.answer = "Ein Boot aus Papier, das über den Himmel segelt."
    client = app.test_client()
    run = phase_done(client, "/api/schema/pipeline/stage2", json={"schema": "dada", "input_text": "ein Boot",
                                                                   "lang": "de"}).get_json()
    edit = client.put(f"/api/pipeline/{run['run_id']}/scenes", json={"scenes": [{"id": "s1"}]})
    draw = client.post("/api/schema/pipeline/storyboard_generation",
                       json={"run_id": run["run_id"], "output_config": "p5js_code"})
    for response in (edit, draw):
        assert response.status_code == 400 and response.get_json()["error"]["code"] == "no_storyboard"
    assert client.get(f"/api/pipeline/{run['run_id']}/status").get_json() == run


def test_a_storyboard_attitude_is_refused_on_the_interception_phase_and_vice_versa(app):
    client = app.test_client()
    wrong = client.post("/api/schema/pipeline/stage2", json=START)
    assert wrong.status_code == 400 and wrong.get_json()["error"]["code"] == "wrong_pipeline_kind"
    wrong = client.post("/api/schema/pipeline/storyboard", json={**START, "schema": "dada"})
    assert wrong.status_code == 400 and wrong.get_json()["error"]["code"] == "wrong_pipeline_kind"


def test_scenes_of_a_run_without_storyboard_or_of_an_unknown_run(app, ollama):
    client = app.test_client()
    missing = client.put("/api/pipeline/0b6f7f3e-6c1a-4f3e-9d55-6f1b2b3c4d5e/scenes", json={"scenes": [{"id": "s1"}]})
    assert missing.status_code == 404
    sheet = client.get("/api/runs/0b6f7f3e-6c1a-4f3e-9d55-6f1b2b3c4d5e/storyboard.pdf")
    assert sheet.status_code == 404


def test_drawing_a_storyboard_counts_every_scene_against_the_output_limit(make_app, ollama):
    app = make_app(OLLAMA_URL=ollama.url, MODEL_ROLE_MAP=ROLES, RETRY_ATTEMPTS=1, MAX_OUTPUTS_PER_RUN=3)
    ollama.json_answers = [brief([scene(n) for n in range(1, 5)])]
    client = app.test_client()
    run_id = start(client)["run_id"]
    r = client.post("/api/schema/pipeline/storyboard_generation",
                    json={"run_id": run_id, "output_config": "sketch_offline", "lang": "en"})
    assert r.status_code == 409, r.get_json()
    error = r.get_json()["error"]
    assert error["code"] == "output_limit_reached" and error["details"] == {"limit": 3, "existing": 0, "requested": 4}
    edit = {"scenes": [{"id": "s1"}, {"id": "s2"}, {"id": "s3"}]}  # three scenes fit
    assert phase_done(client, f"/api/pipeline/{run_id}/scenes", "put", json=edit).get_json()["status"] == "succeeded"
    run = phase_done(client, "/api/schema/pipeline/storyboard_generation",
                     json={"run_id": run_id, "output_config": "sketch_offline", "lang": "en"}).get_json()
    assert [o["status"] for o in run["outputs"]] == ["succeeded"] * 3, run["outputs"]

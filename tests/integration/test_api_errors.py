"""Bad input gets the one error envelope with the right status and a clear code, never a traceback.

Nothing here waits for the language model: validation fails before a run exists, blocked runs stop
at the term filter, and media come from the offline sketch renderer (no LLM on that path).
"""
from __future__ import annotations

import uuid

import pytest

from devserver.engine.requests import RULES_MAX, TEXT_MAX
from tests.waiting import finished, phase_done

BLOCKED_TEXT = "eine Fahne mit H4kenkr3uz"  # stopped by the §86a term list before any model call
PHASE_BODIES = {
    "execute": {"schema": "dada", "input_text": "a kite", "output_config": "sketch_offline"},
    "stage2": {"schema": "dada", "input_text": "a kite"},
    "optimize": {"run_id": str(uuid.uuid4()), "output_config": "sketch_offline"},
    "generation": {"output_config": "sketch_offline", "prompt": "a kite"},
}
RUN_ROUTES = [
    ("get", "/api/pipeline/{}/status"),
    ("get", "/api/pipeline/{}/events"),
    ("post", "/api/pipeline/{}/cancel"),
    ("get", "/api/pipeline/{}/entities"),
    ("get", "/api/pipeline/{}/entity/interception_final"),
    ("get", "/api/pipeline/{}/journey"),
    ("get", "/api/media/image/{}"),
    ("get", "/api/media/image/{}/0"),
    ("get", "/api/media/info/{}"),
    ("get", "/api/media/run/{}"),
]


def error_of(response, status: int, code: str) -> dict:
    """Assert the response is the envelope with this status and code; return its `error` object."""
    text = response.get_data(as_text=True)
    assert "Traceback" not in text and 'File "' not in text
    assert response.status_code == status, text[:300]
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "details"}, body
    assert body["error"]["code"] == code, body
    assert body["error"]["message"].strip()
    return body["error"]


def problem_fields(error: dict) -> set[str]:
    return {p["field"] for p in error["details"]["problems"]}


def assert_no_run(client, run_id: str) -> None:
    """Assert the server holds no run under `run_id` (the live state is created synchronously on submit)."""
    error_of(client.get(f"/api/pipeline/{run_id}/status"), 404, "run_not_found")


def blocked_run(client, **extra) -> dict:
    r = phase_done(client, "/api/schema/pipeline/execute", json={
        "schema": "dada", "input_text": BLOCKED_TEXT, "output_config": "sketch_offline", "lang": "en", **extra})
    assert r.status_code == 200
    run = r.get_json()
    assert run["status"] == "blocked", run
    return run


def sketch_run(client) -> dict:
    r = client.post("/api/schema/pipeline/generation", json={
        "output_config": "sketch_offline", "prompt": "a red circle next to a blue square", "seed": 7, "lang": "en"})
    run = finished(client, r.get_json()["run_id"])
    assert run["status"] == "succeeded", run
    return run


# -- bodies --------------------------------------------------------------------------------------

@pytest.mark.parametrize("phase", PHASE_BODIES)
@pytest.mark.parametrize("data, content_type", [
    ("{nope", "application/json"),
    ("[1, 2]", "application/json"),
    ("null", "application/json"),
    ('"a kite"', "application/json"),
    ('{"schema": "dada", "input_text": "a kite"}', "text/plain"),
], ids=["malformed", "array", "null", "string", "not-json-content-type"])
def test_a_body_that_is_not_a_json_object_is_invalid_json(client, phase, data, content_type):
    r = client.post(f"/api/schema/pipeline/{phase}", data=data, content_type=content_type)
    error_of(r, 400, "invalid_json")


@pytest.mark.parametrize("phase", PHASE_BODIES)
def test_an_unknown_field_is_named_in_the_problems(client, phase):
    r = client.post(f"/api/schema/pipeline/{phase}", json={**PHASE_BODIES[phase], "colour": "red"})
    assert "colour" in problem_fields(error_of(r, 400, "validation_failed"))


def test_the_safety_check_rejects_an_unknown_field(client):
    r = client.post("/api/safety/check", json={"text": "a kite", "levle": "kids"})
    assert "levle" in problem_fields(error_of(r, 400, "validation_failed"))


def test_every_problem_is_reported_at_once(client):
    r = client.post("/api/schema/pipeline/stage2", json={"schema": "", "input_text": "", "lang": "fr"})
    assert problem_fields(error_of(r, 400, "validation_failed")) >= {"schema", "input_text", "lang"}


@pytest.mark.parametrize("path", ["/api/schema/pipeline/stage2", "/api/safety/check"])
def test_a_body_over_the_size_limit_is_413(app, client, path):
    limit = app.config["MAX_CONTENT_LENGTH"]
    padding = "x" * (limit + 1 - len('{"input_text": ""}'))
    r = client.post(path, data='{"input_text": "' + padding + '"}', content_type="application/json")
    error_of(r, 413, "request_entity_too_large")
    # just under the limit the body is read and judged on its content instead
    r = client.post(path, data='{"input_text": "' + padding[:-2] + '"}', content_type="application/json")
    error_of(r, 400, "validation_failed")


@pytest.mark.parametrize("phase, body, field", [
    ("stage2", {"schema": "dada", "input_text": "x" * (TEXT_MAX + 1)}, "input_text"),
    ("execute", {"schema": "dada", "input_text": "x" * (TEXT_MAX + 1), "output_config": "sketch_offline"},
     "input_text"),
    ("stage2", {"schema": "user_defined", "input_text": "a kite", "context_prompt": "x" * (RULES_MAX + 1)},
     "context_prompt"),
    ("optimize", {"run_id": str(uuid.uuid4()), "output_config": "sketch_offline", "prompt": "x" * (TEXT_MAX + 1)},
     "prompt"),
    ("generation", {"output_config": "sketch_offline", "prompt": "x" * (TEXT_MAX + 1)}, "prompt"),
], ids=["stage2-input", "execute-input", "rules", "optimize-prompt", "generation-prompt"])
def test_a_text_over_its_limit_is_rejected_before_a_run_starts(client, phase, body, field):
    run_id = body.get("run_id") or str(uuid.uuid4())
    r = client.post(f"/api/schema/pipeline/{phase}", json={**body, "run_id": run_id})
    assert field in problem_fields(error_of(r, 400, "validation_failed"))
    assert_no_run(client, run_id)


def test_an_edited_prompt_per_output_over_the_limit_is_rejected(client):
    run_id = str(uuid.uuid4())
    r = client.post("/api/schema/pipeline/generation", json={
        "output_config": "sketch_offline", "prompts": {"sketch_offline": "x" * (TEXT_MAX + 1)}, "run_id": run_id})
    error_of(r, 400, "validation_failed")
    assert_no_run(client, run_id)


def test_a_run_id_in_the_body_must_be_lower_case_uuid(client):
    r = client.post("/api/schema/pipeline/stage2", json={
        "schema": "dada", "input_text": "a kite", "run_id": str(uuid.uuid4()).upper()})
    assert "run_id" in problem_fields(error_of(r, 400, "validation_failed"))


# -- references ----------------------------------------------------------------------------------

@pytest.mark.parametrize("phase", ["stage2", "execute"])
def test_an_unknown_schema_is_404_and_starts_no_run(client, phase):
    run_id = str(uuid.uuid4())
    body = {**PHASE_BODIES[phase], "schema": "no_such_attitude", "run_id": run_id}
    error = error_of(client.post(f"/api/schema/pipeline/{phase}", json=body), 404, "interception_not_found")
    assert error["details"]["id"] == "no_such_attitude"
    assert_no_run(client, run_id)


@pytest.mark.parametrize("phase", ["execute", "optimize", "generation"])
def test_an_unknown_output_config_is_404_and_starts_no_run(client, phase):
    run_id = str(uuid.uuid4())
    body = {**PHASE_BODIES[phase], "output_config": "no_such_model", "run_id": run_id}
    error = error_of(client.post(f"/api/schema/pipeline/{phase}", json=body), 404, "output_not_found")
    assert error["details"]["id"] == "no_such_model"
    assert_no_run(client, run_id)


def test_an_unknown_phase_is_404(client):
    error_of(client.post("/api/schema/pipeline/stage5", json=PHASE_BODIES["stage2"]), 404, "phase_not_found")


def test_an_unknown_config_is_404(client):
    error_of(client.get("/api/configs/no_such_config"), 404, "interception_not_found")


# -- run ids in the path -------------------------------------------------------------------------

@pytest.mark.parametrize("hostile", [
    "a" * 5000,
    "3F2B8C1E-7A4D-4E6B-9C0A-5D1E2F3A4B5C",
    "..",
    "%2e%2e",
    "3f2b8c1e-7a4d-4e6b-9c0a-5d1e2f3a4b5c%0a",
    "3f2b8c1e-7a4d-4e6b-9c0a-5d1e2f3a4b5c.json",
], ids=["5000-chars", "upper-case", "dot-dot", "encoded-dot-dot", "trailing-newline", "suffix"])
def test_a_hostile_run_id_is_400_on_every_run_route(client, hostile):
    for method, route in RUN_ROUTES:
        error = error_of(getattr(client, method)(route.format(hostile)), 400, "invalid_run_id")
        assert len(error["details"]["run_id"]) <= 80  # the hostile value is not echoed in full


@pytest.mark.parametrize("method, route", RUN_ROUTES, ids=[r for _, r in RUN_ROUTES])
def test_an_encoded_slash_in_a_run_id_is_400(client, method, route):
    error_of(getattr(client, method)(route.format("..%2f..%2fetc")), 400, "invalid_run_id")


@pytest.mark.parametrize("method, route", RUN_ROUTES, ids=[r for _, r in RUN_ROUTES])
def test_an_encoded_slash_in_a_run_id_is_refused_in_the_envelope(client, method, route):
    r = getattr(client, method)(route.format("..%2f..%2fetc"))
    assert r.status_code in (400, 404) and r.mimetype == "application/json"
    assert set(r.get_json()) == {"error"}


def test_an_unknown_run_is_404_on_every_run_route(client):
    run_id = str(uuid.uuid4())
    for method, route in RUN_ROUTES:
        error = error_of(getattr(client, method)(route.format(run_id)), 404, "run_not_found")
        assert error["details"]["run_id"] == run_id


# -- media ---------------------------------------------------------------------------------------

def test_an_unknown_media_type_is_404(client):
    run = sketch_run(client)
    error = error_of(client.get(f"/api/media/gif/{run['run_id']}"), 404, "media_type_unknown")
    assert "image" in error["message"]


def test_media_of_another_type_or_index_is_404(client):
    run = sketch_run(client)
    assert client.get(run["outputs"][0]["url"]).status_code == 200
    error_of(client.get(f"/api/media/audio/{run['run_id']}"), 404, "media_not_found")  # no audio output
    error = error_of(client.get(f"/api/media/audio/{run['run_id']}/0"), 404, "media_type_mismatch")
    assert error["details"]["media_type"] == "image"
    error_of(client.get(f"/api/media/image/{run['run_id']}/3"), 404, "media_not_found")


def test_a_blocked_run_has_no_media(client):
    run = blocked_run(client)
    error_of(client.get(f"/api/media/image/{run['run_id']}"), 404, "media_not_found")
    error_of(client.get(f"/api/media/image/{run['run_id']}/0"), 404, "media_not_found")
    assert client.get(f"/api/media/info/{run['run_id']}").get_json()["media"] == []


# -- query and control ---------------------------------------------------------------------------

@pytest.mark.parametrize("wait", ["soon", "", "1s"])
def test_a_wait_that_is_not_a_number_is_400_and_starts_no_run(client, wait):
    run_id = str(uuid.uuid4())
    body = {"schema": "dada", "input_text": BLOCKED_TEXT, "run_id": run_id}
    error_of(client.post(f"/api/schema/pipeline/stage2?wait={wait}", json=body), 400, "invalid_wait")
    assert_no_run(client, run_id)


def test_an_event_id_that_is_not_a_number_is_400(client):
    run = blocked_run(client)
    r = client.get(f"/api/pipeline/{run['run_id']}/events", headers={"Last-Event-ID": "abc"})
    error_of(r, 400, "invalid_event_id")


def test_cancelling_a_finished_run_is_409(client):
    run = blocked_run(client)
    error = error_of(client.post(f"/api/pipeline/{run['run_id']}/cancel"), 409, "run_not_running")
    assert error["details"]["status"] == "blocked"
    assert client.get(f"/api/pipeline/{run['run_id']}/status").get_json()["status"] == "blocked"


def test_a_different_body_under_a_used_run_id_is_409(client):
    run = blocked_run(client, run_id=str(uuid.uuid4()))
    r = client.post("/api/schema/pipeline/execute", json={
        "schema": "dada", "input_text": "a kite", "output_config": "sketch_offline", "run_id": run["run_id"]})
    assert error_of(r, 409, "run_id_conflict")["details"]["run_id"] == run["run_id"]


# -- safety level --------------------------------------------------------------------------------

def test_a_request_cannot_lower_the_servers_safety_level(make_app):
    client = make_app(DEFAULT_SAFETY_LEVEL="youth").test_client()
    run = blocked_run(client, safety_level="adult")
    assert run["safety_level"] == "youth"
    assert client.get(f"/api/pipeline/{run['run_id']}/status").get_json()["safety_level"] == "youth"
    entities = client.get(f"/api/pipeline/{run['run_id']}/entities").get_json()["entities"]
    checks = [e for e in entities if e["item_type"] == "stage1_safety_check"]
    assert checks and all(c["metadata"]["level"] == "youth" for c in checks)
    verdict = client.post("/api/safety/check", json={"text": "a kite", "level": "research"}).get_json()["verdict"]
    assert verdict["level"] == "youth"


def test_a_request_may_make_the_safety_level_stricter(make_app):
    client = make_app(DEFAULT_SAFETY_LEVEL="youth").test_client()
    assert blocked_run(client, safety_level="kids")["safety_level"] == "kids"


def test_an_unknown_safety_level_is_rejected(client):
    r = client.post("/api/schema/pipeline/stage2", json={"schema": "dada", "input_text": "a kite",
                                                         "safety_level": "none"})
    assert "safety_level" in problem_fields(error_of(r, 400, "validation_failed"))


# -- routing -------------------------------------------------------------------------------------

@pytest.mark.parametrize("method", ["get", "post"])
@pytest.mark.parametrize("path", ["/api/does-not-exist", "/api/", "/api/pipeline", "/api/media/image"])
def test_an_unknown_api_path_is_404_in_the_envelope(client, method, path):
    assert "openapi.json" in error_of(getattr(client, method)(path), 404, "not_found")["message"]


def test_the_bare_api_path_is_404_in_the_envelope(client):
    error_of(client.get("/api"), 404, "not_found")


@pytest.mark.parametrize("method, path", [
    ("delete", "/api/health"),
    ("delete", "/api/configs/interception"),
    ("put", "/api/pipeline/3f2b8c1e-7a4d-4e6b-9c0a-5d1e2f3a4b5c/status"),
    ("patch", "/api/schema/pipeline/stage2"),
])
def test_a_wrong_method_is_405_in_the_envelope(client, method, path):
    assert method.upper() in error_of(getattr(client, method)(path), 405, "method_not_allowed")["message"]


@pytest.mark.parametrize("path", ["/api/schema/pipeline/stage2", "/api/safety/check",
                                  "/api/pipeline/3f2b8c1e-7a4d-4e6b-9c0a-5d1e2f3a4b5c/cancel"])
def test_get_on_a_post_only_route_is_405(client, path):
    error_of(client.get(path), 405, "method_not_allowed")


def test_a_405_names_the_allowed_methods(client):
    r = client.delete("/api/health")
    assert r.status_code == 405 and "GET" in r.headers.get("Allow", "")
    r = client.get("/api/safety/check")
    assert r.status_code == 405 and "POST" in r.headers.get("Allow", "")

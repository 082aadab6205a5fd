"""Nothing blocked reaches a student: every route a student can call for a run, walked for a run whose
model texts were blocked (an interception pass, a generated sketch) and whose code model's raw answer
was kept for diagnosis.

"The model" is the Ollama protocol fake, told to write something harmful; the offline sketch is the
image generator. The same walk runs against the live run and, after a restart, against its folder.
"""
from __future__ import annotations

import io
import json
import zipfile
from typing import Any

import pytest

from devserver.app import create_app, shutdown
from tests.fakes.ollama_fake import OllamaFake
from tests.waiting import phase_done

BLOCKED_INTERCEPTION = "A big Hakenkreuz flag over the square"
BLOCKED_SKETCH = ('function setup() { createCanvas(512, 512) }\n'
                  'function draw() { background(255); text("Haken" + "kreuz", 10, 40) }\n')
RAW_ANSWER = "I cannot draw that, but here is a Hakenkreuz described in words."
# Neither the blocked texts nor the matched term nor the teacher's reason may leave on a student route.
FORBIDDEN = ("hakenkreuz", "haken\" + \"kreuz", "matched_terms", "teacher_reason", "term list",
             "I cannot draw that")


def _leaks(body: str) -> list[str]:
    return [word for word in FORBIDDEN if word.lower() in body.lower()]


@pytest.fixture
def exports(tmp_path):
    return tmp_path / "exports"


@pytest.fixture
def settings(exports):
    ollama = OllamaFake(models=("writer:latest",))
    ollama.start()
    roles = {role: "ollama/writer:latest" for role in ("TRANSLATION_MODEL", "STAGE2_INTERCEPTION_MODEL",
                                                       "STAGE2_OPTIMIZATION_MODEL", "CODE_MODEL")}
    yield ollama, {"TESTING": True, "EXPORTS_DIR": exports, "OLLAMA_URL": ollama.url, "MODEL_ROLE_MAP": roles,
                   "RETRY_ATTEMPTS": 1, "DEFAULT_SAFETY_LEVEL": "kids"}
    ollama.stop()


def _make_run(client: Any, ollama: OllamaFake) -> str:
    """A run with a blocked interception, a blocked sketch, a kept raw answer and one real picture."""
    ollama.answer = BLOCKED_INTERCEPTION
    run = phase_done(client, "/api/schema/pipeline/stage2", json={
        "schema": "dada", "input_text": "a flag over the square in the morning", "lang": "en"}).get_json()
    assert run["status"] == "blocked", run
    run_id = run["run_id"]
    ollama.answer = f"```javascript\n{BLOCKED_SKETCH}```"
    gen = phase_done(client, "/api/schema/pipeline/generation", json={
        "run_id": run_id, "output_configs": ["sketch_offline", "p5js_code"],
        "prompts": {"sketch_offline": "a red flag with a sun", "p5js_code": "a red flag with a sun"}}).get_json()
    assert [o["status"] for o in gen["outputs"]] == ["succeeded", "blocked"], gen
    ollama.answer = RAW_ANSWER
    failed = phase_done(client, "/api/schema/pipeline/generation", json={
        "run_id": run_id, "output_configs": ["p5js_code"], "prompt": "a calm lake"}).get_json()
    assert failed["outputs"][-1]["status"] == "failed", failed
    return run_id


def _make_storyboard(client: Any, ollama: OllamaFake) -> str:
    """A storyboard with a scene the brief check blocked, one an edit blocked, a kept raw answer, and pictures."""
    scene = {"description": "a red flag with a sun over the square", "generation_prompt": "a red flag with a sun"}
    ollama.json_answers = ["{\"title\": \"" + RAW_ANSWER,  # malformed first: its raw answer is kept for teachers
                           {"title": "The Flag", "logline": "A flag in the wind over the square.",
                            "scenes": [scene, {**scene, "generation_prompt": BLOCKED_INTERCEPTION}, scene, scene]}]
    run = phase_done(client, "/api/schema/pipeline/storyboard", json={
        "schema": "storyboard_comic", "input_text": "a flag over the square", "lang": "en"}).get_json()
    assert run["status"] == "succeeded" and run["storyboard"]["scenes"][1]["status"] == "blocked", run
    edit = phase_done(client, f"/api/pipeline/{run['run_id']}/scenes", "put", json={"scenes": [
        {"id": "s1"}, {"id": "s2"}, {"id": "s3", "description": BLOCKED_INTERCEPTION}, {"id": "s4"}]}).get_json()
    assert [s["status"] for s in edit["storyboard"]["scenes"]] == ["ready", "blocked", "blocked", "ready"], edit
    rewritten = phase_done(client, f"/api/pipeline/{run['run_id']}/scenes", "put", json={"scenes": [  # s3's original: withheld
        {"id": "s1"}, {"id": "s2"}, {"id": "s3", "description": "a calm lake"}, {"id": "s4"},
        {"description": BLOCKED_INTERCEPTION, "generation_prompt": "a lake"}]}).get_json()
    assert [s["status"] for s in rewritten["storyboard"]["scenes"]] == ["ready", "blocked", "ready", "ready", "blocked"]
    drawn = phase_done(client, "/api/schema/pipeline/storyboard_generation", json={
        "run_id": run["run_id"], "output_config": "sketch_offline"}).get_json()
    assert [o["status"] for o in drawn["outputs"]] == ["succeeded", "blocked", "succeeded", "succeeded",
                                                      "blocked"], drawn
    return run["run_id"]


def _walk(client: Any, run_id: str) -> dict[str, str]:
    """Call every run route a student can call; return each response body by route."""
    bodies: dict[str, str] = {}

    def get(path: str) -> Any:
        response = client.get(path)
        assert response.status_code == 200, (path, response.status_code)
        bodies[path] = response.get_data().decode("utf-8", "replace")
        return response

    base = f"/api/pipeline/{run_id}"
    get(f"{base}/status")
    get(f"{base}/events")
    get(f"{base}/journey")
    get(f"/api/runs/{run_id}")  # the run's own student may read its record: projected too
    entities = get(f"{base}/entities").get_json()["entities"]
    for item_type in sorted({e["item_type"] for e in entities}):
        get(f"{base}/entity/{item_type}")
    media = get(f"/api/media/info/{run_id}").get_json()["media"]
    get(f"/api/media/run/{run_id}")
    for entry in media:
        get(entry["url"])
    if json.loads(bodies[f"{base}/status"]).get("storyboard"):  # the sheet and the ZIP, read as text
        get(f"/api/runs/{run_id}/storyboard.pdf")
        archive = zipfile.ZipFile(io.BytesIO(get(f"/api/runs/{run_id}/storyboard.zip").data))
        for name in archive.namelist():
            if not name.endswith(".png"):
                bodies[f"zip:{name}"] = archive.read(name).decode("latin-1")
    cancel = client.post(f"{base}/cancel")
    bodies[f"{base}/cancel"] = cancel.get_data(as_text=True)
    return bodies


def _assert_nothing_leaks(bodies: dict[str, str]) -> None:
    leaks = {path: found for path, body in bodies.items() if (found := _leaks(body))}
    assert not leaks, f"blocked text, terms or reasons reached a student: {leaks}"


def test_no_student_route_shows_a_blocked_text_its_terms_or_the_teachers_reason(settings):
    ollama, config = settings
    app = create_app(config)
    try:
        client = app.test_client()
        run_id = _make_run(client, ollama)
        bodies = _walk(client, run_id)
        # the walk really covered what was withheld, and the student still sees the run's shape
        entities = json.loads(bodies[f"/api/pipeline/{run_id}/entities"])["entities"]
        withheld = {e["item_type"] for e in entities if e["metadata"].get("withheld")}
        assert {"interception_iteration", "output_code"} <= withheld and withheld & {"pipeline_error", "output_failed"}
        journey = json.loads(bodies[f"/api/pipeline/{run_id}/journey"])
        assert journey["metadata"]["status"] == "failed" and len(journey["events"]) == len(entities)
        assert any(url.startswith("/api/media/image/") for url in bodies)
        _assert_nothing_leaks(bodies)
        # ... while the record keeps everything for teachers and researchers
        full = (app.extensions["devserver.recorder"].runs_dir / run_id / "events.jsonl").read_text(encoding="utf-8")
        assert BLOCKED_INTERCEPTION in full and "matched_terms" in full and "Haken" in full
        assert RAW_ANSWER in full
    finally:
        shutdown(app)

    restarted = create_app(config)  # the run is answered from its folder now
    try:
        _assert_nothing_leaks(_walk(restarted.test_client(), run_id))
    finally:
        shutdown(restarted)


def test_no_student_route_shows_a_blocked_storyboard_scene_or_the_raw_brief(settings):
    ollama, config = settings
    app = create_app(config)
    try:
        run_id = _make_storyboard(app.test_client(), ollama)
        bodies = _walk(app.test_client(), run_id)
        assert f"/api/runs/{run_id}/storyboard.pdf" in bodies and "zip:storyboard.json" in bodies
        _assert_nothing_leaks(bodies)
        full = (app.extensions["devserver.recorder"].runs_dir / run_id / "events.jsonl").read_text(encoding="utf-8")
        assert BLOCKED_INTERCEPTION in full and RAW_ANSWER in full  # kept for teachers
    finally:
        shutdown(app)
    restarted = create_app(config)
    try:
        _assert_nothing_leaks(_walk(restarted.test_client(), run_id))
    finally:
        shutdown(restarted)

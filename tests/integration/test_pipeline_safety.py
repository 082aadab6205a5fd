"""No unchecked or blocked text reaches a generator or a student, across phases and restarts.

The interception model here is the Ollama protocol fake, so a test can make "the model" write
something harmful; the offline sketch is the generator.
"""
from __future__ import annotations

import json
from typing import Iterator

import pytest

from devserver.app import create_app, shutdown
from tests.fakes.ollama_fake import OllamaFake
from tests.waiting import phase_done

HARMFUL_MODEL_TEXT = "A big Hakenkreuz flag over the square"


@pytest.fixture
def ollama() -> Iterator[OllamaFake]:
    with OllamaFake(models=("writer:latest",)) as fake:
        yield fake


@pytest.fixture
def ollama_app(make_app, ollama):
    roles = {"TRANSLATION_MODEL": "ollama/writer:latest", "STAGE2_INTERCEPTION_MODEL": "ollama/writer:latest",
             "STAGE2_OPTIMIZATION_MODEL": "ollama/writer:latest"}
    return make_app(OLLAMA_URL=ollama.url, MODEL_ROLE_MAP=roles, RETRY_ATTEMPTS=1)


def test_a_harmful_model_text_is_recorded_but_never_shown_to_the_student(ollama_app, ollama):
    ollama.answer = HARMFUL_MODEL_TEXT
    client = ollama_app.test_client()
    run = phase_done(client, "/api/schema/pipeline/stage2", json={
        "schema": "dada", "input_text": "a flag over the square", "lang": "en"}).get_json()
    assert run["status"] == "blocked" and run["block"]["checkpoint"] == "interception"
    assert HARMFUL_MODEL_TEXT not in json.dumps(run)  # status: no iteration, no result
    entities = client.get(f"/api/pipeline/{run['run_id']}/entities").get_json()["entities"]
    assert HARMFUL_MODEL_TEXT not in json.dumps(entities)
    withheld = [e for e in entities if e["item_type"] == "interception_iteration"]
    assert withheld and withheld[0]["content"] is None and withheld[0]["metadata"]["withheld"]
    record = (ollama_app.extensions["devserver.recorder"].runs_dir / run["run_id"] / "events.jsonl").read_text()
    assert HARMFUL_MODEL_TEXT in record  # teachers and researchers still see what happened


def test_a_blocked_run_cannot_be_generated_without_a_new_checked_text(client):
    run = phase_done(client, "/api/schema/pipeline/stage2", json={
        "schema": "bauhaus", "input_text": "eine Hakenkreuz Fahne", "lang": "de"}).get_json()
    assert run["status"] == "blocked"
    gen = phase_done(client, "/api/schema/pipeline/generation", json={
        "run_id": run["run_id"], "output_configs": ["sketch_offline"]}).get_json()
    assert gen["status"] == "failed" and gen["error"]["code"] == "nothing_to_generate"
    assert gen["outputs"] == [] and gen["optimizations"] == {}
    # a new text of the student's is checked like any other and may go on
    fixed = phase_done(client, "/api/schema/pipeline/generation", json={
        "run_id": run["run_id"], "output_configs": ["sketch_offline"], "prompt": "a red flag with a sun"}).get_json()
    assert fixed["status"] == "succeeded" and fixed["outputs"][0]["prompt"] == "a red flag with a sun"


def test_an_edited_optimization_input_is_checked(client):
    run_id = phase_done(client, "/api/schema/pipeline/stage2", json={
        "schema": "haiku", "input_text": "a frog in the pond", "lang": "en"}).get_json()["run_id"]
    opt = phase_done(client, "/api/schema/pipeline/optimize", json={
        "run_id": run_id, "output_config": "sketch_offline", "prompt": "a frog with SS runes"}).get_json()
    assert opt["status"] == "blocked" and opt["block"]["checkpoint"] == "user_edit"


def test_a_restored_run_keeps_its_outputs_and_never_gets_a_looser_level(tmp_path):
    exports = tmp_path / "exports"
    adult = create_app({"TESTING": True, "EXPORTS_DIR": exports, "DEFAULT_SAFETY_LEVEL": "adult"})
    first = phase_done(adult.test_client(), "/api/schema/pipeline/generation", json={
        "output_configs": ["sketch_offline"], "prompt": "a lighthouse at night", "seed": 5}).get_json()
    assert first["status"] == "succeeded" and first["safety_level"] == "adult"
    original = adult.test_client().get(first["outputs"][0]["url"]).data
    shutdown(adult)

    kids = create_app({"TESTING": True, "EXPORTS_DIR": exports, "DEFAULT_SAFETY_LEVEL": "kids"})
    try:
        client = kids.test_client()
        again = phase_done(client, "/api/schema/pipeline/generation", json={
            "run_id": first["run_id"], "output_configs": ["sketch_offline"],
            "prompt": "ein blutiges Massaker im Dorf", "safety_level": "research"}).get_json()
        assert again["safety_level"] == "kids"
        assert again["status"] == "blocked"
        assert [o["index"] for o in again["outputs"]] == [0, 1]  # the earlier output is still there
        assert client.get(f"/api/media/image/{first['run_id']}/0").data == original
    finally:
        shutdown(kids)


def test_a_later_phase_can_make_the_level_stricter(client):
    run = phase_done(client, "/api/schema/pipeline/generation", json={
        "output_configs": ["sketch_offline"], "prompt": "a quiet forest"}).get_json()
    assert run["safety_level"] == "youth"
    again = phase_done(client, "/api/schema/pipeline/generation", json={
        "run_id": run["run_id"], "output_configs": ["sketch_offline"], "prompt": "a quiet forest at dusk",
        "safety_level": "kids"}).get_json()
    assert again["safety_level"] == "kids"
    looser = phase_done(client, "/api/schema/pipeline/generation", json={
        "run_id": run["run_id"], "output_configs": ["sketch_offline"], "prompt": "a quiet forest at dawn",
        "safety_level": "adult"}).get_json()
    assert looser["safety_level"] == "kids"

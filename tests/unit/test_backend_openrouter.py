"""The OpenRouter adapter (and the generic OpenAI-compatible one) against a fake OpenRouter."""
from __future__ import annotations

import io
import json
import time
from types import SimpleNamespace

import pytest
from PIL import Image

from config import ROOT, Config
from devserver.backends.base import MediaRequest
from devserver.backends.openai_compat import OpenAICompatBackend
from devserver.backends.openrouter import OpenRouterBackend
from devserver.errors import (BackendBadResponse, BackendError, BackendMisconfigured, BackendRateLimited, BackendTimeout,
                              BackendUnavailable)
from devserver.schemas.models import OutputChunk
from tests.fakes.openrouter_fake import OpenRouterFake
from tests.fakes.server import closed_port_url

TIMEOUT = 0.6
KEY = "sk-or-test-key"
MODEL = "openai/gpt-4o-mini"
USER = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Name a colour."}]


@pytest.fixture
def fake():
    with OpenRouterFake(api_key=KEY) as server:
        yield server


def make(fake_url: str, **overrides) -> OpenRouterBackend:
    settings = {"OPENROUTER_URL": fake_url, "OPENROUTER_API_KEY": KEY, "OPENROUTER_TIMEOUT": TIMEOUT, **overrides}
    return OpenRouterBackend.from_config(Config().with_overrides(settings))


@pytest.fixture
def backend(fake):
    adapter = make(fake.url)
    yield adapter
    adapter.close()


def image_chunk(**changes) -> OutputChunk:
    spec = {"name": "gemini_image", "kind": "output", "backend": "openrouter", "media_type": "image",
            "model": "google/gemini-2.5-flash-image", "estimated_duration_seconds": 12,
            "request_body": {"messages": [{"role": "user", "content": ""}], "image_config": {"aspect_ratio": "1:1"}},
            "input_mappings": {"prompt": {"field": "messages.0.content"}}, **changes}
    return OutputChunk(**spec)


def test_chat_sends_parameters_and_records_usage_cost_and_ids(fake, backend):
    result = backend.chat(USER, MODEL, {"temperature": 0.4, "top_p": 0.8, "seed": 9})
    sent = fake.chat_bodies()[-1]
    assert fake.received("/chat/completions")[-1].headers["authorization"] == f"Bearer {KEY}"
    assert (sent["temperature"], sent["top_p"], sent["seed"]) == (0.4, 0.8, 9)
    assert sent["messages"] == USER
    assert sent["provider"] == {"data_collection": "deny"}
    assert (result.parameters["temperature"], result.parameters["top_p"], result.parameters["seed"]) == (0.4, 0.8, 9)
    assert result.parameters["provider"] == {"data_collection": "deny"}
    assert KEY not in json.dumps(result.record())
    assert result.text == fake.answer and result.finish_reason == "stop"
    assert result.usage["prompt_tokens"] > 0 and result.usage["completion_tokens"] > 0
    assert result.cost == fake.cost
    assert result.ids["generation_id"].startswith("gen-") and result.ids["provider"] == "FakeProvider"
    assert result.model_requested == result.model_used == MODEL


def test_max_tokens_is_sent_and_cuts_the_answer(fake, backend):
    result = backend.chat(USER, MODEL, {"max_tokens": 2})
    assert fake.chat_bodies()[-1]["max_tokens"] == 2
    assert result.finish_reason == "length" and len(result.text.split()) == 2


def test_max_tokens_is_recorded(backend):
    assert backend.chat(USER, MODEL, {"max_tokens": 2}).parameters["max_tokens"] == 2


def test_fallback_models_are_sent_and_the_used_model_is_recorded(fake, backend):
    fake.down_models = {MODEL}
    result = backend.chat(USER, MODEL, {"fallback_models": ["meta-llama/llama-3.1-8b-instruct"]})
    assert fake.chat_bodies()[-1]["models"] == [MODEL, "meta-llama/llama-3.1-8b-instruct"]
    assert result.model_requested == MODEL
    assert result.model_used == "meta-llama/llama-3.1-8b-instruct"


def test_the_configured_data_collection_policy_is_sent(fake):
    backend = make(fake.url, OPENROUTER_DATA_COLLECTION="allow")
    backend.chat(USER, MODEL, {})
    assert fake.chat_bodies()[-1]["provider"] == {"data_collection": "allow"}
    backend.close()


def test_json_schema_is_sent_strict_and_the_answer_parses(fake, backend):
    schema = {"title": "verdict", "type": "object", "properties": {"safe": {"type": "boolean"}}, "required": ["safe"]}
    result = backend.chat(USER, MODEL, {"temperature": 0}, json_schema=schema)
    assert fake.chat_bodies()[-1]["response_format"] == {
        "type": "json_schema", "json_schema": {"name": "verdict", "schema": schema, "strict": True}}
    assert json.loads(result.text) == fake.json_answer


def test_options_the_api_cannot_take_are_recorded_as_ignored(fake, backend):
    result = backend.chat(USER, MODEL, {"keep_alive": "5m", "temperature": 1})
    assert "keep_alive" not in fake.chat_bodies()[-1]
    assert result.parameters["ignored"] == ["keep_alive"]


def test_missing_key_sends_nothing_and_says_what_to_set(fake):
    backend = make(fake.url, OPENROUTER_API_KEY="")
    assert backend.health().state == "not_configured"
    assert "set OPENROUTER_API_KEY in .env" in backend.health().detail
    with pytest.raises(BackendUnavailable, match="set OPENROUTER_API_KEY in .env"):
        backend.chat(USER, MODEL, {})
    with pytest.raises(BackendUnavailable, match="set OPENROUTER_API_KEY in .env"):
        backend.generate(MediaRequest(prompt="a cat", chunk=image_chunk()))
    assert fake.requests == []


def test_health_checks_the_key(backend, fake):
    health = backend.health()
    assert health.state == "ok" and "9.5" in health.detail
    fake.api_key = "another-key"
    assert backend.health().state == "error"


def test_unreachable_server_is_retryable_and_unhealthy():
    backend = make(closed_port_url())
    with pytest.raises(BackendUnavailable) as caught:
        backend.chat(USER, MODEL, {})
    assert caught.value.retryable and backend.health().state == "unreachable"


@pytest.mark.timeout(10)  # a hang must fail fast, not after the global limit
@pytest.mark.parametrize("mode, status, error, code, retryable", [
    ("slow", 0, BackendTimeout, "backend_timeout", True),
    ("http_error", 500, BackendError, "backend_error", True),
    ("http_error", 502, BackendError, "provider_down", True),
    ("http_error", 503, BackendUnavailable, "no_provider", True),
    ("http_error", 401, BackendMisconfigured, "backend_auth", False),  # our key or account: fix the setup
    ("http_error", 402, BackendMisconfigured, "insufficient_credits", False),
    ("http_error", 403, BackendError, "provider_moderation", False),
    ("rate_limited", 0, BackendRateLimited, "backend_rate_limited", True),
    ("error_in_body", 429, BackendRateLimited, "backend_rate_limited", True),
    ("error_in_body", 502, BackendError, "provider_down", True),
    ("error_in_body", 403, BackendError, "provider_moderation", False),
    ("malformed", 0, BackendBadResponse, "malformed_json", True),
    ("cut", 0, BackendBadResponse, "backend_bad_response", True),
])
def test_every_failure_ends_in_a_typed_error_within_the_timeout(fake, backend, mode, status, error, code, retryable):
    fake.mode, fake.error_status = mode, status
    started = time.monotonic()
    with pytest.raises(error) as caught:
        backend.chat(USER, MODEL, {})
    assert time.monotonic() - started < TIMEOUT * 3
    assert type(caught.value) is error
    assert caught.value.code == code and caught.value.retryable is retryable


def test_retry_after_is_honoured(fake, backend):
    fake.mode, fake.retry_after = "rate_limited", "7"
    with pytest.raises(BackendRateLimited) as caught:
        backend.chat(USER, MODEL, {})
    assert caught.value.retry_after == 7


def test_key_problems_name_the_setting(fake, backend):
    fake.mode, fake.error_status = "http_error", 401
    with pytest.raises(BackendUnavailable, match="OPENROUTER_API_KEY"):
        backend.chat(USER, MODEL, {})


def test_moderation_keeps_the_provider_reasons(fake, backend):
    fake.mode, fake.error_status = "error_in_body", 403
    with pytest.raises(BackendError) as caught:
        backend.chat(USER, MODEL, {})
    assert caught.value.details["metadata"]["reasons"] == ["violence"]


def test_unknown_model_is_unavailable_and_named(backend):
    with pytest.raises(BackendUnavailable, match="vendor/no-such-model") as caught:
        backend.chat(USER, "vendor/no-such-model", {})
    assert caught.value.code == "model_missing" and not caught.value.retryable


def test_generate_returns_the_validated_image_and_records_the_request(fake, backend):
    result = backend.generate(MediaRequest(prompt="a purple cat on the moon", chunk=image_chunk(), job_id="run7_0"))
    sent = fake.chat_bodies()[-1]
    assert sent["messages"][0]["content"] == "a purple cat on the moon"
    assert sent["modalities"] == ["image", "text"] and sent["provider"] == {"data_collection": "deny"}
    assert sent["image_config"] == {"aspect_ratio": "1:1"} and sent["model"] == "google/gemini-2.5-flash-image"
    [file] = result.files
    assert file.mime == "image/png" and file.name == "run7_0.png"
    assert Image.open(io.BytesIO(file.data)).size == (8, 8)
    assert result.parameters["messages"][0]["content"] == "a purple cat on the moon"
    assert result.cost == fake.cost and result.ids["generation_id"].startswith("gen-")
    assert result.model_used == "google/gemini-2.5-flash-image"


def test_an_answer_without_an_image_is_a_bad_response(fake, backend):
    fake.mode = "no_image"
    with pytest.raises(BackendBadResponse) as caught:
        backend.generate(MediaRequest(prompt="a cat", chunk=image_chunk()))
    assert caught.value.code == "no_image" and caught.value.details["text"]


def test_an_image_whose_bytes_are_no_picture_is_refused(fake, backend):
    fake.mode = "bad_image"
    with pytest.raises(BackendBadResponse) as caught:
        backend.generate(MediaRequest(prompt="a cat", chunk=image_chunk()))
    assert caught.value.code == "not_media"


def test_openai_compatible_server_without_key_gets_a_plain_request():
    with OpenRouterFake(api_key=None) as local:
        backend = OpenAICompatBackend(local.url, timeout=TIMEOUT)
        result = backend.chat(USER, MODEL, {"temperature": 0.1})
        request = local.received("/chat/completions")[-1]
        assert "authorization" not in request.headers
        assert "provider" not in request.json() and request.json()["temperature"] == 0.1
        assert result.text == local.answer and result.usage["total_tokens"] > 0
        assert backend.health().state == "ok" and backend.has_model(MODEL) is True
        backend.close()


def test_openai_compatible_backend_is_built_from_its_settings(fake):
    settings = SimpleNamespace(OPENAI_COMPAT_URL="", OPENAI_COMPAT_API_KEY="", OPENAI_COMPAT_TIMEOUT=5.0,
                               MEDIA_MAX_BYTES=1000)
    assert OpenAICompatBackend.from_config(settings).health().state == "not_configured"
    with pytest.raises(BackendUnavailable, match="OPENAI_COMPAT_URL"):
        OpenAICompatBackend.from_config(settings).chat(USER, MODEL, {})
    configured = OpenAICompatBackend.from_config(SimpleNamespace(**{**vars(settings), "OPENAI_COMPAT_URL": fake.url,
                                                                   "OPENAI_COMPAT_API_KEY": KEY}))
    assert configured.chat(USER, MODEL, {}).text == fake.answer
    configured.close()


def test_the_shipped_gemini_chunk_produces_an_image(fake, backend):
    shipped = OutputChunk(**json.loads((ROOT / "schemas/chunks/output_image_gemini.json").read_text()))
    result = backend.generate(MediaRequest(prompt="Create an image of a fox", chunk=shipped))
    assert fake.chat_bodies()[-1]["messages"][0]["content"] == "Create an image of a fox"
    assert result.files[0].mime == "image/png"


@pytest.mark.timeout(10)
@pytest.mark.parametrize("mode, status, error, code, retryable", [
    ("refused", 0, BackendUnavailable, "backend_unreachable", True),
    ("slow", 0, BackendTimeout, "backend_timeout", True),
    ("http_error", 500, BackendError, "backend_error", True),
    ("rate_limited", 0, BackendRateLimited, "backend_rate_limited", True),
    ("malformed", 0, BackendBadResponse, "malformed_json", True),
    ("cut", 0, BackendBadResponse, "backend_bad_response", True),
    ("error_in_body", 502, BackendError, "provider_down", True),
    ("unknown_model", 0, BackendMisconfigured, "model_missing", False),
])
def test_an_openai_compatible_server_fails_the_same_typed_ways(mode, status, error, code, retryable):
    with OpenRouterFake(api_key=None) as server:
        server.mode, server.error_status = mode, status
        url = closed_port_url() if mode == "refused" else server.url
        backend = OpenAICompatBackend(url, timeout=TIMEOUT)
        try:
            with pytest.raises(error) as caught:
                backend.chat(USER, "no-such-model" if mode == "unknown_model" else MODEL, {})
        finally:
            backend.close()
    assert caught.value.code == code and caught.value.retryable is retryable

"""The Ollama adapter against a protocol-faithful fake Ollama on a loopback port."""
from __future__ import annotations

import json
import time

import pytest

from config import Config
from devserver.backends.ollama import OllamaBackend
from devserver.errors import BackendBadResponse, BackendError, BackendRateLimited, BackendTimeout, BackendUnavailable
from tests.fakes.ollama_fake import OllamaFake, digest_of
from tests.fakes.server import closed_port_url

TIMEOUT = 0.6
USER = [{"role": "user", "content": "Describe a boat in one sentence."}]


@pytest.fixture
def fake():
    with OllamaFake() as server:
        yield server


@pytest.fixture
def backend(fake):
    adapter = OllamaBackend.from_config(Config().with_overrides({"OLLAMA_URL": fake.url, "OLLAMA_TIMEOUT": TIMEOUT}))
    yield adapter
    adapter.close()


def test_chat_streams_tokens_and_records_what_was_sent(fake, backend):
    pieces: list[str] = []
    result = backend.chat(USER, "llama3.2", {"temperature": 0.2, "seed": 42, "top_p": 0.9, "max_tokens": 200,
                                             "keep_alive": "10m"}, on_token=pieces.append)
    sent = fake.chat_bodies()[-1]
    assert sent["options"] == {"temperature": 0.2, "seed": 42, "top_p": 0.9, "num_predict": 200}
    assert sent["keep_alive"] == "10m" and sent["stream"] is True
    assert result.parameters["options"] == sent["options"] and result.parameters["keep_alive"] == "10m"
    assert len(pieces) > 1 and "".join(pieces) == result.text == fake.answer
    assert result.usage["completion_tokens"] == len(pieces)
    assert result.usage["prompt_tokens"] > 0
    assert result.usage["total_ms"] == 2400  # Ollama's nanoseconds, converted
    assert result.ids["digest"] == digest_of("llama3.2:latest")
    assert result.model_requested == "llama3.2" and result.finish_reason == "stop"


def test_max_tokens_becomes_num_predict_and_cuts_the_answer(fake, backend):
    result = backend.chat(USER, "llama3.2", {"max_tokens": 3})
    assert fake.chat_bodies()[-1]["options"] == {"num_predict": 3}
    assert result.finish_reason == "length" and len(result.text.split()) == 3


def test_json_schema_is_sent_as_format_and_the_answer_parses(fake, backend):
    schema = {"type": "object", "properties": {"safe": {"type": "boolean"}}, "required": ["safe"]}
    result = backend.chat(USER, "gpt-oss:20b", {"temperature": 0}, json_schema=schema)
    assert fake.chat_bodies()[-1]["format"] == schema
    assert result.parameters["format"] == schema
    assert json.loads(result.text) == fake.json_answer


def test_options_ollama_cannot_take_are_recorded_as_ignored(fake, backend):
    result = backend.chat(USER, "llama3.2", {"temperature": 0.5, "fallback_models": ["other"]})
    assert "fallback_models" not in json.dumps(fake.chat_bodies()[-1])
    assert result.parameters["ignored"] == ["fallback_models"]


def test_unload_sends_keep_alive_zero_and_frees_the_model(fake, backend):
    backend.chat(USER, "llama3.2", {})
    assert backend.loaded_models() == ["llama3.2:latest"]
    backend.unload("llama3.2")
    last = fake.chat_bodies()[-1]
    assert last["messages"] == [] and last["keep_alive"] == 0
    assert backend.loaded_models() == []


def test_models_are_listed_with_digests(fake, backend):
    assert backend.list_models() == {name: digest_of(name) for name in ("gpt-oss:20b", "llama3.2:latest")}
    assert backend.has_model("llama3.2") is True
    assert backend.has_model("mistral") is False


def test_health_reports_version_and_models(backend):
    health = backend.health()
    assert health.state == "ok" and health.version == "0.12.6"
    assert "llama3.2:latest" in health.models


def test_not_configured_names_the_setting():
    backend = OllamaBackend.from_config(Config())
    assert backend.health().state == "not_configured" and "OLLAMA_URL" in backend.health().detail
    with pytest.raises(BackendUnavailable, match="OLLAMA_URL"):
        backend.chat(USER, "llama3.2", {})


def test_unreachable_server_is_a_retryable_unavailable_error():
    backend = OllamaBackend(closed_port_url(), timeout=TIMEOUT)
    with pytest.raises(BackendUnavailable) as caught:
        backend.chat(USER, "llama3.2", {})
    assert caught.value.retryable
    assert backend.health().state == "unreachable"
    assert backend.has_model("llama3.2") is None


def test_missing_model_says_how_to_pull_it(backend):
    with pytest.raises(BackendUnavailable, match="ollama pull mistral") as caught:
        backend.chat(USER, "mistral", {})
    assert caught.value.code == "model_missing" and not caught.value.retryable


@pytest.mark.timeout(10)  # a hang must fail fast, not after the global limit
@pytest.mark.parametrize("mode, error, code, retryable", [
    ("slow", BackendTimeout, "backend_timeout", True),
    ("stall", BackendTimeout, "backend_timeout", True),
    ("trickle", BackendTimeout, "backend_timeout", True),
    ("server_error", BackendError, "backend_error", True),
    ("rate_limited", BackendRateLimited, "backend_rate_limited", True),
    ("malformed", BackendBadResponse, "malformed_json", True),
    ("mid_stream_error", BackendBadResponse, "stream_error", True),
    ("truncated", BackendBadResponse, "stream_truncated", True),
    ("missing_model", BackendUnavailable, "model_missing", False),
])
def test_every_failure_ends_in_a_typed_error_within_the_timeout(fake, backend, mode, error, code, retryable):
    fake.mode = mode
    started = time.monotonic()
    with pytest.raises(error) as caught:
        backend.chat(USER, "llama3.2", {})
    assert time.monotonic() - started < TIMEOUT * 3
    assert caught.value.code == code and caught.value.retryable is retryable
    assert caught.value.backend == "ollama"


def test_a_stream_broken_mid_way_delivered_its_first_pieces_first(fake, backend):
    fake.mode = "mid_stream_error"
    pieces: list[str] = []
    with pytest.raises(BackendBadResponse, match="unexpected EOF"):
        backend.chat(USER, "llama3.2", {}, on_token=pieces.append)
    assert pieces == ["A ", "small "]


def test_a_cut_json_answer_is_a_bad_response(fake, backend):
    with pytest.raises(BackendBadResponse) as caught:
        backend.chat(USER, "llama3.2", {"max_tokens": 2}, json_schema={"type": "object"})
    assert caught.value.code == "not_json" and caught.value.details["finish_reason"] == "length"


def test_several_servers_share_the_chats_and_one_that_is_down_is_skipped():
    from devserver.backends.registry import BackendRegistry
    from devserver.backends.router import Router

    with OllamaFake() as first, OllamaFake() as second:
        adapter = OllamaBackend(",".join([closed_port_url(), first.url, second.url]), timeout=TIMEOUT)
        registry = BackendRegistry()
        registry.add(adapter)
        config = Config(TESTING=True).with_overrides({"RETRY_BASE_DELAY": 0.0, "RETRY_ATTEMPTS": 2,
                                                      "MODEL_ROLE_MAP": {"STAGE1_MODEL": "ollama/llama3.2"}})
        router = Router(registry, config)
        try:
            first_result = router.chat("STAGE1_MODEL", USER, {})
            assert [a["error"] for a in first_result.attempts] == ["backend_unreachable", None]  # skipped after one try
            for _ in range(3):
                assert len(router.chat("STAGE1_MODEL", USER, {}).attempts) == 1  # never sent to the dead one again
            assert len(first.chat_bodies()) == len(second.chat_bodies()) == 2  # spread evenly
            assert router.state()["ollama"]["limit"] == 2 * 3
            health = adapter.health().to_dict()
            assert health["state"] == "ok" and "2 of 3" in health["detail"]
            assert [i["state"] for i in health["instances"]] == ["unreachable", "ok", "ok"]
        finally:
            adapter.close()

"""Pictures and log-probabilities through the chat contract: Ollama and OpenRouter against their fakes."""
from __future__ import annotations

import base64
import json

import pytest

from config import Config
from devserver.backends.ollama import OllamaBackend
from devserver.backends.openrouter import OpenRouterBackend
from devserver.backends.registry import BackendRegistry
from devserver.backends.router import Router
from devserver.errors import BackendError
from tests.fakes.ollama_fake import OllamaFake
from tests.fakes.openrouter_fake import OpenRouterFake, tiny_png
from tests.fakes.vision import pixel_digest

SCHEMA = {"type": "object", "properties": {"safe": {"type": "boolean"}, "category": {"type": "string"},
                                           "reason": {"type": "string"}},
          "required": ["safe", "category", "reason"], "additionalProperties": False}
PICTURE = tiny_png(text="a red square")


def look(picture: bytes) -> list[dict]:
    return [{"role": "user", "content": "Check this picture.", "images": [picture]}]


@pytest.fixture
def ollama():
    with OllamaFake(models=("qwen2.5vl:3b", "shieldgemma:2b", "writer:latest")) as fake:
        yield fake


@pytest.fixture
def backend(ollama):
    adapter = OllamaBackend(ollama.url, timeout=5)
    yield adapter
    adapter.close()


def test_ollama_sends_pictures_base64_and_gets_a_verdict(ollama, backend):
    result = backend.chat(look(PICTURE), "qwen2.5vl:3b", {"temperature": 0, "keep_alive": "5m"}, SCHEMA)
    sent = ollama.chat_bodies()[-1]["messages"][0]["images"]
    assert base64.b64decode(sent[0]) == PICTURE
    assert json.loads(result.text)["safe"] is True
    ollama.unsafe_images.add(pixel_digest(PICTURE))
    assert json.loads(backend.chat(look(PICTURE), "qwen2.5vl:3b", {}, SCHEMA).text)["safe"] is False


def test_ollama_refuses_a_picture_it_cannot_decode(backend):
    with pytest.raises(BackendError):
        backend.chat(look(b"not a picture at all"), "qwen2.5vl:3b", {}, SCHEMA)


def test_ollama_returns_logprobs_when_asked(ollama, backend):
    result = backend.chat([{"role": "user", "content": "a cat"}], "shieldgemma:2b",
                          {"logprobs": True, "top_logprobs": 3, "max_tokens": 3})
    assert ollama.chat_bodies()[-1]["top_logprobs"] == 3
    assert result.text == "No" and result.logprobs and result.logprobs[0]["top_logprobs"]
    assert result.parameters["logprobs"] is True
    assert backend.chat([{"role": "user", "content": "a cat"}], "shieldgemma:2b", {}).logprobs is None


def test_openrouter_sends_pictures_as_data_url_parts():
    with OpenRouterFake() as fake:
        backend = OpenRouterBackend(fake.url, fake.api_key, timeout=5)
        try:
            result = backend.chat(look(PICTURE), "openai/gpt-4o-mini", {"temperature": 0}, SCHEMA)
        finally:
            backend.close()
        parts = fake.chat_bodies()[-1]["messages"][0]["content"]
        assert parts[0] == {"type": "text", "text": "Check this picture."}
        assert parts[1]["image_url"]["url"] == "data:image/png;base64," + base64.b64encode(PICTURE).decode()
        assert json.loads(result.text)["safe"] is True


def test_a_picture_never_falls_back_to_a_text_model(ollama):
    config = Config().with_overrides({"LLM_FALLBACKS": ("ollama/writer:latest",), "RETRY_ATTEMPTS": 1})
    registry = BackendRegistry()
    registry.add(OllamaBackend(ollama.url, timeout=5))
    router = Router(registry, config)
    with pytest.raises(BackendError):
        router.chat_model("ollama/llama3.2-vision", look(PICTURE), {}, SCHEMA, fallback=False)
    assert all(b["model"] != "writer:latest" for b in ollama.chat_bodies())
    registry.close()


def test_ollama_complete_sends_a_raw_prompt_past_the_chat_template(ollama, backend):
    result = backend.complete("<start_of_turn>user\nhello<end_of_turn>\n", "writer:latest",
                              {"max_tokens": 5, "keep_alive": "1m", "logprobs": True})
    sent = ollama.generate_bodies()[-1]
    assert sent["raw"] is True and sent["stream"] is False and sent["options"] == {"num_predict": 5}
    assert sent["keep_alive"] == "1m" and result.text == ollama.answer
    assert result.parameters["raw"] is True and result.parameters["keep_alive"] == "1m"
    assert result.usage["total_ms"] == 2400


def test_a_backend_without_raw_prompts_says_so():
    with OpenRouterFake() as fake:
        backend = OpenRouterBackend(fake.url, fake.api_key, timeout=5)
        with pytest.raises(BackendError) as err:
            backend.complete("hello", "openai/gpt-4o-mini", {})
        backend.close()
    assert err.value.code == "raw_prompt_unsupported"


def test_ollama_reports_whether_a_model_can_see(ollama, backend):
    assert "vision" in backend.model_capabilities("qwen2.5vl:3b")
    assert "vision" not in backend.model_capabilities("writer:latest")
    assert backend.model_capabilities("not-pulled") is None  # unknown, asked again next time
    backend.model_capabilities("qwen2.5vl:3b")
    assert len(ollama.received("/api/show")) == 3  # the answer for a known model is cached

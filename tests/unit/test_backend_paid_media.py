"""Paid image generations (OpenRouter, OpenAI Images) through the router: a failed download is retried
on its own and never re-runs the generation; a refusal or an answer without an image is not retried."""
from __future__ import annotations

from typing import Any

import pytest

from config import Config
from devserver.backends.base import MediaRequest, Progress
from devserver.backends.openai_images import OpenAIImagesBackend
from devserver.backends.openrouter import OpenRouterBackend
from devserver.backends.registry import BackendRegistry
from devserver.backends.router import Router
from devserver.errors import BackendBadResponse, BackendError
from devserver.schemas.models import OutputChunk
from tests.fakes.openai_fake import OpenAIFake
from tests.fakes.openrouter_fake import OpenRouterFake

OR_KEY, OPENAI_KEY = "sk-or-test-key", "sk-test-openai"


def routed(backend: Any, **settings: Any) -> Router:
    registry = BackendRegistry()
    registry.add(backend)
    config = Config(TESTING=True).with_overrides({"RETRY_BASE_DELAY": 0.0, "RETRY_ATTEMPTS": 3,
                                                  "COOLDOWN_FAILURES": 1, **settings})
    return Router(registry, config)


def gemini() -> MediaRequest:
    chunk = OutputChunk(name="gemini_image", kind="output", backend="openrouter", media_type="image",
                        model="google/gemini-2.5-flash-image", estimated_duration_seconds=12,
                        request_body={"messages": [{"role": "user", "content": ""}]},
                        input_mappings={"prompt": {"field": "messages.0.content"}})
    return MediaRequest(prompt="a kite over the sea", chunk=chunk, job_id="run1_0")


def gpt_image(body: dict[str, Any] | None = None) -> MediaRequest:
    chunk = OutputChunk(name="openai_image", kind="output", backend="openai_images", media_type="image",
                        model="gpt-image-1", request_body=body or {"quality": "low"},
                        input_mappings={"prompt": {"field": "prompt"}}, estimated_duration_seconds=20)
    return MediaRequest(prompt="a kite over the sea", chunk=chunk, job_id="run2_0")


@pytest.fixture
def openrouter():
    with OpenRouterFake(api_key=OR_KEY) as fake:
        backend = OpenRouterBackend(fake.url, OR_KEY, timeout=5.0)
        yield fake, backend
        backend.close()


@pytest.fixture
def openai():
    with OpenAIFake(api_key=OPENAI_KEY) as fake:
        backend = OpenAIImagesBackend(fake.url, OPENAI_KEY, timeout=5.0)
        yield fake, backend
        backend.close()


def test_a_flaky_image_link_is_downloaded_again_without_a_second_generation(openrouter):
    fake, backend = openrouter
    fake.image_links, fake.file_failures = True, 2  # the CDN answers 503 twice
    seen: list[Progress] = []
    result = routed(backend).generate("openrouter", gemini(), on_progress=seen.append)
    assert result.files[0].mime == "image/png"
    assert len(fake.chat_bodies()) == 1 and len(fake.received("/files/img-1.png")) == 3
    assert [(p.current, p.total, p.message) for p in seen] == [(0, 1, "downloading"), (1, 1, "downloaded")]


def test_a_lost_image_fails_the_output_but_the_paid_generation_runs_once_and_pauses_nothing(openrouter):
    fake, backend = openrouter
    fake.image_links = True
    fake.files_gone = {"img-1.png"}
    router = routed(backend)
    with pytest.raises(BackendError) as caught:
        router.generate("openrouter", gemini())
    assert caught.value.details["generated"] and caught.value.details["generation_id"].startswith("gen-")
    assert "was generated" in caught.value.message and not caught.value.retryable
    assert len(fake.chat_bodies()) == 1 and len(caught.value.details["attempts"]) == 1
    assert not router.in_cooldown("openrouter")  # COOLDOWN_FAILURES=1: a download is no provider failure


def test_an_openai_url_answer_is_fetched_again_on_its_own(openai):
    fake, backend = openai
    fake.file_failures = 1
    seen: list[Progress] = []
    result = routed(backend).generate("openai_images", gpt_image({"response_format": "url"}), on_progress=seen.append)
    assert result.files and len(fake.bodies()) == 1
    assert seen[0].message == "downloading" and (seen[-1].current, seen[-1].total) == (1, 1)


@pytest.mark.parametrize("mode, code", [("empty", "no_image"), ("moderation", "provider_moderation")])
def test_an_answer_without_an_image_or_a_refusal_is_not_asked_again(openai, mode, code):
    fake, backend = openai
    fake.mode = mode
    router = routed(backend)
    with pytest.raises(BackendError) as caught:
        router.generate("openai_images", gpt_image())
    assert caught.value.code == code and len(fake.bodies()) == 1  # one paid request, not three
    assert not router.in_cooldown("openai_images")


def test_a_server_error_before_any_answer_is_still_retried(openai):
    fake, backend = openai
    fake.mode, fake.error_status = "http_error", 500
    with pytest.raises(BackendError):
        routed(backend, COOLDOWN_FAILURES=5).generate("openai_images", gpt_image())
    assert len(fake.bodies()) == 3  # nothing was generated yet: asking again costs nothing twice


def test_broken_bytes_from_a_finished_generation_are_not_generated_again(openrouter):
    fake, backend = openrouter
    fake.mode = "bad_image"
    with pytest.raises(BackendBadResponse) as caught:
        routed(backend).generate("openrouter", gemini())
    assert caught.value.code == "not_media" and len(fake.chat_bodies()) == 1

"""The OpenAI Images adapter against a fake Images API, and the request-body mapping it relies on."""
from __future__ import annotations

import io
import json
import time

import pytest
from PIL import Image

from config import ROOT, Config
from devserver.backends.base import MediaRequest
from devserver.backends.mapping import fill_body, set_path
from devserver.backends.openai_images import OpenAIImagesBackend
from devserver.errors import (BackendBadResponse, BackendError, BackendRateLimited, BackendTimeout, BackendUnavailable,
                              ConfigError)
from devserver.schemas.models import OutputChunk
from tests.fakes.openai_fake import OpenAIFake
from tests.fakes.server import closed_port_url

TIMEOUT = 0.6
KEY = "sk-test-openai"
SIZE_MAPPINGS = {"prompt": {"field": "prompt"}, "width": {"field": "size"}, "height": {"field": "size"}}


@pytest.fixture
def fake():
    with OpenAIFake(api_key=KEY) as server:
        yield server


def make(url: str, key: str = KEY) -> OpenAIImagesBackend:
    settings = {"OPENAI_URL": url, "OPENAI_API_KEY": key, "OPENAI_TIMEOUT": TIMEOUT}
    return OpenAIImagesBackend.from_config(Config().with_overrides(settings))


@pytest.fixture
def backend(fake):
    adapter = make(fake.url)
    yield adapter
    adapter.close()


def chunk(model: str = "gpt-image-1", body: dict | None = None) -> OutputChunk:
    return OutputChunk(name="openai_image", kind="output", backend="openai_images", media_type="image", model=model,
                       request_body={"quality": "low", "n": 1} if body is None else body,
                       input_mappings=SIZE_MAPPINGS, estimated_duration_seconds=20)


def request(**values) -> MediaRequest:
    return MediaRequest(chunk=chunk(), **{"prompt": "a lighthouse in a storm", "width": 96, "height": 64, **values})


def test_generate_sends_the_filled_body_and_returns_the_picture(fake, backend):
    result = backend.generate(request(job_id="run3_1"))
    sent = fake.bodies()[-1]
    assert sent == {"quality": "low", "n": 1, "prompt": "a lighthouse in a storm", "size": "96x64",
                    "model": "gpt-image-1"}
    assert fake.received("/images/generations")[-1].headers["authorization"] == f"Bearer {KEY}"
    [file] = result.files
    assert file.mime == "image/png" and file.name == "run3_1.png"
    assert Image.open(io.BytesIO(file.data)).size == (96, 64)
    assert result.parameters == sent
    assert KEY not in json.dumps(result.record())
    assert result.usage["input_tokens"] == 5 and result.model_used == "gpt-image-1"


def test_without_size_values_the_template_keeps_its_own(fake, backend):
    body = {"size": "32x32"}
    backend.generate(MediaRequest(prompt="a fox", chunk=chunk(body=body)))
    assert fake.bodies()[-1]["size"] == "32x32"


def test_url_answers_are_downloaded_without_our_key(fake, backend):
    result = backend.generate(MediaRequest(prompt="a fox", width=40, height=20,
                                           chunk=chunk("dall-e-3", {"response_format": "url"})))
    assert Image.open(io.BytesIO(result.files[0].data)).size == (40, 20)
    assert "authorization" not in fake.received("/files/img-1.png")[-1].headers
    assert result.ids["revised_prompt"].endswith("a fox")


def test_missing_key_sends_nothing_and_names_the_setting(fake):
    backend = make(fake.url, key="")
    assert backend.health().state == "not_configured" and "OPENAI_API_KEY" in backend.health().detail
    with pytest.raises(BackendUnavailable, match="set OPENAI_API_KEY in .env"):
        backend.generate(request())
    assert fake.requests == []


def test_health_lists_the_models(backend):
    health = backend.health()
    assert health.state == "ok" and "gpt-image-1" in health.models


def test_a_rejected_key_names_the_setting(fake):
    backend = make(fake.url, key="sk-wrong")
    with pytest.raises(BackendUnavailable, match="OPENAI_API_KEY") as caught:
        backend.generate(request())
    assert not caught.value.retryable
    assert backend.health().state == "error"


def test_unreachable_server_is_retryable():
    backend = make(closed_port_url())
    with pytest.raises(BackendUnavailable) as caught:
        backend.generate(request())
    assert caught.value.retryable and backend.health().state == "unreachable"


@pytest.mark.timeout(10)  # a hang must fail fast, not after the global limit
@pytest.mark.parametrize("mode, status, error, code, retryable", [
    ("slow", 0, BackendTimeout, "backend_timeout", True),
    ("http_error", 500, BackendError, "backend_error", True),
    ("http_error", 503, BackendUnavailable, "no_provider", True),
    ("rate_limited", 0, BackendRateLimited, "backend_rate_limited", True),
    ("moderation", 0, BackendError, "provider_moderation", False),
    ("malformed", 0, BackendBadResponse, "malformed_json", True),
    ("empty", 0, BackendBadResponse, "no_image", False),  # asking again would pay again
    ("not_image", 0, BackendBadResponse, "not_media", False),
])
def test_every_failure_ends_in_a_typed_error_within_the_timeout(fake, backend, mode, status, error, code, retryable):
    fake.mode, fake.error_status = mode, status
    started = time.monotonic()
    with pytest.raises(error) as caught:
        backend.generate(request())
    assert time.monotonic() - started < TIMEOUT * 3
    assert type(caught.value) is error
    assert caught.value.code == code and caught.value.retryable is retryable


def test_rate_limit_carries_retry_after(fake, backend):
    fake.mode, fake.retry_after = "rate_limited", "11"
    with pytest.raises(BackendRateLimited) as caught:
        backend.generate(request())
    assert caught.value.retry_after == 11


def test_set_path_writes_into_nested_dicts_and_lists():
    body = {"messages": [{"role": "user", "content": ""}]}
    set_path(body, "messages.0.content", "hello")
    set_path(body, "image_config.aspect_ratio", "16:9")
    assert body == {"messages": [{"role": "user", "content": "hello"}], "image_config": {"aspect_ratio": "16:9"}}


@pytest.mark.parametrize("path", ["messages.3.content", "messages.x", "", "a..b", "messages.0.content.deeper"])
def test_set_path_refuses_paths_that_do_not_fit_the_template(path):
    with pytest.raises(ConfigError):
        set_path({"messages": [{"role": "user", "content": ""}]}, path, "v")


def test_fill_body_leaves_the_template_untouched_and_skips_unset_values():
    template = {"prompt": "", "options": {"seed": 1}}
    mappings = {"prompt": {"field": "prompt"}, "seed": {"field": "options.seed"}, "steps": {"field": "steps"}}
    body = fill_body(template, mappings, {"prompt": "a cat", "seed": 5})
    assert body == {"prompt": "a cat", "options": {"seed": 5}}
    assert template == {"prompt": "", "options": {"seed": 1}}


def test_fill_body_refuses_two_values_for_one_field():
    with pytest.raises(ConfigError, match="negative_prompt, prompt"):
        fill_body({}, {"prompt": {"field": "p"}, "negative_prompt": {"field": "p"}},
                  {"prompt": "a", "negative_prompt": "b"})


def test_the_shipped_gpt_image_chunk_produces_an_image(fake, backend):
    shipped = OutputChunk(**json.loads((ROOT / "schemas/chunks/output_image_gpt_image_1.json").read_text()))
    result = backend.generate(MediaRequest(prompt="a fox in the snow", chunk=shipped))
    assert fake.bodies()[-1]["prompt"] == "a fox in the snow"
    assert Image.open(io.BytesIO(result.files[0].data)).size == (1024, 1024)

"""The image check after generation: the offline sketch makes a picture, a fake vision model judges it.

The vision model is the Ollama (or OpenRouter) protocol fake; it recognises a picture as unsafe by
its pixels (`unsafe_images`), so a test first makes a picture, registers it, and makes it again.
"""
from __future__ import annotations

import json
from typing import Iterator

import pytest

from devserver.errors import ConfigError
from tests.fakes.ollama_fake import OllamaFake
from tests.fakes.openrouter_fake import OpenRouterFake
from tests.fakes.vision import pixel_digest
from tests.waiting import phase_done

VISION = "llama3.2-vision:latest"
PROMPT = {"output_configs": ["sketch_offline"], "prompt": "a quiet forest with a small hut", "seed": 7}


@pytest.fixture
def ollama() -> Iterator[OllamaFake]:
    with OllamaFake(models=(VISION,)) as fake:
        yield fake


def checked_app(make_app, ollama: OllamaFake, level: str = "kids"):
    return make_app(OLLAMA_URL=ollama.url, IMAGE_CHECK_MODEL=f"ollama/{VISION}", DEFAULT_SAFETY_LEVEL=level,
                    RETRY_ATTEMPTS=1)


def generate(client) -> dict:
    run = phase_done(client, "/api/schema/pipeline/generation", json=PROMPT).get_json()
    assert run["status"] in ("succeeded", "blocked"), run
    return run


def mark_unsafe(client, fake) -> None:
    """Make the picture once and tell the fake vision model that this picture is harmful."""
    first = generate(client)
    assert first["status"] == "succeeded"
    fake.unsafe_images.add(pixel_digest(client.get(first["outputs"][0]["url"]).data))


def test_a_safe_picture_is_checked_and_shown_to_kids(make_app, ollama):
    client = checked_app(make_app, ollama).test_client()
    run = generate(client)
    out = run["outputs"][0]
    assert run["status"] == "succeeded" and out["status"] == "succeeded"
    assert client.get(out["url"]).status_code == 200
    sent = ollama.chat_bodies()[-1]
    assert sent["model"] == VISION and sent["format"]["required"] == ["safe", "category", "reason"]
    assert sent["keep_alive"] == "10m" and sent["options"]["temperature"] == 0
    assert len(sent["messages"][-1]["images"]) == 1 and PROMPT["prompt"] not in json.dumps(sent["messages"])
    check = [e for e in client.application.extensions["devserver.recorder"].events(run["run_id"])
             if e["item_type"] == "stage4_safety_check"]  # the full record, as staff read it
    assert check and check[0]["stage"] == "stage4" and check[0]["metadata"]["decision"] == "allow"
    assert check[0]["metadata"]["calls"][0]["model_requested"] == VISION
    sent_picture = check[0]["metadata"]["calls"][0]["chat_request"]["messages"][-1]["images"][0]
    assert set(sent_picture) == {"sha256", "bytes"}  # the record names the picture sent, it does not copy it
    assert f"ollama/{VISION}" in client.get(f"/api/pipeline/{run['run_id']}/status").get_json()["models"]


def test_an_unsafe_picture_is_withheld_from_kids_everywhere(make_app, ollama):
    app = checked_app(make_app, ollama)
    client = app.test_client()
    mark_unsafe(client, ollama)
    run = generate(client)
    run_id, out = run["run_id"], run["outputs"][0]
    assert run["status"] == "blocked" and out["status"] == "blocked"
    assert out["url"] is None and out["file"] is None
    assert out["block"]["checkpoint"] == "image" and out["block"]["message"]["en"]["title"]
    assert run["block"]["message"]["de"]["title"]
    assert client.get(f"/api/media/image/{run_id}/0").status_code == 404
    assert client.get(f"/api/media/image/{run_id}").status_code == 404
    assert client.get(f"/api/media/info/{run_id}").get_json()["media"] == []
    assert client.get(f"/api/media/run/{run_id}").get_json()["media"] == []
    status = client.get(f"/api/pipeline/{run_id}/status").get_json()
    assert status["outputs"][0]["url"] is None
    entities = client.get(f"/api/pipeline/{run_id}/entities").get_json()["entities"]
    check = next(e for e in entities if e["item_type"] == "stage4_safety_check")
    assert check["metadata"]["decision"] == "block" and check["metadata"]["category"] == "violence_graphic"
    assert "violent scene" not in json.dumps(entities)  # what the picture shows is for teachers only
    stream = client.get(f"/api/pipeline/{run_id}/events").get_data(as_text=True)
    assert "stage4_safety_check" in stream and "violent scene" not in stream
    assert f"/api/media/image/{run_id}" not in stream
    shown = [e for e in entities if e["item_type"] == "output_image"]
    assert shown and all(e["metadata"].get("withheld") for e in shown)
    # the teacher's record keeps the picture that was withheld
    folder = app.extensions["devserver.recorder"].runs_dir / run_id
    assert [p for p in folder.iterdir() if p.suffix == ".png"]
    assert "violent scene" in (folder / "events.jsonl").read_text()


def test_a_picture_that_cannot_be_checked_is_withheld_from_kids(make_app, ollama):
    client = checked_app(make_app, ollama).test_client()
    ollama.mode = "server_error"
    run = generate(client)
    assert run["status"] == "blocked" and run["outputs"][0]["url"] is None
    withheld = checked_app(make_app, ollama).extensions["devserver.safety"].messages.get("image_unchecked", "en")
    assert run["block"]["message"]["en"]["title"] == withheld["title"]
    assert client.get(f"/api/media/image/{run['run_id']}/0").status_code == 404


def test_adults_see_a_flagged_picture_and_the_verdict_is_recorded(make_app, ollama):
    client = checked_app(make_app, ollama, level="adult").test_client()
    mark_unsafe(client, ollama)
    run = generate(client)
    assert run["status"] == "succeeded" and client.get(run["outputs"][0]["url"]).status_code == 200
    check = next(e for e in client.get(f"/api/pipeline/{run['run_id']}/entities").get_json()["entities"]
                 if e["item_type"] == "stage4_safety_check")
    assert check["metadata"]["decision"] == "allow" and check["metadata"]["category"] == "violence_graphic"


def test_without_a_vision_model_nothing_changes_but_health_says_so(make_app, ollama):
    plain = make_app().test_client()
    images = plain.get("/api/health").get_json()["safety"]["images"]
    assert images["checked"] is False and "IMAGE_CHECK_MODEL" in images["note"]
    run = generate(plain)
    assert run["status"] == "succeeded"
    items = plain.get(f"/api/pipeline/{run['run_id']}/entities").get_json()["entities"]
    assert not [e for e in items if e["item_type"] == "stage4_safety_check"]
    checked = checked_app(make_app, ollama).test_client().get("/api/health").get_json()["safety"]["images"]
    assert checked["checked"] is True and checked["model"] == f"ollama/{VISION}"


@pytest.mark.parametrize("model, level", [("openai/gpt-4o-mini", "kids"), ("meta-llama/llama-guard-4-12b", "youth")])
def test_an_openrouter_model_gets_the_picture_as_a_data_url_and_withholds_it(make_app, model, level):
    with OpenRouterFake() as fake:
        app = make_app(OPENROUTER_URL=fake.url, OPENROUTER_API_KEY=fake.api_key, DEFAULT_SAFETY_LEVEL=level,
                       IMAGE_CHECK_MODEL=f"openrouter/{model}", RETRY_ATTEMPTS=1)
        client = app.test_client()
        mark_unsafe(client, fake)
        sent = fake.chat_bodies()[-1]
        parts = sent["messages"][-1]["content"]
        assert [p["type"] for p in parts] == ["text", "image_url"]
        assert parts[1]["image_url"]["url"].startswith("data:image/jpeg;base64,")
        # Llama Guard 4 answers in its own format and gets no JSON schema; `unsafe\nS1` maps to violence
        assert ("response_format" in sent) is (model == "openai/gpt-4o-mini")
        run = generate(client)
        assert run["status"] == "blocked" and run["outputs"][0]["url"] is None
        check = next(e for e in client.get(f"/api/pipeline/{run['run_id']}/entities").get_json()["entities"]
                     if e["item_type"] == "stage4_safety_check")
        assert check["metadata"]["category"] == "violence_graphic"


@pytest.mark.parametrize("model", ["shieldgemma:2b", "llama3.2:latest"])
def test_a_model_that_cannot_see_is_never_sent_the_picture_and_kids_do_not_see_it(make_app, model):
    # ShieldGemma is a text-only guard; Ollama's /api/show reports llama3.2 without `vision`: a blind model
    # would have judged an empty turn "safe"
    with OllamaFake(models=(model,)) as fake:
        client = make_app(OLLAMA_URL=fake.url, IMAGE_CHECK_MODEL=f"ollama/{model}",
                          DEFAULT_SAFETY_LEVEL="kids").test_client()
        run = generate(client)
        assert run["status"] == "blocked" and run["outputs"][0]["block"]["checkpoint"] == "image"
        assert run["outputs"][0]["url"] is None
        assert fake.chat_bodies() == [] and fake.generate_bodies() == []
        assert client.get("/api/health").get_json()["safety"]["images"]["checked"] is (model == "llama3.2:latest")


def test_the_vision_model_is_unloaded_before_a_comfyui_job_when_configured(make_app, ollama):
    from tests.fakes.comfyui_fake import FakeComfyUI

    models = ("sd3.5_large.safetensors", "clip_l.safetensors", "clip_g.safetensors", "t5xxl_fp16.safetensors")
    with FakeComfyUI(models=models, frame_delay=0.01) as comfy:
        client = make_app(COMFYUI_URL=comfy.url, OLLAMA_URL=ollama.url, IMAGE_CHECK_MODEL=f"ollama/{VISION}",
                          OLLAMA_UNLOAD_BEFORE_MEDIA=True, DEFAULT_SAFETY_LEVEL="kids").test_client()
        body = {"output_configs": ["sd35_large"], "prompt": "a quiet harbour", "seed": 1}
        for _ in range(2):
            run = phase_done(client, "/api/schema/pipeline/generation", json=body).get_json()
            assert run["status"] == "succeeded", run  # the fake vision model found the picture harmless
        calls = ["check" if b.get("messages") else "unload" for b in ollama.chat_bodies() if b["model"] == VISION]
        assert calls == ["unload", "check", "unload", "check"]  # freed before each ComfyUI job


def test_a_malformed_image_check_model_stops_the_start_with_a_clear_error(make_app):
    with pytest.raises(ConfigError, match="IMAGE_CHECK_MODEL"):
        make_app(IMAGE_CHECK_MODEL="llama3.2-vision")

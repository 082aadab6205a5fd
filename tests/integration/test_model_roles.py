"""Model roles against a fake Ollama: keep_alive on every call, unloading before ComfyUI covers every role.

The embedded model is real (llama.cpp); it must stay loaded when the Ollama models are unloaded.
"""
from __future__ import annotations

from typing import Iterator

import pytest

from tests.fakes.comfyui_fake import FakeComfyUI
from tests.integration.test_pipeline_live import SD35_MODELS
from tests.fakes.ollama_fake import OllamaFake
from tests.waiting import phase_done



@pytest.fixture
def comfy() -> Iterator[FakeComfyUI]:
    with FakeComfyUI(models=SD35_MODELS, frame_delay=0.02) as fake:
        yield fake


@pytest.fixture
def ollama() -> Iterator[OllamaFake]:
    with OllamaFake(models=("writer:latest", "judge:latest")) as fake:
        fake.json_answer = {"safe": True, "category": "none", "reason": "harmless",
                            "positive_prompt": "a quiet harbour", "negative_prompt": "violence"}
        yield fake


def test_every_ollama_call_names_keep_alive(make_app, ollama):
    roles = {"TRANSLATION_MODEL": "ollama/writer", "STAGE2_INTERCEPTION_MODEL": "ollama/writer",
             "STAGE2_OPTIMIZATION_MODEL": "ollama/writer", "STAGE3_MODEL": "ollama/judge",
             "SAFETY_VERIFY_MODEL": "ollama/judge", "CODE_MODEL": "ollama/writer"}
    app = make_app(OLLAMA_URL=ollama.url, MODEL_ROLE_MAP=roles, OLLAMA_KEEP_ALIVE="7m")
    client = app.test_client()
    run = phase_done(client, "/api/schema/pipeline/execute", json={
        "schema": "bauhaus", "input_text": "Ein Boot auf dem ruhigen Meer", "lang": "de",
        "output_configs": ["sketch_offline"], "safety_level": "kids"}).get_json()
    assert run["status"] == "succeeded", (run["error"], run["block"])
    calls = [b for b in ollama.chat_bodies() if b.get("messages")]
    assert calls, "the run made no Ollama call to check"
    # chunks name their own keep_alive ("10m"); every other call gets OLLAMA_KEEP_ALIVE
    assert all(b.get("keep_alive") in ("10m", "7m") for b in calls), [b.get("keep_alive") for b in calls]
    # a call without a chunk (safety verification, Stage 3, code) through the app's router
    app.extensions["devserver.router"].chat("SAFETY_VERIFY_MODEL", [{"role": "user", "content": "Is this safe?"}],
                                            {"temperature": 0})
    assert ollama.chat_bodies()[-1]["keep_alive"] == "7m"


def test_unloading_before_comfyui_covers_every_ollama_role_and_never_the_embedded_model(make_app, comfy, ollama):
    roles = {"STAGE2_INTERCEPTION_MODEL": "ollama/writer:latest", "STAGE2_OPTIMIZATION_MODEL": "ollama/writer:latest",
             "STAGE3_MODEL": "ollama/judge:latest", "SAFETY_VERIFY_MODEL": "ollama/judge:latest",
             "TRANSLATION_MODEL": "local/smollm2-135m"}
    app = make_app(COMFYUI_URL=comfy.url, OLLAMA_URL=ollama.url, MODEL_ROLE_MAP=roles,
                   OLLAMA_UNLOAD_BEFORE_MEDIA=True, LOCAL_THREADS=1)
    embedded = app.extensions["devserver.backends"].llm("local")
    app.extensions["devserver.router"].chat("TRANSLATION_MODEL", [{"role": "user", "content": "Hi"}],
                                            {"max_tokens": 4})
    assert embedded.loaded
    run = phase_done(app.test_client(), "/api/schema/pipeline/generation", json={
        "output_configs": ["sd35_large"], "prompt": "a quiet harbour", "seed": 1}).get_json()
    assert run["status"] == "succeeded", run
    unloaded = {b["model"] for b in ollama.chat_bodies() if b.get("keep_alive") == 0 and not b.get("messages")}
    assert unloaded == {"writer:latest", "judge:latest"}
    assert embedded.loaded, "the embedded model was unloaded although it takes no GPU memory"
    assert any(r.path == "/prompt" and r.method == "POST" for r in comfy.requests)

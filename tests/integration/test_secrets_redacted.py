"""A provider that echoes our API key in its errors must not put the key on any surface: the
student's output error, /api/health, metadata.json, events.jsonl, /entities, exports, the index or
the log. The key is scrubbed by value (devserver/redaction.py), not by the name of a field."""
from __future__ import annotations

import io
import logging
import zipfile

import pytest

from config import MODEL_ROLES
from tests.fakes.openrouter_fake import OpenRouterFake
from tests.waiting import phase_done

KEY = "sk-or-v1-0123456789abcdef0123456789abcdef"
CHAT = "openrouter/openai/gpt-4o-mini"


@pytest.fixture
def echoing():
    with OpenRouterFake(api_key=KEY) as fake:
        fake.echo_key = True
        fake.json_answer = {"safe": True, "category": "none", "reason": "harmless",
                            "positive_prompt": "a kite over the sea", "negative_prompt": "blurry"}
        yield fake


def test_an_echoed_api_key_reaches_no_surface(make_app, echoing, caplog, login):
    caplog.set_level(logging.DEBUG)
    app = make_app(OPENROUTER_URL=echoing.url, OPENROUTER_API_KEY=KEY, RETRY_BASE_DELAY=0.0,
                   MODEL_ROLE_MAP={role: CHAT for role in MODEL_ROLES}, DEFAULT_SAFETY_LEVEL="adult")
    client = app.test_client()
    echoing.fail_images, echoing.error_status = True, 500  # the image model fails and quotes our header

    response = phase_done(client, "/api/schema/pipeline/generation", json={"output_configs": ["gemini_image"], "prompt": "a kite over the sea", "lang": "en"})
    body = response.get_data(as_text=True)
    assert KEY not in body
    run_id = response.get_json().get("run_id") or response.get_json()["error"]["details"]["run_id"]
    status = client.get(f"/api/pipeline/{run_id}/status").get_json()
    error = status["outputs"][0]["error"]
    assert error and "[redacted]" in error["message"]  # the provider's words, without the key
    assert echoing.received("/chat/completions")[-1].headers["authorization"] == f"Bearer {KEY}"  # it was sent

    echoing.api_key = "another-key"  # now the health probe is refused, and the refusal quotes our header
    research = app.test_client()
    login(research, "researcher")
    surfaces = {
        "status": client.get(f"/api/pipeline/{run_id}/status").get_data(as_text=True),
        "entities": client.get(f"/api/pipeline/{run_id}/entities").get_data(as_text=True),
        "health": client.get("/api/health").get_data(as_text=True),
        **{name: research.get(f"/api/runs/{run_id}{path}").get_data(as_text=True)
           for name, path in (("run", ""), ("json", "/export/json"), ("csv", "/export/csv"))},
    }
    assert "[redacted]" in surfaces["health"] and run_id in surfaces["csv"]
    zipped = research.get(f"/api/runs/{run_id}/export/zip")
    assert zipped.status_code == 200
    archive = zipfile.ZipFile(io.BytesIO(zipped.data))
    surfaces.update({f"zip:{name}": archive.read(name).decode("utf-8", "replace") for name in archive.namelist()})
    folder = app.extensions["devserver.recorder"].runs_dir.parent  # run folders and the index
    surfaces.update({f"file:{p.name}": p.read_bytes().decode("utf-8", "replace")
                     for p in folder.rglob("*") if p.is_file()})
    surfaces["log"] = "\n".join(caplog.text.splitlines())
    leaked = [name for name, text in surfaces.items() if KEY in text]
    assert not leaked, f"the API key leaked into {leaked}"
    assert any("metadata.json" in name for name in surfaces) and any("events.jsonl" in name for name in surfaces)

"""The production front (uvicorn + async gateway): idle event streams and waits hold no thread.

Every test goes through a real uvicorn server on loopback, with the Flask app behind the gateway.
"""
from __future__ import annotations

import asyncio
import uuid

import httpx
import pytest

from tests.fakes.ollama_fake import OllamaFake
from tests.waiting import run_coroutine, until

ROLES = ("STAGE1_MODEL", "TRANSLATION_MODEL", "STAGE2_INTERCEPTION_MODEL", "SAFETY_VERIFY_MODEL")
BODY = {"schema": "dada", "input_text": "ein roter Apfel", "lang": "de"}


@pytest.fixture
def ollama():
    with OllamaFake() as fake:
        yield fake


@pytest.fixture
def app(make_app, ollama):
    return make_app(OLLAMA_URL=ollama.url, MODEL_ROLE_MAP={r: "ollama/llama3.2:latest" for r in ROLES},
                    EVENT_STREAMS_PER_CLIENT=3)


def frames(text: str) -> list[tuple[str, str]]:
    """Return (id, event) of each frame of an SSE body."""
    out = []
    for block in text.split("\n\n"):
        fields = dict(line.split(": ", 1) for line in block.splitlines() if ": " in line and not line.startswith(":"))
        if "event" in fields:
            out.append((fields.get("id", ""), fields["event"]))
    return out


def test_wait_and_events_through_the_gateway_match_the_flask_routes(app, serve_async):
    base = serve_async(app)
    done = httpx.post(f"{base}/api/schema/pipeline/stage2?wait=60", json=BODY, timeout=70)
    assert done.status_code == 200 and done.json()["status"] == "succeeded"
    assert done.headers["x-content-type-options"] == "nosniff"  # Flask's after-request hooks ran
    run_id = done.json()["run_id"]
    streamed = httpx.get(f"{base}/api/pipeline/{run_id}/events", timeout=30)
    assert streamed.headers["content-type"].startswith("text/event-stream")
    direct = app.test_client().get(f"/api/pipeline/{run_id}/events")
    assert frames(streamed.text) == frames(direct.get_data(as_text=True))
    assert frames(streamed.text)[-1][1] == "end"


def test_errors_come_from_flask_unchanged(app, serve_async):
    base = serve_async(app)
    bad = httpx.get(f"{base}/api/pipeline/not-a-run/events")
    assert bad.status_code == 400 and bad.json()["error"]["code"]
    missing = httpx.get(f"{base}/api/pipeline/{uuid.uuid4()}/events")
    assert missing.status_code == 404
    invalid = httpx.post(f"{base}/api/schema/pipeline/stage2?wait=5", json={"schema": "dada"})
    assert invalid.status_code == 400 and invalid.json()["error"]["code"] == "validation_failed"


def test_open_streams_and_waits_leave_the_threads_free(app, ollama, serve_async):
    """Two worker threads, twelve open streams and six waiting POSTs: a light GET still answers."""
    ollama.mode, ollama.delay = "slow", 600.0  # the run stays running: every stream and wait stays open
    app.extensions["devserver.streams"].limit = 50
    base = serve_async(app, threads=2)

    async def scenario() -> tuple[int, list[str]]:
        async with httpx.AsyncClient(base_url=base, timeout=30) as client:
            run_id = (await client.post("/api/schema/pipeline/stage2", json=BODY)).json()["run_id"]
            streams = [client.stream("GET", f"/api/pipeline/{run_id}/events") for _ in range(12)]
            opened = [await s.__aenter__() for s in streams]
            waits = [asyncio.create_task(client.post("/api/schema/pipeline/stage2?wait=600",
                                                     json={**BODY, "input_text": f"Wolke {i}"}))
                     for i in range(6)]
            health = await client.get("/api/health")
            status = (await client.get(f"/api/pipeline/{run_id}/status")).json()["status"]
            for task in waits:
                task.cancel()
            for s in streams:
                await s.__aexit__(None, None, None)
            return health.status_code, [r.headers["content-type"] for r in opened] + [status]

    code, seen = run_coroutine(scenario())
    assert code == 200
    assert all(t.startswith("text/event-stream") for t in seen[:-1]) and seen[-1] == "running"


def test_streams_per_client_are_capped(app, ollama, serve_async):
    ollama.mode, ollama.delay = "slow", 600.0
    base = serve_async(app)
    run_id = httpx.post(f"{base}/api/schema/pipeline/stage2", json=BODY).json()["run_id"]
    with httpx.Client(base_url=base, timeout=30) as client:
        contexts = [client.stream("GET", f"/api/pipeline/{run_id}/events") for _ in range(3)]
        opened = [c.__enter__() for c in contexts]
        assert all(r.status_code == 200 for r in opened)
        refused = client.get(f"/api/pipeline/{run_id}/events")
        assert refused.status_code == 429 and refused.json()["error"]["code"] == "too_many_streams"
        assert int(refused.headers["Retry-After"]) > 0
        contexts[0].__exit__(None, None, None)

        def reopened() -> int:
            with client.stream("GET", f"/api/pipeline/{run_id}/events") as r:
                return r.status_code
        # the closed stream is counted down once the server notices the disconnect
        until(lambda: reopened() == 200, "a closed stream to be released")
        for c in contexts[1:]:
            c.__exit__(None, None, None)

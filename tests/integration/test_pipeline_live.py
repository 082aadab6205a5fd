"""Live behaviour of runs over real HTTP: ComfyUI progress in status and SSE, the right file, cancel, SSE resume.

Generation-only runs (a prompt, no interception) keep these fast; the ComfyUI side is the protocol fake.
"""
from __future__ import annotations

import io
import json
from typing import Any, Iterator

import httpx
import pytest
from PIL import Image

from tests.fakes.comfyui_fake import FakeComfyUI
from tests.waiting import phase_done, until

SD35_MODELS = ("sd3.5_large.safetensors", "clip_l.safetensors", "clip_g.safetensors", "t5xxl_fp16.safetensors")


@pytest.fixture
def comfy() -> Iterator[FakeComfyUI]:
    with FakeComfyUI(models=SD35_MODELS, frame_delay=0.02) as fake:
        yield fake


@pytest.fixture
def live(make_app, serve, comfy) -> tuple[Any, str]:
    app = make_app(COMFYUI_URL=comfy.url)
    return app, serve(app)


def read_sse(response: httpx.Response, until: str = "end", limit: int = 500) -> list[tuple[int | None, str, dict]]:
    """Read SSE messages until an event named `until` (or `limit` messages)."""
    messages: list[tuple[int | None, str, dict]] = []
    event_id, event, data = None, None, None
    for line in response.iter_lines():
        if line.startswith("id: "):
            event_id = int(line[4:])
        elif line.startswith("event: "):
            event = line[7:]
        elif line.startswith("data: "):
            data = json.loads(line[6:])
        elif line == "" and event is not None:
            messages.append((event_id, event, data or {}))
            if event == until or len(messages) >= limit:
                break
            event_id, event, data = None, None, None
    return messages


def start_generation(base: str, prompt: str, output: str = "sd35_large", **extra: Any) -> str:
    r = httpx.post(f"{base}/api/schema/pipeline/generation",
                   json={"output_configs": [output], "prompt": prompt, "lang": "en", **extra}, timeout=60)
    assert r.status_code == 202, r.text
    return r.json()["run_id"]


def wait_status(base: str, run_id: str, predicate) -> dict:
    def reached() -> dict | None:
        status = httpx.get(f"{base}/api/pipeline/{run_id}/status", timeout=30).json()
        return status if predicate(status) else None

    return until(reached, f"run {run_id} to reach a state")


def test_comfyui_progress_reaches_status_and_sse_and_the_file_is_that_prompts(live, comfy):
    app, base = live
    run_id = start_generation(base, "a quiet harbour at dawn, watercolour", seed=7)
    seen_progress = []
    with httpx.stream("GET", f"{base}/api/pipeline/{run_id}/events", timeout=30) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        messages = read_sse(response)
    for _, _, data in messages:
        progress = data.get("status", {}).get("progress")
        if data.get("status", {}).get("stage") == "stage4" and progress:
            seen_progress.append((progress["current"], progress["total"]))
    steps = app.extensions["devserver.catalog"].output("sd35_large").parameters.steps
    assert {total for _, total in seen_progress} == {steps}  # the sampler steps the workflow was sent
    assert (steps, steps) in seen_progress and any(c < steps for c, _ in seen_progress)
    assert [c for c, _ in seen_progress] == sorted(c for c, _ in seen_progress)
    assert messages[-1][1] == "end" and messages[-1][2]["status"]["status"] == "succeeded"
    ids = [i for i, _, _ in messages if i is not None]
    assert ids == sorted(set(ids))

    status = httpx.get(f"{base}/api/pipeline/{run_id}/status").json()
    output = status["outputs"][0]
    image = httpx.get(f"{base}{output['url']}")
    assert image.status_code == 200 and image.headers["content-type"] == "image/png"
    graph = json.loads(Image.open(io.BytesIO(image.content)).text["prompt"])
    texts = [node["inputs"].get("text") for node in graph.values() if node["class_type"] == "CLIPTextEncode"]
    assert "a quiet harbour at dawn, watercolour" in texts
    assert any(node["inputs"].get("seed") == 7 for node in graph.values())
    submitted = [r for r in comfy.requests if r.path == "/prompt" and r.method == "POST"]
    assert submitted[-1].body["prompt_id"] == output_prompt_id(app, run_id)


def output_prompt_id(app, run_id: str) -> str:
    lines = (app.extensions["devserver.recorder"].runs_dir / run_id / "events.jsonl").read_text().splitlines()
    item = [json.loads(line) for line in lines if '"output_image"' in line][0]
    return item["metadata"]["ids"]["prompt_id"]


def test_two_runs_at_once_each_get_their_own_picture(live):
    _, base = live
    prompts = ["a red kite over the dunes", "a green tram in the fog"]
    runs = [start_generation(base, p) for p in prompts]
    for prompt, run_id in zip(prompts, runs):
        status = wait_status(base, run_id, lambda s: s["status"] in ("succeeded", "failed"))
        assert status["status"] == "succeeded", status
        image = httpx.get(f"{base}{status['outputs'][0]['url']}").content
        graph = json.loads(Image.open(io.BytesIO(image)).text["prompt"])
        texts = {n["inputs"].get("text") for n in graph.values() if n["class_type"] == "CLIPTextEncode"}
        assert prompt in texts and not (set(prompts) - {prompt}) & texts


def test_queue_position_is_visible_while_comfyui_is_busy(live, comfy):
    _, base = live
    comfy.hang = True
    first = start_generation(base, "a long job")
    wait_status(base, first, lambda s: s["stage"] == "stage4")
    second = start_generation(base, "a waiting job")
    status = wait_status(base, second, lambda s: s["queue_position"] is not None)
    assert status["queue_position"] >= 1 and status["outputs"][0]["queue_position"] >= 1
    httpx.post(f"{base}/api/pipeline/{first}/cancel")
    httpx.post(f"{base}/api/pipeline/{second}/cancel")
    for run_id in (first, second):
        assert wait_status(base, run_id, lambda s: s["status"] not in ("queued", "running"))["status"] == "cancelled"


def test_cancel_interrupts_the_running_comfyui_job(live, comfy):
    _, base = live
    comfy.hang = True
    run_id = start_generation(base, "a job that never ends")
    wait_status(base, run_id, lambda s: s["stage"] == "stage4" and s["outputs"][0]["status"] == "running")
    until(lambda: any(r.path == "/prompt" and r.method == "POST" for r in comfy.requests), "the job reached ComfyUI")
    r = httpx.post(f"{base}/api/pipeline/{run_id}/cancel")
    assert r.status_code == 200
    status = wait_status(base, run_id, lambda s: s["status"] not in ("queued", "running"))
    assert status["status"] == "cancelled"
    assert any(req.path in ("/interrupt", "/queue") and req.method == "POST" for req in comfy.requests)
    again = httpx.post(f"{base}/api/pipeline/{run_id}/cancel")
    assert again.status_code == 409 and again.json()["error"]["code"] == "run_not_running"


def test_an_output_interrupted_in_comfyui_itself_is_cancelled_not_failed(live, comfy):
    _, base = live
    comfy.hang = True
    run_id = start_generation(base, "a job someone stops in ComfyUI's own window")
    wait_status(base, run_id, lambda s: s["outputs"] and s["outputs"][0]["progress"])  # it runs in ComfyUI
    httpx.post(f"{comfy.url}/interrupt", json={})
    status = wait_status(base, run_id, lambda s: s["status"] not in ("queued", "running"))
    assert status["outputs"][0]["status"] == "cancelled"
    assert status["outputs"][0]["error"]["code"] == "cancelled"


def test_sse_resumes_after_a_disconnect_without_losing_or_repeating_events(live, comfy):
    app, base = live
    comfy.frame_delay = 0.1
    run_id = start_generation(base, "a lantern festival")
    with httpx.stream("GET", f"{base}/api/pipeline/{run_id}/events", timeout=30) as response:
        first = read_sse(response, limit=3)
    last_id = max(i for i, _, _ in first if i is not None)
    with httpx.stream("GET", f"{base}/api/pipeline/{run_id}/events", timeout=30,
                      headers={"Last-Event-ID": str(last_id)}) as response:
        rest = read_sse(response)
    ids = [i for i, _, _ in first + rest if i is not None]
    recorded = [json.loads(line)["sequence"] for line in
                (app.extensions["devserver.recorder"].runs_dir / run_id / "events.jsonl").read_text().splitlines()]
    assert sorted(set(ids)) == recorded and len(ids) == len(set(ids))
    assert rest[-1][1] == "end"


def test_waiting_post_and_sse_agree_for_a_finished_run(live):
    _, base = live
    r = httpx.post(f"{base}/api/schema/pipeline/generation?wait=60",
                   json={"output_configs": ["sketch_offline"], "prompt": "a blue bird", "seed": 3}, timeout=70)
    assert r.status_code == 200 and r.json()["status"] == "succeeded"
    with httpx.stream("GET", f"{base}/api/pipeline/{r.json()['run_id']}/events", timeout=10) as response:
        messages = read_sse(response)
    assert "output_image" in [e for _, e, _ in messages] and messages[-1][1] == "end"


def test_heartbeat_keeps_a_quiet_stream_alive(make_app, serve, comfy):
    app = make_app(COMFYUI_URL=comfy.url)
    app.extensions["devserver.sse_heartbeat"] = 0.2
    base = serve(app)
    comfy.hang = True
    run_id = start_generation(base, "a very slow painting")
    beats = 0
    with httpx.stream("GET", f"{base}/api/pipeline/{run_id}/events", timeout=30) as response:
        for line in response.iter_lines():  # a stream without heartbeats ends in a read timeout
            beats += line.startswith(": heartbeat")
            if beats >= 2:
                break
    assert beats >= 2
    httpx.post(f"{base}/api/pipeline/{run_id}/cancel")
    wait_status(base, run_id, lambda s: s["status"] not in ("queued", "running"))


def test_media_supports_range_requests(live):
    _, base = live
    r = phase_done(httpx.Client(base_url=base), "/api/schema/pipeline/generation",
                   json={"output_configs": ["sketch_offline"], "prompt": "a paper boat", "seed": 9})
    url = f"{base}{r.json()['outputs'][0]['url']}"
    whole = httpx.get(url).content
    part = httpx.get(url, headers={"Range": "bytes=0-99"})
    assert part.status_code == 206 and part.content == whole[:100]
    assert part.headers["content-range"] == f"bytes 0-99/{len(whole)}"


def test_llm_is_unloaded_before_a_comfyui_job_when_configured(make_app, comfy):
    from tests.fakes.ollama_fake import OllamaFake

    with OllamaFake(models=("writer:latest",)) as ollama:
        roles = {"STAGE2_INTERCEPTION_MODEL": "ollama/writer:latest", "STAGE3_MODEL": "ollama/writer:latest"}
        app = make_app(COMFYUI_URL=comfy.url, OLLAMA_URL=ollama.url, MODEL_ROLE_MAP=roles,
                       OLLAMA_UNLOAD_BEFORE_MEDIA=True)
        run = phase_done(app.test_client(), "/api/schema/pipeline/generation", json={
            "output_configs": ["sd35_large"], "prompt": "a quiet harbour", "seed": 1}).get_json()
        assert run["status"] == "succeeded", run
        unloads = [b for b in ollama.chat_bodies() if b.get("keep_alive") == 0 and not b.get("messages")]
        assert unloads and unloads[0]["model"].startswith("writer")
        assert any(r.path == "/prompt" and r.method == "POST" for r in comfy.requests)

"""Outputs that start from the student's picture, through the whole server: a picture from
`POST /api/uploads` goes to the ComfyUI fake with `/upload/image`, into the LoadImage node of the
shipped img2img and image → video workflows, and the results come back as an image and an MP4."""
from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Iterator

import pytest
from PIL import Image

from tests.fakes.comfyui_fake import FakeComfyUI
from tests.fakes.ollama_fake import OllamaFake
from tests.server_process import LLM_ROLES
from tests.waiting import phase_done

ROOT = Path(__file__).resolve().parents[2]
MODELS = ("sd3.5_medium.safetensors", "clip_l.safetensors", "clip_g.safetensors", "t5xxl_fp16.safetensors",
          "ltx-video-2b-v0.9.5.safetensors")


@pytest.fixture
def comfy() -> Iterator[FakeComfyUI]:
    with FakeComfyUI(models=MODELS) as fake:
        yield fake


def upload(client) -> tuple[str, str]:
    picture = io.BytesIO()
    Image.new("RGB", (320, 240), (20, 160, 90)).save(picture, "PNG")
    run_id = str(uuid.uuid4())
    r = client.post("/api/uploads", data={"run_id": run_id, "file": (io.BytesIO(picture.getvalue()), "me.png")},
                    content_type="multipart/form-data")
    assert r.status_code == 201, r.get_json()
    return run_id, r.get_json()["file"]


def generate(client, run_id: str, outputs: list[str], **extra):
    body = {"run_id": run_id, "output_configs": outputs, "prompt": "a green meadow in the wind", "lang": "en",
            **extra}
    return phase_done(client, "/api/schema/pipeline/generation", json=body).get_json()


def test_a_picture_is_repainted_and_animated_from_one_upload(make_app, comfy):
    client = make_app(COMFYUI_URL=comfy.url).test_client()
    run_id, file = upload(client)
    run = generate(client, run_id, ["sd35_img2img", "ltx_image_to_video"], input_image=file, denoise=0.3)
    assert [o["status"] for o in run["outputs"]] == ["succeeded", "succeeded"], run["outputs"]
    sent = [files["image"][1] for _fields, files in (r.body for r in comfy.requests_to("POST", "/upload/image"))]
    assert len(sent) == 2 and sent[0] == sent[1]  # each job uploads to the server that runs it
    with Image.open(io.BytesIO(sent[0])) as picture:  # the cleaned copy of the student's picture
        assert picture.size == (320, 240) and picture.convert("RGB").getpixel((5, 5)) == (20, 160, 90)
    graphs = [r.body["prompt"] for r in comfy.requests_to("POST", "/prompt")]
    repaint = next(g for g in graphs if g["8"]["class_type"] == "KSampler")
    animate = next(g for g in graphs if g["6"]["class_type"] == "LTXVImgToVideo")
    assert repaint["8"]["inputs"]["denoise"] == 0.3
    names = {repaint["5"]["inputs"]["image"], animate["5"]["inputs"]["image"]}  # the LoadImage nodes
    assert len(names) == 2 and all(n.startswith("devserver/devserver_") for n in names)  # one name per job
    image, video = run["outputs"]
    assert image["mime"] == "image/png" and video["mime"] == "video/mp4"
    assert client.get(video["url"]).headers["Content-Type"].startswith("video/mp4")


def test_an_output_that_needs_a_picture_is_refused_up_front_without_one(make_app, comfy):
    client = make_app(COMFYUI_URL=comfy.url).test_client()
    r = client.post("/api/schema/pipeline/generation", json={
        "output_configs": ["ltx_image_to_video", "sketch_offline"], "prompt": "a kite", "lang": "en"})
    error = r.get_json()["error"]
    assert r.status_code == 400 and error["code"] == "image_required", error
    assert error["details"]["outputs"] == ["ltx_image_to_video"] and "ltx_image_to_video" in error["message"]
    assert comfy.requests_to("POST", "/upload/image") == [] and comfy.requests_to("POST", "/prompt") == []


def test_the_outputs_listing_says_which_outputs_take_a_picture_and_a_denoise(make_app, comfy):
    client = make_app(COMFYUI_URL=comfy.url).test_client()
    outputs = {o["id"]: o for o in client.get("/api/configs/outputs?lang=en").get_json()["outputs"]}
    assert (outputs["sd35_img2img"]["takes_image"], outputs["sd35_img2img"]["takes_denoise"]) == (True, True)
    assert (outputs["ltx_image_to_video"]["takes_image"], outputs["ltx_image_to_video"]["takes_denoise"]) == (True, False)
    assert (outputs["sketch_offline"]["takes_image"], outputs["sketch_offline"]["takes_denoise"]) == (False, False)


def reproduce(exports, run_id: str, comfy_url: str) -> list[dict]:
    env = {**os.environ, "EXPORTS_DIR": str(exports), "COMFYUI_URL": comfy_url}
    done = subprocess.run([sys.executable, "-m", "devserver.recorder", "reproduce", run_id, "--json"], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=600)
    assert done.stdout.strip(), done.stderr[-2000:]
    return [s for s in json.loads(done.stdout) if s["kind"] == "media"]


def test_a_repainted_picture_reproduces_from_the_stored_upload(make_app, comfy, tmp_path):
    exports = tmp_path / "exports"
    client = make_app(COMFYUI_URL=comfy.url, EXPORTS_DIR=exports).test_client()
    run_id, file = upload(client)
    run = generate(client, run_id, ["sd35_img2img"], input_image=file, denoise=0.3)
    assert run["outputs"][0]["status"] == "succeeded", run["outputs"]
    steps = reproduce(exports, run_id, comfy.url)
    assert [s["outcome"] for s in steps] == ["identical"], steps
    first, again = [r.body["prompt"] for r in comfy.requests_to("POST", "/prompt")]
    assert again["8"]["inputs"]["denoise"] == 0.3 and again["5"]["inputs"]["image"] != first["5"]["inputs"]["image"]
    sent = [files["image"][1] for _fields, files in (r.body for r in comfy.requests_to("POST", "/upload/image"))]
    assert len(sent) == 2 and sent[0] == sent[1]  # the same picture went up again
    (exports / "pipeline_runs" / run_id / file).write_bytes(b"not the picture any more")
    steps = reproduce(exports, run_id, comfy.url)
    assert [s["outcome"] for s in steps] == ["failed"] and "SHA-256" in steps[0]["detail"], steps


def test_execute_hands_the_picture_to_the_outputs_that_start_from_one(make_app, comfy):
    with OllamaFake(models=("writer:latest",)) as ollama:
        ollama.answer = "A green meadow that sways in the wind."
        app = make_app(COMFYUI_URL=comfy.url, OLLAMA_URL=ollama.url, RETRY_ATTEMPTS=1,
                       MODEL_ROLE_MAP={role: "ollama/writer:latest" for role in LLM_ROLES})
        client = app.test_client()
        run_id, file = upload(client)
        body = {"run_id": run_id, "schema": "dada", "input_text": "a meadow", "lang": "en",
                "output_configs": ["sd35_img2img"]}
        refused = client.post("/api/schema/pipeline/execute", json=body)
        assert refused.status_code == 400 and refused.get_json()["error"]["code"] == "image_required"
        run = phase_done(client, "/api/schema/pipeline/execute", json={**body, "input_image": file,
                                                                        "denoise": 0.4}).get_json()
    assert run["status"] == "succeeded" and run["outputs"][0]["status"] == "succeeded", run
    graph = comfy.requests_to("POST", "/prompt")[0].body["prompt"]
    assert graph["8"]["inputs"]["denoise"] == 0.4 and graph["5"]["inputs"]["image"].startswith("devserver/")
    assert len(comfy.requests_to("POST", "/upload/image")) == 1
    kinds = [e["item_type"] for e in client.get(f"/api/pipeline/{run_id}/entities").get_json()["entities"]]
    assert "image_description" not in kinds  # dada takes no picture: it went to the output only

"""Outputs that start from the student's picture, through the whole server: a picture from
`POST /api/uploads` goes to the ComfyUI fake with `/upload/image`, into the LoadImage node of the
shipped img2img and image → video workflows, and the results come back as an image and an MP4."""
from __future__ import annotations

import io
import uuid
from typing import Iterator

import pytest
from PIL import Image

from tests.fakes.comfyui_fake import FakeComfyUI

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
    return client.post("/api/schema/pipeline/generation?wait=120", json=body).get_json()


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


def test_an_output_that_needs_a_picture_fails_clearly_without_one(make_app, comfy):
    client = make_app(COMFYUI_URL=comfy.url).test_client()
    run = client.post("/api/schema/pipeline/generation?wait=120", json={
        "output_configs": ["ltx_image_to_video", "sketch_offline"], "prompt": "a kite", "lang": "en"}).get_json()
    by_id = {o["output_config"]: o for o in run.get("outputs") or []}
    assert by_id, run
    assert by_id["ltx_image_to_video"]["status"] == "failed"
    assert by_id["ltx_image_to_video"]["error"]["code"] == "input_image_missing"
    assert by_id["sketch_offline"]["status"] == "succeeded"  # the other output still runs
    assert comfy.requests_to("POST", "/upload/image") == [] and comfy.requests_to("POST", "/prompt") == []

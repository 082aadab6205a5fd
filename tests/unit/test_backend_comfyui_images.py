"""Outputs that start from a picture (img2img, image → video) on ComfyUI: the picture is uploaded with
`POST /upload/image`, its name goes into the LoadImage node, the result is downloaded.

The shipped output chunks are tested as they are in `schemas/chunks/`. The model-free tests also run
against a REAL ComfyUI when `COMFYUI_REAL_URL` is set (never in CI; see docs/BACKENDS.md for how to
start one on a CPU): the fake must behave as the real server did.
"""
from __future__ import annotations

import io
import re
import os
from pathlib import Path
from typing import Any, Iterator

import httpx
import pytest
from PIL import Image

from config import Config
from devserver.backends.availability import AvailabilityChecker
from devserver.backends.base import MediaFile
from devserver.backends.comfyui import ComfyUIBackend
from devserver.backends.registry import BackendRegistry
from devserver.backends.router import Router
from devserver.errors import BackendError, BackendMisconfigured
from devserver.schemas.models import OutputChunk
from tests.fakes.comfyui_fake import FakeComfyUI
from tests.fakes.comfyui_graphs import make_backend  # noqa: F401  (fixture)
from tests.fakes.comfyui_graphs import chunk, request, txt2img

pytestmark = pytest.mark.timeout(120)
CHUNKS = Path(__file__).resolve().parents[2] / "schemas" / "chunks"
SD35 = ("sd3.5_medium.safetensors", "clip_l.safetensors", "clip_g.safetensors", "t5xxl_fp16.safetensors")
LTX = ("ltx-video-2b-v0.9.5.safetensors", "t5xxl_fp16.safetensors")
SAVER_INPUTS = {"SaveWEBM": {"codec": "vp9", "fps": 8.0, "crf": 32.0},
                "SaveAnimatedWEBP": {"fps": 8.0, "lossless": False, "quality": 80, "method": "default"}}
# a model-free image → video graph: the picture repeated as 8 frames, made into an H.264 MP4
FRAMES_TO_VIDEO = {
    "1": {"class_type": "LoadImage", "inputs": {"image": "example.png"}},
    "2": {"class_type": "ImageScale", "inputs": {"image": ["1", 0], "upscale_method": "bilinear", "width": 64,
                                                 "height": 64, "crop": "center"}},
    "3": {"class_type": "RepeatImageBatch", "inputs": {"image": ["2", 0], "amount": 8}},
    "4": {"class_type": "CreateVideo", "inputs": {"images": ["3", 0], "fps": 8.0}},
    "5": {"class_type": "SaveVideo", "inputs": {"video": ["4", 0], "filename_prefix": "devserver/frames",
                                                "format": "mp4", "codec": "h264"}},
}


def shipped(name: str) -> OutputChunk:
    return OutputChunk.model_validate_json((CHUNKS / f"{name}.json").read_text())


def picture(width: int = 300, height: int = 200, colour: tuple[int, int, int] = (200, 40, 40)) -> MediaFile:
    out = io.BytesIO()
    Image.new("RGB", (width, height), colour).save(out, format="PNG")
    return MediaFile(out.getvalue(), "image/png", "upload.png")


def submitted_graph(server: FakeComfyUI, index: int = -1) -> dict[str, Any]:
    return server.requests_to("POST", "/prompt")[index].body["prompt"]


def uploads(server: FakeComfyUI) -> list[tuple[dict[str, str], dict[str, tuple[str, bytes]]]]:
    return [r.body for r in server.requests_to("POST", "/upload/image")]


@pytest.fixture(params=["fake", "real"])
def comfyui(request: pytest.FixtureRequest) -> Iterator[str]:
    """The URL of the fake ComfyUI, and of a real one when COMFYUI_REAL_URL is set."""
    if request.param == "real":
        url = os.environ.get("COMFYUI_REAL_URL")
        if not url:
            pytest.skip("set COMFYUI_REAL_URL to a running ComfyUI to compare the fake with it")
        yield url
        return
    with FakeComfyUI() as server:
        yield server.url


def test_img2img_uploads_the_picture_and_puts_its_name_and_the_denoise_into_the_graph(make_backend):
    picked = picture()
    with FakeComfyUI(models=SD35) as server:
        backend = make_backend(server.url)
        result = backend.generate(request(shipped("output_image_sd35_img2img"), prompt="a watercolour fox",
                                          input_image=picked, denoise=0.35, job_id="run-7:1:0"))
        (fields, files), = uploads(server)
        assert fields == {"type": "input", "subfolder": "devserver", "overwrite": "true"}
        assert files["image"][1] == picked.data and files["image"][0].endswith(".png")
        graph = submitted_graph(server)
        assert graph["5"]["inputs"]["image"] == f"devserver/{files['image'][0]}"  # the LoadImage node
        assert graph["8"]["inputs"]["denoise"] == 0.35 and graph["3"]["inputs"]["text"] == "a watercolour fox"
    assert [f.mime for f in result.files] == ["image/png"]
    assert result.parameters["input_image"]["name"] == graph["5"]["inputs"]["image"]
    assert "denoise" not in result.parameters.get("not_sent", [])


def test_image_to_video_uploads_the_first_frame_and_downloads_an_mp4(make_backend):
    picked = picture(768, 512)
    with FakeComfyUI(models=LTX) as server:
        backend = make_backend(server.url)
        result = backend.generate(request(shipped("output_video_ltx_i2v"), prompt="the fox starts to run",
                                          input_image=picked))
        (_fields, files), = uploads(server)
        graph = submitted_graph(server)
        assert graph["5"]["inputs"]["image"] == f"devserver/{files['image'][0]}"
        assert graph["6"]["inputs"]["image"] == ["5", 0]  # the picture is the first frame of the video
        entry = server.history[result.ids["prompt_id"]]["outputs"]["13"]
    assert entry["animated"] == [True] and entry["images"][0]["filename"].endswith(".mp4")  # as SaveVideo reports it
    (video,) = result.files
    assert video.mime == "video/mp4" and video.name.endswith(".mp4")


def test_an_output_that_needs_a_picture_and_gets_none_fails_clearly_before_any_call(make_backend):
    with FakeComfyUI(models=LTX) as server:
        backend = make_backend(server.url)
        with pytest.raises(BackendError) as err:
            backend.generate(request(shipped("output_video_ltx_i2v")))
        assert server.requests == []
    assert err.value.code == "input_image_missing" and err.value.status == 400 and not err.value.retryable
    assert "upload" in err.value.message


def test_a_file_that_is_no_picture_is_refused_before_any_call(make_backend):
    with FakeComfyUI() as server:
        with pytest.raises(BackendError) as err:
            make_backend(server.url).generate(request(shipped("output_image_comfyui_check"),
                                                      input_image=MediaFile(b"%PDF-1.4", "image/png", "x.png")))
        assert server.requests == []
    assert err.value.code == "input_image_invalid"


def test_a_retry_uploads_under_the_same_name_and_overwrites_the_first_copy(make_backend):
    with FakeComfyUI() as server:
        backend = make_backend(server.url)
        config = Config(TESTING=True).with_overrides({"RETRY_BASE_DELAY": 0.01, "RETRY_MAX_DELAY": 0.02})
        registry = BackendRegistry()
        registry.add(backend)
        server.fail_next[("POST", "/prompt")] = [500]  # the first attempt's submit fails: the router retries
        result = Router(registry, config).generate("comfyui", request(shipped("output_image_comfyui_check"),
                                                                      input_image=picture(), job_id="run-9:1:0"))
        names = [files["image"][0] for _fields, files in uploads(server)]
        assert len(names) == 2 and names[0] == names[1]
        assert [key for key in server.files if key[0] == "input"] == [("input", "devserver", names[0])]
        assert submitted_graph(server)["1"]["inputs"]["image"] == f"devserver/{names[0]}"
    assert result.ids["attempt"] == "2" and result.files


def test_a_picture_given_to_an_output_that_takes_none_is_recorded_as_not_sent(make_backend):
    with FakeComfyUI() as server:
        result = make_backend(server.url).generate(request(txt2img(), input_image=picture()))
        assert server.requests_to("POST", "/upload/image") == []
    assert "input_image" in result.parameters["not_sent"]


def test_availability_names_every_missing_model_file_and_node_type():
    with FakeComfyUI(models=("sd15.safetensors",), missing_nodes=("LTXVImgToVideo",)) as server:
        registry = BackendRegistry()
        registry.add(ComfyUIBackend(server.url))
        router = Router(registry, Config(TESTING=True))
        checker = AvailabilityChecker(registry, router, Config(TESTING=True), ttl=0)
        video = checker.check(shipped("output_video_ltx_i2v"))
        img2img = checker.check(shipped("output_image_sd35_img2img"))
        check = checker.check(shipped("output_image_comfyui_check"))
        registry.get("comfyui").close()
    assert not video.available and video.state == "missing_node"
    assert "LTXVImgToVideo" in video.reason["en"] and all(m in video.reason["en"] for m in LTX)
    assert "Bausteine" not in video.reason["de"] and "Modelle" in video.reason["de"]
    assert not img2img.available and img2img.state == "missing_model" and all(m in img2img.reason["de"] for m in SD35)
    assert check.available  # the model-free graph runs on any ComfyUI


def test_checking_every_output_against_a_comfyui_without_models_fetches_object_info_once():
    names = [path.stem for path in sorted(CHUNKS.glob("output_*.json")) if '"comfyui"' in path.read_text()]
    with FakeComfyUI(models=()) as server:
        registry = BackendRegistry()
        registry.add(ComfyUIBackend(server.url))
        checker = AvailabilityChecker(registry, Router(registry, Config(TESTING=True)), Config(TESTING=True), ttl=60)
        states = {name: checker.check(shipped(name)).state for name in names}
        registry.get("comfyui").close()
        fetched = len(server.requests_to("GET", "/object_info"))
    assert len(names) >= 8 and states.pop("output_image_comfyui_check") == "ok"
    assert set(states.values()) == {"missing_model"}
    assert fetched <= 2  # the first fetch and at most one recheck, not one per output (500 KB each)


# ---- the same model-free graphs on the fake and (when COMFYUI_REAL_URL is set) on a real ComfyUI


def test_a_graph_naming_a_picture_that_was_never_uploaded_is_rejected_naming_the_node(comfyui, make_backend):
    fixed = chunk({**FRAMES_TO_VIDEO, "1": {"class_type": "LoadImage", "inputs": {"image": "never-uploaded.png"}}},
                  {"prompt": {"node": "5", "field": "filename_prefix"}}, "5", media_type="video")
    with pytest.raises(BackendMisconfigured) as err:
        make_backend(comfyui).generate(request(fixed))
    problem = err.value.details["node_errors"]["1"]
    assert problem["class_type"] == "LoadImage" and problem["errors"][0]["type"] == "custom_validation_failed"
    assert problem["dependent_outputs"] == ["5"]
    assert "Invalid image file: never-uploaded.png" in err.value.message


def test_the_model_free_check_returns_the_uploaded_picture_scaled(comfyui, make_backend):
    backend = make_backend(comfyui, timeout=120.0, http_timeout=30.0)
    result = backend.generate(request(shipped("output_image_comfyui_check"), input_image=picture(300, 200),
                                      width=256, height=128))
    (image,) = result.files
    with Image.open(io.BytesIO(image.data)) as shown:
        assert image.mime == "image/png" and shown.size == (256, 128)
        assert shown.convert("RGB").getpixel((128, 64)) == (200, 40, 40)  # it is the student's picture
    assert result.parameters["workflow"]["1"]["inputs"]["image"].startswith("devserver/devserver_")


@pytest.mark.parametrize("saver, mime", [("SaveVideo", "video/mp4"), ("SaveWEBM", "video/webm"),
                                         ("SaveAnimatedWEBP", "image/webp")])
def test_model_free_image_to_video_graphs_report_their_file_as_an_animated_image(comfyui, make_backend, saver, mime):
    graph = dict(FRAMES_TO_VIDEO)
    if saver != "SaveVideo":  # these two take the frames themselves
        del graph["4"]
        graph["5"] = {"class_type": saver, "inputs": {"images": ["3", 0], "filename_prefix": "devserver/frames",
                                                      **SAVER_INPUTS[saver]}}
    frames = chunk(graph, {"input_image": {"node": "1", "field": "image"}}, "5", media_type="video")
    backend = make_backend(comfyui, timeout=120.0, http_timeout=30.0)
    result = backend.generate(request(frames, input_image=picture()))
    (video,) = result.files
    assert video.mime == mime
    with httpx.Client(base_url=comfyui, trust_env=False) as http:  # the entry, as the real save nodes write it
        entry = http.get(f"/history/{result.ids['prompt_id']}").json()[result.ids["prompt_id"]]["outputs"]["5"]
    assert entry["animated"] == [True] and entry["images"][0]["type"] == "output"


def test_upload_answers_like_the_real_server(comfyui):
    """Missing file → 400, broken fields → 500 (as the real server does); a taken name gets " (1)" unless
    the bytes are the same or overwrite is set."""
    one, two = picture(colour=(1, 2, 3)).data, picture(colour=(4, 5, 6)).data
    name = f"devserver_fidelity_{os.getpid()}_{id(one)}.png"
    with httpx.Client(base_url=comfyui, trust_env=False, timeout=30) as http:
        def up(data: bytes, **fields: str) -> httpx.Response:
            return http.post("/upload/image", files={"image": (name, data, "image/png")},
                             data={"subfolder": "devserver", **fields})

        assert http.post("/upload/image", data={"type": "input"}).status_code == 400
        assert http.post("/upload/image", files={"image": ("", one, "image/png")}).status_code == 500
        assert http.post("/upload/image", files={"image": (name, one, "image/png")},
                         data={"type": "elsewhere"}).status_code == 500
        assert http.post("/upload/image", files={"image": ("../x.png", one, "image/png")}).status_code == 400
        first = up(one)
        assert first.status_code == 200 and first.json() == {"name": name, "subfolder": "devserver", "type": "input"}
        assert up(one).json()["name"] == name  # the same bytes: a duplicate, not a second file
        assert up(two).json()["name"] == name.replace(".png", " (1).png")
        assert up(two, overwrite="true").json()["name"] == name
        assert http.post("/upload/image", files={"image": ("x.png", one, "image/png")},
                         data={"subfolder": "../.."}).status_code == 400
        view = http.get("/view", params={"filename": name, "subfolder": "devserver", "type": "input"})
        assert view.status_code == 200 and view.content == two


@pytest.mark.parametrize("change, problem", [
    ({"input_mappings": {"width": {"node": "2", "field": "width"}}}, "where the prompt (or the input image) goes"),
    ({"workflow": None, "output_node": None, "backend": "openai_images", "request_body": {"prompt": ""},
      "input_mappings": {"prompt": {"field": "prompt"}, "input_image": {"field": "image"}}},
     "only a ComfyUI workflow can take an image"),
])
def test_a_chunk_must_say_where_its_input_goes_and_only_comfyui_takes_a_picture(change, problem):
    data = {**shipped("output_image_comfyui_check").model_dump(), **change}
    with pytest.raises(ValueError, match=re.escape(problem)):
        OutputChunk.model_validate(data)

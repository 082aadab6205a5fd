"""The ComfyUI backend against the protocol-faithful fake (real HTTP + websocket on 127.0.0.1)."""
from __future__ import annotations

import io
import threading
import time
import uuid
from typing import Any

import httpx
import pytest
from PIL import Image

from config import Config
from devserver.backends.base import CancelToken, MediaResult, Progress
from devserver.backends.comfyui import ComfyUIBackend
from devserver.errors import BackendBadResponse, BackendError, BackendTimeout, BackendUnavailable
from tests.fakes.comfyui_fake import FakeComfyUI
from tests.fakes.comfyui_graphs import fake, make_backend  # noqa: F401  (fixtures)
from tests.fakes.comfyui_graphs import (AUDIO_MAPPINGS, TXT2AUDIO, TXT2IMG, TXT2IMG_MAPPINGS, TXT2MP3, chunk, request,
                                       tiny, tiny_chunk, txt2img)

pytestmark = pytest.mark.timeout(30)


def submitted_graph(fake: FakeComfyUI, prompt_id: str) -> dict[str, Any]:
    return next(r.body["prompt"] for r in fake.requests_to("POST", "/prompt") if r.body.get("prompt_id") == prompt_id)


def test_happy_path_injects_values_reports_steps_and_returns_that_prompts_image(fake, make_backend):
    backend = make_backend(fake.url)
    job_id = str(uuid.uuid4())
    seen: list[Progress] = []
    c = txt2img()
    result = backend.generate(request(c, "a red fox", negative_prompt="blurry", seed=1234, steps=5, job_id=job_id),
                              on_progress=seen.append)
    assert result.ids["prompt_id"] == job_id  # our own id was honoured
    graph = submitted_graph(fake, job_id)
    assert graph["6"]["inputs"]["text"] == "a red fox"
    assert graph["7"]["inputs"]["text"] == "blurry"
    assert graph["3"]["inputs"]["seed"] == 1234 and graph["3"]["inputs"]["steps"] == 5
    assert c.workflow["6"]["inputs"]["text"] == ""  # the chunk's own workflow is untouched
    steps = [(p.current, p.total, p.node) for p in seen if p.message == "steps"]
    assert steps == [(i, 5, "3") for i in range(1, 6)]
    assert not [p for p in seen if p.message == "nodes"]  # a sampler graph shows steps, never node counts
    [file] = result.files
    assert file.mime == "image/png"
    assert [file.data] == fake.output_bytes(job_id, "9")
    # ComfyUI's SaveImage embeds the graph: the picture was made from the student's words.
    assert "a red fox" in Image.open(io.BytesIO(file.data)).text["prompt"]
    assert result.parameters["workflow"] == graph and result.parameters["seed"] == 1234
    assert result.parameters["client_id"] == result.ids["client_id"]
    assert fake.requests_to("GET", "/ws")[0].query["clientId"] == result.ids["client_id"]
    assert result.ids["comfyui_version"] == "0.3.64"
    assert result.record()["files"][0]["bytes"] == len(file.data)


def test_two_concurrent_jobs_each_get_their_own_file(fake, make_backend):
    backend = make_backend(fake.url)
    results: dict[str, MediaResult] = {}

    def run(prompt: str) -> None:
        results[prompt] = backend.generate(request(txt2img(), prompt, seed=7, steps=3))

    threads = [threading.Thread(target=run, args=(p,)) for p in ("a blue whale", "a green frog")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=20)
    assert set(results) == {"a blue whale", "a green frog"}
    for prompt, result in results.items():
        assert [result.files[0].data] == fake.output_bytes(result.ids["prompt_id"], "9")
        assert prompt in Image.open(io.BytesIO(result.files[0].data)).text["prompt"]
    assert results["a blue whale"].files[0].data != results["a green frog"].files[0].data


@pytest.mark.parametrize("c, mime", [
    (tiny_chunk("SaveImage"), "image/png"),
    (tiny_chunk("SaveWEBM"), "video/webm"),  # listed under "images" with "animated"
    (tiny_chunk("VHS_VideoCombine"), "video/mp4"),  # listed under "gifs"
    (chunk(TXT2AUDIO, AUDIO_MAPPINGS, "6", media_type="music"), "audio/wav"),  # under "audio", in a subfolder
    (chunk(TXT2MP3, AUDIO_MAPPINGS, "6", media_type="music"), "audio/mpeg"),
])
def test_outputs_are_found_under_whatever_key_the_save_node_uses(fake, make_backend, c, mime):
    result = make_backend(fake.url).generate(request(c, "feas", duration=4))
    [file] = result.files
    assert file.mime == mime
    assert [file.data] == fake.output_bytes(result.ids["prompt_id"], c.output_node)


@pytest.mark.parametrize("combo_style", ["list", "combo"])
def test_a_missing_model_is_reported_before_anything_is_submitted(make_backend, combo_style):
    with FakeComfyUI(models=("sd15.safetensors",), combo_style=combo_style) as server:
        backend = make_backend(server.url, recheck_seconds=0.0)  # a teacher takes longer than the 2 s default
        with pytest.raises(BackendUnavailable) as err:
            backend.generate(request(txt2img(required=("sdxl_base.safetensors",))))
        assert err.value.code == "comfyui_missing_model" and not err.value.retryable
        assert "sdxl_base.safetensors" in err.value.message
        assert server.requests_to("POST", "/prompt") == []
        assert backend.has_model("sd15.safetensors") is True
        assert backend.has_model("sdxl_base.safetensors") is False
        server.install_models("sdxl_base.safetensors")  # the teacher copies the file; no need to wait
        assert backend.generate(request(txt2img(required=("sdxl_base.safetensors",)), steps=1)).files


def test_a_missing_node_type_is_reported_before_anything_is_submitted(fake, make_backend):
    graph = {**tiny("SaveImage"), "3": {"class_type": "FancyUpscaler", "inputs": {"image": ["1", 0]}}}
    with pytest.raises(BackendUnavailable) as err:
        make_backend(fake.url).generate(request(chunk(graph, {"prompt": {"node": "2", "field": "filename_prefix"}},
                                                      "2")))
    assert err.value.code == "comfyui_missing_node" and "FancyUpscaler" in err.value.message
    assert fake.requests_to("POST", "/prompt") == []


def test_a_workflow_comfyui_rejects_is_a_non_retryable_error_with_node_errors(fake, make_backend):
    bad = {**TXT2IMG, "4": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": "gone.safetensors"}}}
    with pytest.raises(BackendError) as err:
        make_backend(fake.url).generate(request(chunk(bad, TXT2IMG_MAPPINGS, "9")))
    assert err.value.code == "comfyui_invalid_workflow" and not err.value.retryable
    assert err.value.details["node_errors"]["4"]["class_type"] == "CheckpointLoaderSimple"
    assert "gone.safetensors" in err.value.message


@pytest.mark.parametrize("silent_after", [None, 3])  # reported on the socket, or only in /history
def test_an_execution_error_names_the_failing_node(fake, make_backend, silent_after):
    fake.fail_node, fake.ws_silent_after = "3", silent_after
    with pytest.raises(BackendError) as err:
        make_backend(fake.url).generate(request(txt2img(), steps=2))
    assert err.value.code == "comfyui_execution_error"
    assert err.value.details["node_type"] == "KSampler"
    assert "Fake failure" in err.value.details["exception_message"]


def test_connection_refused_is_a_retryable_unavailability(make_backend):
    backend = make_backend(FakeComfyUI.refused_url())
    with pytest.raises(BackendUnavailable) as err:
        backend.generate(request(tiny_chunk()))
    assert err.value.retryable
    assert backend.health().state == "unreachable"
    assert backend.has_model("sd15.safetensors") is None


def test_a_server_error_on_submit_is_retryable(fake, make_backend):
    fake.prompt_status = 500
    with pytest.raises(BackendBadResponse) as err:
        make_backend(fake.url).generate(request(tiny_chunk()))
    assert err.value.retryable and err.value.details["status"] == 500


@pytest.mark.parametrize("mode", ["ws_silent_after", "ws_drop_after"])
def test_a_socket_that_goes_quiet_or_drops_is_covered_by_history(fake, make_backend, mode):
    setattr(fake, mode, 4)  # the socket stops right after the first node started
    started = time.monotonic()
    result = make_backend(fake.url).generate(request(txt2img(), steps=4))
    assert time.monotonic() - started < 5
    assert [result.files[0].data] == fake.output_bytes(result.ids["prompt_id"], "9")
    assert fake.requests_to("GET", f"/history/{result.ids['prompt_id']}")


def test_a_job_that_never_finishes_is_interrupted_at_the_timeout(fake, make_backend):
    fake.hang = True
    backend = make_backend(fake.url, timeout=1.0)
    started = time.monotonic()
    with pytest.raises(BackendTimeout):
        backend.generate(request(tiny_chunk(), job_id="6f1c2d3e-0000-4000-8000-000000000001"))
    assert time.monotonic() - started < 4
    assert [r.body for r in fake.requests_to("POST", "/interrupt")] == [
        {"prompt_id": "6f1c2d3e-0000-4000-8000-000000000001"}]


def test_cancelling_a_running_job_interrupts_it(fake, make_backend):
    fake.hang = True
    cancel = CancelToken()
    job_id = str(uuid.uuid4())

    def on_progress(p: Progress) -> None:
        if p.current == 2:
            cancel.cancel()

    with pytest.raises(BackendError) as err:
        make_backend(fake.url).generate(request(txt2img(), steps=3, job_id=job_id), on_progress, cancel)
    assert err.value.code == "cancelled"
    assert [r.body for r in fake.requests_to("POST", "/interrupt")] == [{"prompt_id": job_id}]


def test_cancelling_a_queued_job_removes_it_without_interrupting_others(fake, make_backend):
    fake.paused = True  # an earlier job holds the GPU
    cancel = CancelToken()
    seen: list[Progress] = []

    def on_progress(p: Progress) -> None:
        seen.append(p)
        cancel.cancel()

    job_id = str(uuid.uuid4())
    with pytest.raises(BackendError) as err:
        make_backend(fake.url).generate(request(tiny_chunk(), job_id=job_id), on_progress, cancel)
    assert err.value.code == "cancelled"
    assert seen[0].queue == 1  # first in line
    assert [r.body for r in fake.requests_to("POST", "/queue")] == [{"delete": [job_id]}]
    assert fake.requests_to("POST", "/interrupt") == []


def test_an_interruption_from_elsewhere_ends_the_job_as_cancelled(fake, make_backend):
    fake.hang = True

    def on_progress(p: Progress) -> None:
        httpx.post(f"{fake.url}/interrupt", json={})  # someone pressed "cancel" in ComfyUI's own UI

    with pytest.raises(BackendError) as err:
        make_backend(fake.url).generate(request(txt2img(), steps=1), on_progress)
    assert err.value.code == "cancelled"


def test_a_job_lost_in_a_restart_is_reported_not_taken_as_done(fake, make_backend):
    fake.paused = True
    with pytest.raises(BackendUnavailable) as err:
        make_backend(fake.url).generate(request(tiny_chunk()), lambda _p: fake.restart())
    assert err.value.code == "comfyui_job_lost" and err.value.retryable


@pytest.mark.parametrize("mode", ["ignore_prompt_id", "reject_prompt_id"])
def test_a_server_that_will_not_use_our_prompt_id_is_followed_by_its_own(fake, make_backend, mode):
    setattr(fake, mode, True)
    job_id = str(uuid.uuid4())
    result = make_backend(fake.url).generate(request(txt2img(), steps=2, job_id=job_id))
    assert result.ids["prompt_id"] != job_id
    assert [result.files[0].data] == fake.output_bytes(result.ids["prompt_id"], "9")


def test_an_output_over_the_size_limit_is_refused(fake, make_backend):
    with pytest.raises(BackendBadResponse) as err:
        make_backend(fake.url, max_bytes=50).generate(request(tiny_chunk()))
    assert err.value.code == "media_too_large"


def test_models_are_freed_after_each_job_when_configured(fake, make_backend):
    make_backend(fake.url, free_after_job=True).generate(request(tiny_chunk()))
    assert [r.body for r in fake.requests_to("POST", "/free")] == [{"unload_models": True, "free_memory": True}]
    make_backend(fake.url).generate(request(tiny_chunk()))
    assert len(fake.requests_to("POST", "/free")) == 1


def test_health_reads_system_stats_and_explains_a_missing_url(fake):
    backend = ComfyUIBackend.from_config(Config(COMFYUI_URL=fake.url, COMFYUI_TIMEOUT=5.0))
    try:
        health = backend.health()
    finally:
        backend.close()
    assert health.state == "ok" and health.version == "0.3.64" and "cpu" in health.detail
    unset = ComfyUIBackend.from_config(Config())
    assert unset.health().state == "not_configured" and "COMFYUI_URL" in unset.health().detail
    with pytest.raises(BackendUnavailable, match="COMFYUI_URL"):
        unset.generate(request(tiny_chunk()))

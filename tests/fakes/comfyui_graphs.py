"""What the ComfyUI backend tests share: the graphs they send to the fake (a text-to-image graph with a
sampler, audio graphs, the model-free graph of the recorded real-server transcript), requests, and
the `fake` / `make_backend` fixtures (import them into a test module to use them)."""
from __future__ import annotations

import uuid
from typing import Any, Callable, Iterator

import pytest

from devserver.backends.base import MediaRequest
from devserver.backends.comfyui import ComfyUIBackend
from devserver.schemas.models import OutputChunk
from tests.fakes.comfyui_fake import FakeComfyUI

# A text-to-image graph: the prompt, negative prompt and seed go into nodes 6, 7 and 3.
TXT2IMG = {
    "4": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": "sd15.safetensors"}},
    "5": {"class_type": "EmptyLatentImage", "inputs": {"width": 64, "height": 64, "batch_size": 1}},
    "6": {"class_type": "CLIPTextEncode", "inputs": {"text": "", "clip": ["4", 1]}},
    "7": {"class_type": "CLIPTextEncode", "inputs": {"text": "", "clip": ["4", 1]}},
    "3": {"class_type": "KSampler", "inputs": {"seed": 0, "steps": 20, "cfg": 7.0, "sampler_name": "euler",
                                               "scheduler": "normal", "denoise": 1.0, "model": ["4", 0],
                                               "positive": ["6", 0], "negative": ["7", 0], "latent_image": ["5", 0]}},
    "8": {"class_type": "VAEDecode", "inputs": {"samples": ["3", 0], "vae": ["4", 2]}},
    "9": {"class_type": "SaveImage", "inputs": {"images": ["8", 0], "filename_prefix": "devserver"}},
}
TXT2IMG_MAPPINGS = {"prompt": {"node": "6", "field": "text"}, "negative_prompt": {"node": "7", "field": "text"},
                    "seed": {"node": "3", "field": "seed"}, "steps": {"node": "3", "field": "steps"},
                    "width": {"node": "5", "field": "width"}, "height": {"node": "5", "field": "height"}}
AUDIO_MAPPINGS = {"prompt": {"node": "2", "field": "text"}, "duration": {"node": "3", "field": "seconds"}}
TXT2AUDIO = {
    "1": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": "sd15.safetensors"}},
    "2": {"class_type": "CLIPTextEncode", "inputs": {"text": "", "clip": ["1", 1]}},
    "3": {"class_type": "EmptyLatentAudio", "inputs": {"seconds": 10.0, "batch_size": 1}},
    "4": {"class_type": "KSampler", "inputs": {"seed": 0, "steps": 3, "cfg": 5.0, "sampler_name": "euler",
                                               "scheduler": "normal", "denoise": 1.0, "model": ["1", 0],
                                               "positive": ["2", 0], "negative": ["2", 0], "latent_image": ["3", 0]}},
    "5": {"class_type": "VAEDecodeAudio", "inputs": {"samples": ["4", 0], "vae": ["1", 2]}},
    "6": {"class_type": "SaveAudio", "inputs": {"audio": ["5", 0], "filename_prefix": "audio/devserver"}},
}
TXT2MP3 = {**TXT2AUDIO, "6": {"class_type": "SaveAudioMP3", "inputs": {"audio": ["5", 0], "quality": "V0",
                                                                       "filename_prefix": "devserver"}}}


SAVER_INPUTS = {"SaveWEBM": {"codec": "vp9", "fps": 24.0, "crf": 32.0}, "VHS_VideoCombine": {"frame_rate": 8.0}}


def tiny(saver: str) -> dict[str, Any]:
    """Return the model-free graph of the recorded transcript (EmptyImage → a save node)."""
    return {"1": {"class_type": "EmptyImage", "inputs": {"width": 32, "height": 32, "batch_size": 1, "color": 0}},
            "2": {"class_type": saver, "inputs": {"images": ["1", 0], "filename_prefix": "feas",
                                                  **SAVER_INPUTS.get(saver, {})}}}


def chunk(workflow: dict[str, Any], mappings: dict[str, Any], output_node: str, media_type: str = "image",
          required: tuple[str, ...] = ()) -> OutputChunk:
    return OutputChunk(name="test_chunk", kind="output", backend="comfyui", media_type=media_type,
                       model="sd15.safetensors", workflow=workflow, input_mappings=mappings, output_node=output_node,
                       estimated_duration_seconds=5, required_models=required)


def txt2img(**kwargs: Any) -> OutputChunk:
    return chunk(TXT2IMG, TXT2IMG_MAPPINGS, "9", **kwargs)


def tiny_chunk(saver: str = "SaveImage") -> OutputChunk:
    # The model-free graph has no text input: the prompt becomes the file name prefix.
    return chunk(tiny(saver), {"prompt": {"node": "2", "field": "filename_prefix"}}, "2")


def request(c: OutputChunk, prompt: str = "a red fox", **kwargs: Any) -> MediaRequest:
    return MediaRequest(prompt=prompt, chunk=c, job_id=kwargs.pop("job_id", str(uuid.uuid4())), **kwargs)


@pytest.fixture
def fake() -> Iterator[FakeComfyUI]:
    """A running fake ComfyUI."""
    with FakeComfyUI() as server:
        yield server


@pytest.fixture
def make_backend() -> Iterator[Callable[..., ComfyUIBackend]]:
    """Build ComfyUI backends with short test timings; closed after the test."""
    made: list[ComfyUIBackend] = []

    def make(url: str, **overrides: Any) -> ComfyUIBackend:
        options = {"timeout": 10.0, "quiet_seconds": 0.3, "poll_seconds": 0.05, "http_timeout": 5.0, **overrides}
        made.append(ComfyUIBackend(url, **options))
        return made[-1]

    yield make
    for backend in made:
        backend.close()

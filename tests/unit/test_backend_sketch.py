"""The offline sketch: deterministic, different for different words, fast, honest about what it is."""
from __future__ import annotations

import io
import time

import pytest
from PIL import Image

from devserver.backends.base import MediaRequest
from devserver.backends.sketch import SketchBackend
from devserver.errors import BackendError


def generate(prompt: str, seed: int = 1, **size):
    return SketchBackend().generate(MediaRequest(prompt=prompt, chunk=None, seed=seed, **size))


def test_same_prompt_and_seed_give_the_same_png():
    first, second = generate("a red fox in the snow"), generate("a red fox in the snow")
    assert first.files[0].data == second.files[0].data
    assert first.files[0].mime == "image/png" and first.files[0].data[:4] == b"\x89PNG"


def test_other_words_or_seed_give_another_picture():
    base = generate("a red fox in the snow").files[0].data
    assert generate("a blue whale in the sea").files[0].data != base
    assert generate("a red fox in the snow", seed=2).files[0].data != base


def test_size_is_honoured_and_rendering_is_fast():
    started = time.perf_counter()
    result = generate("a lighthouse", width=640, height=384)
    assert time.perf_counter() - started < 1.0
    assert Image.open(io.BytesIO(result.files[0].data)).size == (640, 384)
    assert result.parameters == {"prompt": "a lighthouse", "seed": 1, "width": 640, "height": 384}


def test_it_says_what_it_is_and_rejects_absurd_sizes():
    backend = SketchBackend()
    assert backend.display_name == "Offline sketch" and backend.health().state == "ok"
    with pytest.raises(BackendError):
        generate("x", width=100_000, height=10)

"""The image checker with the real router and Ollama adapter against the Ollama protocol fake."""
from __future__ import annotations

import base64
import io

import pytest
from PIL import Image

from config import Config
from devserver.backends.ollama import OllamaBackend
from devserver.backends.registry import BackendRegistry
from devserver.backends.router import Router
from devserver.safety.image_check import ImageChecker
from devserver.safety.policy import load_policy
from tests.fakes.ollama_fake import OllamaFake

VISION = "ollama/qwen2.5vl:3b"


def png(width: int, height: int) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), (20, 120, 200)).save(out, format="PNG")
    return out.getvalue()


@pytest.fixture
def ollama():
    with OllamaFake(models=("qwen2.5vl:3b",)) as fake:
        yield fake


@pytest.fixture
def checker(ollama):
    registry = BackendRegistry()
    registry.add(OllamaBackend(ollama.url, timeout=5))
    router = Router(registry, Config().with_overrides({"RETRY_ATTEMPTS": 1}))
    yield ImageChecker(load_policy(), router.chat_model, VISION, max_side=256, keep_alive="5m")
    registry.close()


def test_a_large_picture_is_scaled_down_before_the_check(checker, ollama):
    verdict = checker.check(png(1000, 500), "kids")
    assert verdict is not None and verdict.decision == "allow"
    sent = base64.b64decode(ollama.chat_bodies()[-1]["messages"][-1]["images"][0])
    assert Image.open(io.BytesIO(sent)).size == (256, 128)
    assert verdict.calls[0]["parameters"]["keep_alive"] == "5m"


@pytest.mark.parametrize("level, decision", [("kids", "block"), ("youth", "block"), ("adult", "allow")])
def test_an_unreadable_picture_is_unchecked(checker, ollama, level, decision):
    verdict = checker.check(b"\x89PNG\r\n\x1a\nbroken", level)
    assert verdict.decision == decision and verdict.method == "unchecked"
    assert ollama.chat_bodies() == []  # nothing was sent


@pytest.mark.parametrize("answer", [{"safe": "no", "category": "none", "reason": "x"},
                                    {"safe": True, "category": "cute", "reason": "x"},
                                    {"safe": True, "category": "none", "reason": "x", "extra": 1}])
def test_an_answer_outside_the_schema_withholds_at_kids(checker, ollama, answer):
    ollama.vision_answer = answer
    verdict = checker.check(png(64, 64), "kids")
    assert verdict.decision == "block" and verdict.category == "unchecked_blocked"
    assert verdict.calls  # the call is still recorded


def test_no_model_means_no_check(ollama):
    assert ImageChecker(load_policy(), None, "").check(png(8, 8), "kids") is None

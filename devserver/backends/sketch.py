"""The embedded "Offline sketch" image backend: an abstract composition from prompt words and seed.

Deterministic: the same prompt, seed and size give byte-identical PNGs. Colours and shapes are
derived from the words (a hash of each word picks hue, shape, position and size), so different
prompts look different and a student can see their words became the picture's parts. It is named
"Offline sketch" wherever a user sees it: it is not an image model.
"""
from __future__ import annotations

import colorsys
import hashlib
import io
import random
import re
import time
from typing import Any

from PIL import Image, ImageDraw

from devserver.backends.base import (CancelToken, Health, MediaBackend, MediaFile, MediaRequest, MediaResult,
                                     ProgressCallback, Progress)
from devserver.errors import BackendError

MODEL = "offline-sketch-1"
MAX_SIDE = 2048


def _word_rng(word: str, seed: int) -> random.Random:
    digest = hashlib.sha256(f"{seed}:{word}".encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


def _rgb(h: float, s: float, v: float) -> tuple[int, int, int]:
    r, g, b = colorsys.hsv_to_rgb(h % 1.0, s, v)
    return int(r * 255), int(g * 255), int(b * 255)


def render(prompt: str, seed: int, width: int = 512, height: int = 512) -> bytes:
    """Render the composition for a prompt and seed as PNG bytes."""
    words = re.findall(r"\w+", prompt.lower()) or ["empty"]
    base = _word_rng(" ".join(words), seed)
    hue = base.random()
    image = Image.new("RGB", (width, height), _rgb(hue, 0.12, 0.97))
    draw = ImageDraw.Draw(image, "RGBA")
    for i, word in enumerate(words[:64]):
        rng = _word_rng(word, seed + i)
        color = (*_rgb(hue + rng.uniform(-0.35, 0.35), rng.uniform(0.45, 0.9), rng.uniform(0.45, 0.95)),
                 rng.randint(110, 210))
        cx, cy = rng.uniform(0, width), rng.uniform(0, height)
        size = (0.08 + 0.25 * min(len(word), 12) / 12) * min(width, height) * rng.uniform(0.6, 1.2)
        box = (cx - size / 2, cy - size / 2, cx + size / 2, cy + size / 2)
        shape = rng.randrange(4)
        if shape == 0:
            draw.ellipse(box, fill=color)
        elif shape == 1:
            draw.rectangle(box, fill=color)
        elif shape == 2:
            draw.polygon([(cx, cy - size / 2), (cx + size / 2, cy + size / 2), (cx - size / 2, cy + size / 2)], fill=color)
        else:
            draw.line([(box[0], box[1]), (box[2], box[3])], fill=color, width=max(2, int(size / 10)))
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=False)
    return out.getvalue()


class SketchBackend(MediaBackend):
    """Offline, embedded, always available image renderer."""

    backend_id = "sketch"
    display_name = "Offline sketch"
    capabilities = frozenset({"image"})
    default_concurrency = 2

    @classmethod
    def from_config(cls, config: Any) -> "SketchBackend":
        return cls()

    def health(self) -> Health:
        return Health("ok", "embedded renderer", version=MODEL, models=[MODEL])

    def has_model(self, model: str) -> bool:
        return model == MODEL

    def generate(self, request: MediaRequest, on_progress: ProgressCallback | None = None,
                 cancel: CancelToken | None = None) -> MediaResult:
        """Render one PNG for the request's prompt and seed."""
        width, height = request.width or 512, request.height or 512
        if not (16 <= width <= MAX_SIDE and 16 <= height <= MAX_SIDE):
            raise BackendError(f"size {width}x{height} is outside 16..{MAX_SIDE}", backend=self.backend_id,
                               code="bad_parameters")
        seed = 0 if request.seed is None else request.seed
        started = time.perf_counter()
        data = render(request.prompt, seed, width, height)
        if on_progress:
            on_progress(Progress(1, 1, message="rendered"))
        params = {"prompt": request.prompt, "seed": seed, "width": width, "height": height}
        return MediaResult(files=[MediaFile(data, "image/png", "sketch.png")], backend=self.backend_id,
                           model_requested=request.chunk.model if request.chunk else MODEL, model_used=MODEL,
                           parameters=params, duration_ms=(time.perf_counter() - started) * 1000)

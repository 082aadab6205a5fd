"""Print what the image check adds per generated picture, apart from the vision model's own thinking.

Measures, on this machine: preparing the picture (decode, scale to IMAGE_CHECK_MAX_SIDE, JPEG encode;
PNG encoding alongside, the format it replaced)
for offline-sketch pictures of three sizes, and one whole check through the real router and Ollama
adapter against the Ollama protocol fake on loopback (HTTP, base64, JSON verdict). The fake answers
at once, so the second figure is our overhead; a real vision model adds its inference time.

Usage: .venv/bin/python tests/bench/bench_image_check.py
"""
from __future__ import annotations

import io
import statistics
import sys
import time
from pathlib import Path

from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from config import Config  # noqa: E402
from devserver.backends.ollama import OllamaBackend  # noqa: E402
from devserver.backends.registry import BackendRegistry  # noqa: E402
from devserver.backends.router import Router  # noqa: E402
from devserver.backends.sketch import render  # noqa: E402
from devserver.safety.image_check import ImageChecker, prepare  # noqa: E402
from devserver.safety.policy import load_policy  # noqa: E402
from tests.fakes.ollama_fake import OllamaFake  # noqa: E402

MAX_SIDE = 1024
ROUNDS = 10


def median_ms(action, rounds: int = ROUNDS) -> float:
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        action()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def main() -> None:
    pictures = {side: render("a lighthouse on a cliff in a storm with seven gulls", 7, side, side)
                for side in (512, 1024, 2048)}
    print(f"prepare (decode, scale to {MAX_SIDE}, JPEG q90), median of {ROUNDS}:")
    for side, data in pictures.items():
        print(f"  {side}x{side} ({len(data) // 1024} KiB): {median_ms(lambda: prepare(data, MAX_SIDE)):.1f} ms")
    with Image.open(io.BytesIO(pictures[1024])) as opened:
        decoded = opened.convert("RGB")
    png = median_ms(lambda: decoded.save(io.BytesIO(), format="PNG"))
    jpeg = median_ms(lambda: decoded.save(io.BytesIO(), format="JPEG", quality=90))
    print(f"encoding 1024x1024: PNG {png:.1f} ms, JPEG q90 {jpeg:.1f} ms (PNG/JPEG = {png / jpeg:.1f}x)")
    with OllamaFake(models=("qwen2.5vl:3b",)) as fake:
        registry = BackendRegistry()
        registry.add(OllamaBackend(fake.url, timeout=30))
        router = Router(registry, Config().with_overrides({"RETRY_ATTEMPTS": 1}))
        checker = ImageChecker(load_policy(), router.chat_model, "ollama/qwen2.5vl:3b", MAX_SIDE,
                               capabilities=router.model_capabilities)
        checker.check(pictures[512], "kids")  # warm: connection, capabilities cache
        whole = median_ms(lambda: checker.check(pictures[1024], "kids"))
        alone = median_ms(lambda: prepare(pictures[1024], MAX_SIDE))
        print(f"whole check of a 1024x1024 picture against the fake: {whole:.1f} ms "
              f"(preparing it: {alone:.1f} ms, {alone / whole:.0%} of the check)")
        registry.close()


if __name__ == "__main__":
    main()

"""Stage 3 latency per output: the model asked for every output (STAGE3_ALWAYS_VERIFY=true) vs. hybrid.

The Stage 3 model is the Ollama protocol fake behind the real router and Ollama backend (real HTTP on
127.0.0.1), answering after `--model-latency` seconds — about what a 4B–20B model on a workshop GPU
takes for a short JSON verdict. The texts are what reaches Stage 3 in a workshop: final prompts that
passed Stage 1 (the benign fixture, art-education near-misses included) with every fifth one carrying
an ambiguous term the fast filter hands to the model. Printed per mode: mean, median and p95 latency
per output, the share of outputs that needed a model call, and the ratio. Run:

    .venv/bin/python tests/bench/bench_stage3_hybrid.py [--outputs 30] [--model-latency 0.8]
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from devserver.app import create_app, shutdown  # noqa: E402
from tests.fakes.ollama_fake import OllamaFake  # noqa: E402

AMBIGUOUS = ("A T-shirt with a big 88 on the back", "Ein Ritter mit einem Kreuz auf dem Schild",
             "A cowboy fires a shot into the air")
VERDICT = {"safe": True, "category": "none", "reason": "a harmless picture",
           "positive_prompt": "a harmless picture, soft light", "negative_prompt": "blurry"}


def texts(count: int) -> list[str]:
    benign = [json.loads(line)["text"] for line in
              (ROOT / "tests" / "fixtures" / "safety" / "benign.jsonl").read_text(encoding="utf-8").splitlines()]
    return [AMBIGUOUS[i // 5 % len(AMBIGUOUS)] if i % 5 == 4 else benign[i % len(benign)] for i in range(count)]


def measure(ollama: OllamaFake, always: bool, prompts: list[str], level: str) -> tuple[list[float], int]:
    roles = {"STAGE3_MODEL": "ollama/judge:latest", "SAFETY_VERIFY_MODEL": "ollama/judge:latest"}
    with tempfile.TemporaryDirectory() as tmp:
        app = create_app({"TESTING": True, "EXPORTS_DIR": Path(tmp), "OLLAMA_URL": ollama.url,
                          "MODEL_ROLE_MAP": roles, "RETRY_ATTEMPTS": 1, "STAGE3_ALWAYS_VERIFY": always})
        try:
            safety = app.extensions["devserver.safety"]
            calls_before = len(ollama.chat_bodies())
            latencies = []
            for text in prompts:
                started = time.perf_counter()
                safety.stage3(text, level)
                latencies.append((time.perf_counter() - started) * 1000)
            return latencies, len(ollama.chat_bodies()) - calls_before
        finally:
            shutdown(app)


def describe(name: str, latencies: list[float], calls: int) -> str:
    p95 = sorted(latencies)[max(0, int(len(latencies) * 0.95) - 1)]
    return (f"{name:<22} mean {statistics.mean(latencies):8.1f} ms   median {statistics.median(latencies):8.1f} ms"
            f"   p95 {p95:8.1f} ms   model calls {calls}/{len(latencies)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--outputs", type=int, default=30)
    parser.add_argument("--model-latency", type=float, default=0.8)
    parser.add_argument("--level", default="youth")
    args = parser.parse_args()
    prompts = texts(args.outputs)
    with OllamaFake(models=("judge:latest",)) as ollama:
        ollama.mode, ollama.delay, ollama.json_answer = "slow", args.model_latency, VERDICT
        before, before_calls = measure(ollama, True, prompts, args.level)
        after, after_calls = measure(ollama, False, prompts, args.level)
    print(f"Stage 3 per output, {args.outputs} outputs at level {args.level}, "
          f"model latency {args.model_latency * 1000:.0f} ms")
    print(describe("always verify (before)", before, before_calls))
    print(describe("hybrid (after)", after, after_calls))
    print(f"mean latency ratio before/after: {statistics.mean(before) / statistics.mean(after):.1f}x; "
          f"outputs answered without a model call: {1 - after_calls / len(after):.0%}")


if __name__ == "__main__":
    main()

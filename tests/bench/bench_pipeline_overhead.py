"""Server-side overhead of a whole run: every stage, checkpoint, record and status change, with instant backends.

The language model is an in-process stand-in that answers at once, so what is measured is our own
code: request validation, the orchestrator's thread hand-off, safety checks, the recorder's files
(with and without fsync), the index, and the offline sketch (reported separately, since it is real
work). Run: `.venv/bin/python tests/bench/bench_pipeline_overhead.py [--runs 40]`.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from config import MODEL_ROLES  # noqa: E402
from devserver.app import create_app, shutdown  # noqa: E402
from devserver.backends.base import ChatResult, LlmBackend  # noqa: E402
from devserver.backends.sketch import render  # noqa: E402


class InstantLlm(LlmBackend):
    """Answers immediately with a fixed text (the stand-in for a model that costs nothing)."""

    backend_id = "instant"
    display_name = "instant"

    def health(self):  # pragma: no cover - not used by the bench
        raise NotImplementedError

    def chat(self, messages, model, options, json_schema=None, on_token=None):
        text = "a bright geometric poster of a red balloon over the city"
        if json_schema is not None:  # a verdict: safe, with the prompts Stage 3 asks for
            text = json.dumps({"safe": True, "category": "none", "reason": "harmless", "positive_prompt": text,
                               "negative_prompt": "blurry"})
        return ChatResult(text=text, backend="instant",
                          model_requested=model, model_used=model, parameters=dict(options), duration_ms=0.0)


def measure(runs: int, fsync: bool) -> list[float]:
    with tempfile.TemporaryDirectory() as tmp:
        app = create_app({"TESTING": not fsync, "EXPORTS_DIR": Path(tmp),
                          "MODEL_ROLE_MAP": {role: "instant/x" for role in MODEL_ROLES},
                          "RUNS_PER_MINUTE": 100_000})  # measures the pipeline, not the per-student limit
        app.extensions["devserver.backends"].add(InstantLlm())
        client = app.test_client()
        timings = []
        for n in range(runs + 3):
            started = time.perf_counter()
            r = client.post("/api/schema/pipeline/execute?wait=30", json={
                "schema": "bauhaus", "input_text": f"a red balloon over the city, variant {chr(97 + n % 26)}", "lang": "en",
                "output_configs": ["sketch_offline"], "seed": 1})
            elapsed = (time.perf_counter() - started) * 1000
            assert r.get_json()["status"] == "succeeded", r.get_json()
            if n >= 3:  # warm-up: imports, first index writes
                timings.append(elapsed)
        shutdown(app)
    return timings


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=40)
    args = parser.parse_args()
    sketch = []
    for _ in range(10):
        started = time.perf_counter()
        render("a bright geometric poster of a red balloon over the city", 1, 512, 512)
        sketch.append((time.perf_counter() - started) * 1000)
    sketch_ms = statistics.median(sketch)
    print(f"offline sketch render 512x512: median {sketch_ms:.1f} ms")
    for fsync in (False, True):
        timings = measure(args.runs, fsync)
        median = statistics.median(timings)
        p95 = sorted(timings)[int(len(timings) * 0.95) - 1]
        print(f"full run (execute, 1 output), fsync={'on ' if fsync else 'off'}: median {median:.1f} ms, "
              f"p95 {p95:.1f} ms, without the sketch render {median - sketch_ms:.1f} ms "
              f"→ {1000 / median:.0f} runs/s on one request thread")
    print("ratio: server overhead vs one 60-token answer of the embedded model (~800 ms): "
          f"{(median - sketch_ms) / 800:.2%}")


if __name__ == "__main__":
    main()

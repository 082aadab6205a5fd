"""Measure the embedded model: load time, generation speed, and latency of a typical answer and verdict.

Run: `.venv/bin/python tests/bench/bench_local_model.py [--runs 5]`. Prints numbers; asserts nothing.
The machine's other load changes the numbers, so compare runs made under the same conditions.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from config import Config  # noqa: E402
from devserver.backends.local import MODEL, LocalLlamaBackend  # noqa: E402

ANSWER_PROMPT = "Describe a red house in the style of a Dada poem."
VERDICT_PROMPT = ("Is this prompt safe for children aged 6 to 12? Prompt: 'a knight fights a dragon'. "
                  "Answer as JSON.")
VERDICT = {"type": "object", "properties": {"safe": {"type": "boolean"}, "category": {"type": "string"},
                                            "reason": {"type": "string", "maxLength": 80}},
           "required": ["safe", "category", "reason"], "additionalProperties": False}


def timed(call) -> tuple[float, object]:
    """Return the seconds a call took and its result."""
    started = time.perf_counter()
    result = call()
    return time.perf_counter() - started, result


def main() -> None:
    """Print the benchmark numbers."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    runs = parser.parse_args().runs
    config = Config.from_env()
    backend = LocalLlamaBackend.from_config(config)
    print(f"model {MODEL} ({backend.model_path()}), n_ctx {config.LOCAL_CONTEXT}, threads {config.LOCAL_THREADS}")

    load_s, _ = timed(backend.http_endpoint)  # loads the model
    print(f"load: {load_s:.2f} s")

    answers = []
    for seed in range(runs):
        seconds, result = timed(lambda: backend.chat([{"role": "user", "content": ANSWER_PROMPT}], MODEL,
                                                     {"temperature": 0.7, "seed": seed, "max_tokens": 60}))
        answers.append((seconds, result.usage["completion_tokens"]))
    latency = statistics.median(s for s, _ in answers)
    speed = statistics.median(n / s for s, n in answers)
    tokens = statistics.median(n for _, n in answers)
    print(f"60-token answer: median latency {latency:.2f} s, {tokens:.0f} tokens, {speed:.1f} tokens/s end to end "
          f"(median of {runs})")

    verdicts = []
    for _ in range(runs):
        seconds, result = timed(lambda: backend.chat([{"role": "user", "content": VERDICT_PROMPT}], MODEL,
                                                      {"temperature": 0, "max_tokens": 200}, json_schema=VERDICT))
        verdicts.append((seconds, result.usage["completion_tokens"]))
    print(f"JSON verdict: median latency {statistics.median(s for s, _ in verdicts):.2f} s, "
          f"{statistics.median(n for _, n in verdicts):.0f} tokens (median of {runs})")
    backend.close()


if __name__ == "__main__":
    main()

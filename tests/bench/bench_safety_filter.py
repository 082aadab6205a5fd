"""Benchmark the fast term filter: prompts per second for ~200-character prompts, one thread.

Prompts are built from the labelled fixtures (benign, §86a, age-list texts) joined to about 200
characters, 20 % of them containing a harmful sentence. Rates are per second of CPU time of this one
thread (wall-clock time would count other processes on a shared machine). Printed: a cold pass (fresh filter, empty
per-word caches, every prompt new), a warm pass over the same prompts, and a pass over prompts with
unseen random words (the fuzzy index has to search every word). Run:

    .venv/bin/python tests/bench/bench_safety_filter.py [--prompts N]
"""
from __future__ import annotations

import argparse
import json
import random
import string
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from devserver.safety.policy import load_policy  # noqa: E402

FIXTURES = ROOT / "tests" / "fixtures" / "safety"
TARGET_CHARS = 200


def sentences() -> tuple[list[str], list[str]]:
    benign, harmful = [], []
    for path in FIXTURES.glob("*.jsonl"):
        for line in path.read_text(encoding="utf-8").splitlines():
            item = json.loads(line)
            (benign if item["category"].startswith("benign") else harmful).append(item["text"])
    return benign, harmful


def build(count: int, rng: random.Random, benign: list[str], harmful: list[str], noise: bool) -> list[str]:
    prompts = []
    for _ in range(count):
        parts: list[str] = []
        while sum(len(p) + 2 for p in parts) < TARGET_CHARS:
            parts.append(rng.choice(benign))
        if rng.random() < 0.2:
            parts[rng.randrange(len(parts))] = rng.choice(harmful)
        if noise:  # words never seen before: no cache can help
            parts.append(" ".join("".join(rng.choices(string.ascii_lowercase, k=rng.randint(5, 11)))
                                  for _ in range(4)))
        prompts.append(". ".join(parts)[:TARGET_CHARS + 20])
    return prompts


def rate(filt, prompts: list[str], level: str = "kids") -> float:
    """Return prompts per second of this process's CPU time (the machine may be shared; one thread)."""
    started = time.process_time()
    for prompt in prompts:
        filt.assess(prompt, level)
    return len(prompts) / (time.process_time() - started)


def figures(quick: bool = False) -> list:
    """Return the cold-pass throughput (every normalisation view on, new prompts) as a figure."""
    from tests.bench.figures import Figure

    rng = random.Random(86)
    benign, harmful = sentences()
    prompts = build(1000 if quick else 5000, rng, benign, harmful, noise=False)
    cold = rate(load_policy().filter, prompts)
    return [Figure("safety filter, cold prompts/s (one core)", cold, "prompts/s", 5000, True,
                   f"{len(prompts)} prompts of ~{TARGET_CHARS} chars, CPU time of one thread")]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prompts", type=int, default=5000)
    args = parser.parse_args()
    rng = random.Random(86)
    benign, harmful = sentences()
    prompts = build(args.prompts, rng, benign, harmful, noise=False)
    noisy = build(args.prompts, rng, benign, harmful, noise=True)
    mean = sum(map(len, prompts)) / len(prompts)

    started = time.perf_counter()
    filt = load_policy().filter
    load_ms = (time.perf_counter() - started) * 1000
    cold = rate(filt, prompts)
    warm = rate(filt, prompts)
    unseen = rate(filt, noisy)
    blocked = sum(filt.assess(p, "kids").outcome == "block" for p in prompts)
    print(f"terms: {len(filt.terms)}, lists loaded and compiled in {load_ms:.0f} ms")
    print(f"prompts: {len(prompts)}, mean length {mean:.0f} chars, blocked at kids: {blocked / len(prompts):.0%}")
    print(f"cold pass (new filter, new prompts): {cold:8.0f} prompts/s")
    print(f"warm pass (same prompts again):      {warm:8.0f} prompts/s")
    print(f"with 4 unseen random words each:     {unseen:8.0f} prompts/s")
    print(f"target 5000 prompts/s: cold x{cold / 5000:.2f}, warm x{warm / 5000:.2f}, unseen x{unseen / 5000:.2f}")


if __name__ == "__main__":
    main()

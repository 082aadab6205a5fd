"""Benchmark the fast term filter: prompts per second for ~200-character prompts, one thread.

Prompts are built from the labelled fixtures joined to about 200 characters, 20 % of them containing a
harmful sentence. Two mixes: the classroom mix (German/English benign, §86a and age-list texts: the
workload of earlier measurements) and the adversarial mix (all fixtures, including the look-alike,
invisible, split, number-word, symbol and other-language items, so every view of the filter works).
A last table shows single worst-case inputs at the 5,000-character limit. Rates are per second of CPU time of this one
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


CLASSROOM = ("age.jsonl", "benign.jsonl", "p86a.jsonl", "p86a_holdout.jsonl")


def sentences(names: tuple[str, ...] | None = None) -> tuple[list[str], list[str]]:
    benign, harmful = [], []
    for path in sorted(FIXTURES.glob("*.jsonl")):
        if names is not None and path.name not in names:
            continue
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


def rates(filt, prompts: list[str], level: str = "kids") -> tuple[float, float]:
    """Return prompts per second of this process's CPU time (the machine may be shared; one thread) and of
    wall-clock time."""
    started, wall = time.process_time(), time.perf_counter()
    for prompt in prompts:
        filt.assess(prompt, level)
    return len(prompts) / (time.process_time() - started), len(prompts) / (time.perf_counter() - wall)


def rate(filt, prompts: list[str], level: str = "kids") -> float:
    """Return prompts per second of this process's CPU time."""
    return rates(filt, prompts, level)[0]


def figures(quick: bool = False) -> list:
    """Return the cold-pass throughput (every normalisation view on, new prompts, classroom mix) as a figure."""
    from tests.bench.figures import Figure

    rng = random.Random(86)
    benign, harmful = sentences(CLASSROOM)
    prompts = build(1000 if quick else 5000, rng, benign, harmful, noise=False)
    cold, wall = rates(load_policy().filter, prompts)
    return [Figure("safety filter, cold prompts/s (one core)", cold, "prompts/s", 5000, True,
                   f"{len(prompts)} prompts of ~{TARGET_CHARS} chars, classroom mix, CPU time of one thread "
                   f"(wall clock: {wall:,.0f}/s)")]


def worst_cases() -> dict[str, str]:
    rng = random.Random(86)
    return {
        "10,000 combining marks": "a" + "\u0301" * 10_000,
        "random code points, all planes": "".join(chr(rng.randrange(0x20, 0x110000)) for _ in range(5000)),
        "Cyrillic words": " ".join("".join(chr(rng.randrange(0x430, 0x44F)) for _ in range(rng.randint(2, 9)))
                                   for _ in range(700))[:5000],
        "unseen Latin words": " ".join("".join(rng.choices(string.ascii_lowercase, k=rng.randint(3, 11)))
                                       for _ in range(700))[:5000],
        "lone surrogates": "".join(chr(rng.randrange(0xD800, 0xE000)) for _ in range(5000)),
    }


def mix(name: str, names: tuple[str, ...] | None, count: int) -> None:
    rng = random.Random(86)
    benign, harmful = sentences(names)
    prompts = build(count, rng, benign, harmful, noise=False)
    noisy = build(count, rng, benign, harmful, noise=True)
    mean = sum(map(len, prompts)) / len(prompts)
    started = time.perf_counter()
    filt = load_policy().filter
    load_ms = (time.perf_counter() - started) * 1000
    cold, cold_wall = rates(filt, prompts)
    warm = rate(filt, prompts)
    unseen = rate(filt, noisy)
    blocked = sum(filt.assess(p, "kids").outcome == "block" for p in prompts)
    non_latin = sum(not p.isascii() for p in prompts)
    print(f"== {name}: {len(filt.terms)} terms, lists loaded and compiled in {load_ms:.0f} ms")
    print(f"prompts: {len(prompts)}, mean length {mean:.0f} chars, non-ASCII {non_latin / len(prompts):.0%}, "
          f"blocked at kids: {blocked / len(prompts):.0%}")
    print(f"cold pass (new filter, new prompts): {cold:8.0f} prompts/s (wall clock {cold_wall:.0f}/s)")
    print(f"warm pass (same prompts again):      {warm:8.0f} prompts/s")
    print(f"with 4 unseen random words each:     {unseen:8.0f} prompts/s")
    print(f"target 5000 prompts/s: cold x{cold / 5000:.2f}, warm x{warm / 5000:.2f}, unseen x{unseen / 5000:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prompts", type=int, default=5000)
    args = parser.parse_args()
    mix("classroom mix", CLASSROOM, args.prompts)
    mix("adversarial mix (all fixtures)", None, args.prompts)
    filt = load_policy().filter
    print("== single inputs at the limit (ms, one call, kids)")
    for name, text in worst_cases().items():
        started = time.process_time()
        outcome = filt.assess(text, "kids").outcome
        print(f"{name:<34}{len(text):>7} chars {(time.process_time() - started) * 1000:9.1f} ms  {outcome}")


if __name__ == "__main__":
    main()

"""Benchmark the recorder and the run index; prints numbers and ratios (not a test).

    .venv/bin/python tests/bench/bench_recorder.py [--events 2000] [--rows 20000]

Event cost is measured four ways: building + encoding an item only (pure CPU), `RunRecord.event` on
tmpfs (/dev/shm: the full code path without a disk), on disk without fsync, and on disk with fsync
per event. The disk cases run in a temporary folder under exports/ (where real runs live) that is
removed afterwards. Metadata replacement is measured with and without fsync. The index part fills
an index with `--rows` synthetic runs and times list/filter/stats queries (median of 7 runs each).
"""
from __future__ import annotations

import argparse
import random
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Callable

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from devserver.recorder import LivePipelineRecorder, RunIndex  # noqa: E402
from devserver.recorder.items import build_item, encode_item  # noqa: E402

META = {"backend": "ollama", "model_requested": "ollama/gpt-oss:20b", "model_used": "gpt-oss:20b",
        "parameters": {"temperature": 0.7, "seed": 42, "num_predict": 512, "keep_alive": "5m"},
        "duration_ms": 1234.5, "usage": {"prompt": 310, "completion": 120}}
TEXT = "Ein Ritter reitet durch einen nebligen Wald und trifft einen freundlichen Drachen. " * 6


def per_call_us(func: Callable[[int], object], count: int) -> float:
    """Return the mean microseconds per call of func(i) over `count` calls."""
    started = time.perf_counter()
    for i in range(count):
        func(i)
    return (time.perf_counter() - started) / count * 1e6


def median_ms(func: Callable[[], object], repeat: int = 7) -> float:
    """Return the median milliseconds of `repeat` calls."""
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        func()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def event_cost(base: Path, count: int, *, fsync_events: bool) -> float:
    rec = LivePipelineRecorder(base, fsync=False, fsync_events=fsync_events)
    run = rec.open_run(str(uuid.uuid4()), {"input_text": TEXT})
    cost = per_call_us(lambda i: run.event("interception_iteration", stage="stage2", stage_iteration=i,
                                           content=TEXT, metadata=META), count)
    rec.close()
    return cost


def update_cost(base: Path, count: int, *, fsync: bool) -> float:
    rec = LivePipelineRecorder(base, fsync=fsync)
    run = rec.open_run(str(uuid.uuid4()), {"input_text": TEXT, "schema": "dada"})
    cost = per_call_us(lambda i: run.update(status="running", progress=i, models={"stage2": "ollama/x"}), count)
    rec.close()
    return cost


def bench_events(count: int) -> None:
    print(f"== recorder: per event ({count} events, item with ~500 chars of text and backend metadata)")
    memory = per_call_us(lambda i: encode_item(build_item(i, "interception_iteration", stage="stage2",
                                                          content=TEXT, metadata=META)), count)
    shm = Path(tempfile.mkdtemp(dir="/dev/shm")) if Path("/dev/shm").is_dir() else None
    disk = Path(tempfile.mkdtemp(prefix="bench-recorder-", dir=Path(__file__).resolve().parents[2] / "exports"))
    try:
        tmpfs = event_cost(shm, count, fsync_events=False) if shm else float("nan")
        plain = event_cost(disk / "plain", count, fsync_events=False)
        synced = event_cost(disk / "synced", max(count // 10, 50), fsync_events=True)
        meta_plain = update_cost(disk / "meta-plain", max(count // 10, 50), fsync=False)
        meta_synced = update_cost(disk / "meta-synced", max(count // 20, 30), fsync=True)
    finally:
        shutil.rmtree(disk, ignore_errors=True)
        if shm:
            shutil.rmtree(shm, ignore_errors=True)
    rows = [("build + encode only (CPU)", memory), ("RunRecord.event on tmpfs", tmpfs),
            ("RunRecord.event on disk, no fsync", plain), ("RunRecord.event on disk, fsync per event", synced),
            ("RunRecord.update, no fsync (+ index upsert)", meta_plain),
            ("RunRecord.update, fsync (log, file, folder)", meta_synced)]
    for name, value in rows:
        print(f"  {name:<46} {value:10.1f} µs   ({value / plain:6.2f}× disk no-fsync)")
    print(f"  fsync per event costs {synced / plain:.0f}× an unsynced event; "
          f"a synced metadata replace costs {meta_synced / meta_plain:.0f}× an unsynced one")


def synthetic_runs(count: int) -> list[dict]:
    rng = random.Random(7)
    start = datetime(2024, 1, 1, tzinfo=timezone.utc)
    words = ["Hund", "Katze", "Drache", "Vulkan", "Ritter", "Wald", "Meer", "Roboter", "Schloss", "Blume"]
    runs = []
    for n in range(count):
        created = start + timedelta(seconds=n * 600 + rng.randint(0, 500))
        media = rng.sample(["image", "audio", "music", "video", "code", "text"], rng.choice([1, 1, 1, 2]))
        runs.append({
            "run_id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
            "created_at": created.isoformat(timespec="microseconds"),
            "updated_at": (created + timedelta(seconds=40)).isoformat(timespec="microseconds"),
            "status": rng.choices(["succeeded", "blocked", "failed", "cancelled", "interrupted", "running"],
                                  [80, 8, 5, 3, 2, 2])[0],
            "phase": "execute", "schema": rng.choice(["dada", "bauhaus", "renaissance", "stille_post", "cubism"]),
            "safety_level": rng.choice(["kids", "youth", "adult", "research"]),
            "session": f"S{rng.randint(1, 400):03d}", "lang": rng.choice(["de", "en"]),
            "input_text": " ".join(rng.choices(words, k=8)) + f" Nummer {n}",
            "models": {"stage2": "ollama/gpt-oss:20b"},
            "outputs": [{"index": i, "output_config": f"{m}_default", "media_type": m} for i, m in enumerate(media)],
        })
    return runs


def bench_index(rows: int) -> None:
    print(f"== index: {rows} runs")
    folder = Path(tempfile.mkdtemp(prefix="bench-index-"))
    try:
        index = RunIndex(folder / "index.sqlite")
        runs = synthetic_runs(rows)
        started = time.perf_counter()
        index.upsert_many(runs)
        fill = time.perf_counter() - started
        print(f"  bulk insert (one transaction)      {fill * 1000:9.1f} ms   ({fill / rows * 1e6:.1f} µs per run)")
        single = median_ms(lambda: index.upsert({**runs[rows // 2], "status": "failed"}), 21)
        print(f"  single upsert (what update() does) {single:9.2f} ms")
        queries = [
            ("list page 1, no filter", lambda: index.list(limit=50)),
            ("list deep page (offset = rows/2)", lambda: index.list(limit=50, offset=rows // 2)),
            ("list status=blocked", lambda: index.list({"status": "blocked"})),
            ("list session=S123", lambda: index.list({"session": "S123"})),
            ("list media_type=video", lambda: index.list({"media_type": "video"})),
            ("list schema+safety+since", lambda: index.list({"schema": "dada", "safety_level": "kids",
                                                              "since": "2024-03-01"})),
            ("list q=drache (text search)", lambda: index.list({"q": "drache"})),
            ("list q=nummer 12345 (rare)", lambda: index.list({"q": "nummer 12345"})),
            ("stats, all runs", lambda: index.stats()),
            ("stats session=S123", lambda: index.stats({"session": "S123"})),
        ]
        baseline = None
        for name, query in queries:
            value = median_ms(query)
            baseline = baseline or value
            print(f"  {name:<34} {value:9.2f} ms   ({value / baseline:6.1f}× page 1)")
        index.close()
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=2000)
    parser.add_argument("--rows", type=int, default=20000)
    args = parser.parse_args()
    bench_events(args.events)
    bench_index(args.rows)


if __name__ == "__main__":
    main()

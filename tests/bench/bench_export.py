"""Benchmark the streamed bulk exports: throughput and peak memory at 1,000 and 10,000 runs (not a test).

    .venv/bin/python tests/bench/bench_export.py [--runs 10000]

Fills a temporary exports folder with synthetic runs of a typical shape (14 items: input, checks,
translation, three interception passes, optimization, Stage 3, one image output), then streams every
run through each text format the way `GET /api/runs/export?format=...` does and measures runs/s and
the peak of Python memory allocated while streaming (tracemalloc). Constant memory means the peak at
10,000 runs stays close to the peak at 1,000 runs (ratio ≈ 1).
"""
from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
import tracemalloc
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from devserver.recorder import LivePipelineRecorder  # noqa: E402
from devserver.recorder.export import STREAMS, stream_many  # noqa: E402

CALL = {"backend": "ollama", "model_requested": "gpt-oss:20b", "model_used": "gpt-oss:20b",
        "parameters": {"options": {"temperature": 0.7, "seed": 42, "num_predict": 512}, "keep_alive": "5m"},
        "duration_ms": 1234.5, "usage": {"prompt_tokens": 310, "completion_tokens": 120}}
CHECK = {"checkpoint": "input", "level": "kids", "decision": "allow", "method": "fast_filter", "category": "none"}
TEXT = "Ein Ritter reitet durch einen nebligen Wald und trifft einen freundlichen Drachen. " * 3
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 2048


def fill(recorder: LivePipelineRecorder, count: int) -> list[str]:
    """Record `count` synthetic runs; return their ids."""
    ids = []
    for _ in range(count):
        run = recorder.open_run(str(uuid.uuid4()), {"schema": "dada", "input_text": TEXT, "safety_level": "kids",
                                                    "lang": "de", "status": "running"})
        run.event("pipeline_start", stage="stage1")
        run.event("user_input_text", stage="stage1", content=TEXT)
        run.event("stage1_safety_check", stage="stage1", metadata=CHECK)
        run.event("translation_result", stage="stage1", content=TEXT, metadata=CALL)
        for n in range(1, 4):
            run.event("interception_iteration", stage="stage2", stage_iteration=n, content=TEXT, metadata=CALL)
            run.event("stage1_safety_check", stage="stage2", stage_iteration=n, metadata=CHECK)
        run.event("interception_final", stage="stage2", content=TEXT)
        run.event("optimization_result", stage="stage2", content=TEXT, metadata=CALL)
        run.event("stage3_safety_check", stage="stage3", loop_iteration=1, metadata=CHECK)
        name = run.save_entity("output_image", PNG, ext="png")
        run.event("output_image", stage="stage4", media_type="image", loop_iteration=1, file=name,
                  metadata={**CALL, "backend": "sketch", "model_used": "offline-sketch-1"})
        run.event("pipeline_complete", stage="stage4")
        run.update(status="succeeded")
        ids.append(run.run_id)
    return ids


def measure(recorder: LivePipelineRecorder, ids: list[str], fmt: str) -> tuple[float, float, float]:
    """Stream all runs in `fmt`; return (runs per second, MB written, peak MB allocated)."""
    tracemalloc.start()
    started = time.perf_counter()
    written = sum(len(chunk) for chunk in stream_many(recorder, ids, fmt).chunks)
    seconds = time.perf_counter() - started
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return len(ids) / seconds, written / 1e6, peak / 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10_000)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="bench-export-"))
    try:
        recorder = LivePipelineRecorder(folder, fsync=False)
        started = time.perf_counter()
        ids = fill(recorder, args.runs)
        print(f"recorded {len(ids)} runs in {time.perf_counter() - started:.1f} s")
        small = ids[: max(1, len(ids) // 10)]
        print(f"{'format':<7} {'runs/s':>8} {'MB out':>8} {'peak MB':>8} {'peak MB @' + str(len(small)):>12} {'ratio':>6}")
        for fmt in STREAMS:
            rate, size, peak = measure(recorder, ids, fmt)
            _, _, small_peak = measure(recorder, small, fmt)
            print(f"{fmt:<7} {rate:8.0f} {size:8.1f} {peak:8.2f} {small_peak:12.2f} {peak / small_peak:6.2f}")
        recorder.close()
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()

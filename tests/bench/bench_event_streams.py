"""Light-request latency of the production server while a class waits on live events.

Starts the real server process (uvicorn + async gateway) with its language model roles pointed at a
fake Ollama that holds every call, so the runs stay `running`/`queued` and every event stream stays
open. Phase 1 measures a light GET (a run's status) on an idle server; phase 2 the same while
`--streams` event streams are open and `--pollers` students poll their status once a second.
The light GET is sent from a process of its own: measured from inside the process that also holds the
streams and the pollers, its latency was mostly that process's own busy event loop (p99 213 ms
there against 78 ms from outside, same server, same second).
Target (issue 12): 300 streams + 60 pollers → p99 < 100 ms.
Run: `.venv/bin/python tests/bench/bench_event_streams.py [--streams 300 --pollers 60 --seconds 15]`.
"""
from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.fakes.ollama_fake import OllamaFake  # noqa: E402
from tests.server_process import LLM_ROLES, ServerProcess  # noqa: E402

RUNS = 10
TARGET_P99_MS = 100.0


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def probe(base: str, path: str, seconds: float) -> tuple[list[float], list[str]]:
    """GET `path` 20 times a second for `seconds` (in a process of its own); return latencies in ms, errors."""
    latencies, errors, end = [], [], time.monotonic() + seconds
    with httpx.Client(base_url=base, timeout=60) as client:
        while time.monotonic() < end:
            start = time.perf_counter()
            r = client.get(path)
            latencies.append((time.perf_counter() - start) * 1000)
            if r.status_code != 200:
                errors.append(f"{path}: {r.status_code}")
            time.sleep(0.05)
    return latencies, errors


async def measure(base: str, path: str, seconds: float, errors: list[str]) -> list[float]:
    """Run `probe` in a separate process while this loop goes on serving the streams and pollers."""
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        latencies, failed = await asyncio.get_running_loop().run_in_executor(
            None, pool.apply, probe, (base, path, seconds))
    errors.extend(failed)
    return latencies


async def poller(client: httpx.AsyncClient, path: str, stop: asyncio.Event, errors: list[str], offset: float) -> int:
    count = 0
    await asyncio.sleep(offset)  # students do not poll in lockstep
    while not stop.is_set():
        r = await client.get(path)
        count += 1
        if r.status_code != 200:
            errors.append(f"poll {r.status_code}")
        await asyncio.sleep(1.0)
    return count


async def hold_stream(client: httpx.AsyncClient, path: str, opened: list[int], stop: asyncio.Event,
                      errors: list[str]) -> None:
    async with client.stream("GET", path) as r:
        if r.status_code != 200:
            errors.append(f"stream {r.status_code}")
            return
        opened.append(1)
        async for _ in r.aiter_bytes():
            if stop.is_set():
                return


async def scenario(base: str, streams: int, pollers: int, seconds: float) -> None:
    # separate clients: httpx's pool gets slow with hundreds of connections, and starting the runs must not queue
    # behind the streams inside the measuring process itself
    many = httpx.Limits(max_connections=streams + 10, max_keepalive_connections=streams + 10)
    async with httpx.AsyncClient(base_url=base, timeout=60) as start_client, \
            httpx.AsyncClient(base_url=base, timeout=60, limits=many) as stream_client, \
            httpx.AsyncClient(base_url=base, timeout=60) as poll_client:
        runs = []
        for i in range(RUNS):
            body = {"schema": "dada", "input_text": f"ein Boot Nummer {i}", "lang": "de"}
            runs.append((await start_client.post("/api/schema/pipeline/stage2", json=body)).json()["run_id"])
        probe_path = f"/api/pipeline/{runs[0]}/status"
        errors: list[str] = []
        idle = await measure(base, probe_path, seconds, errors)

        stop, opened = asyncio.Event(), []
        holders = [asyncio.create_task(hold_stream(stream_client, f"/api/pipeline/{runs[i % RUNS]}/events", opened,
                                                   stop, errors)) for i in range(streams)]
        while len(opened) + len(errors) < streams:
            await asyncio.sleep(0.05)
        polls = [asyncio.create_task(poller(poll_client, f"/api/pipeline/{runs[i % RUNS]}/status", stop, errors,
                                       i / max(1, pollers)))
                 for i in range(pollers)]
        loaded = await measure(base, probe_path, seconds, errors)
        load = os.getloadavg()[0]
        stop.set()
        for task in holders:
            task.cancel()
        poll_counts = await asyncio.gather(*polls)

    print(f"open event streams: {len(opened)} of {streams}; pollers: {pollers} ({sum(poll_counts)} polls)")
    print(f"errors: {len(errors)} {errors[:5]}")
    for name, values in (("idle", idle), ("loaded", loaded)):
        print(f"{name:>6}: n={len(values)} p50={statistics.median(values):.1f} ms p95={percentile(values, 0.95):.1f} ms "
              f"p99={percentile(values, 0.99):.1f} ms max={max(values):.1f} ms")
    print(f"loaded p99 / target (100 ms): {percentile(loaded, 0.99) / TARGET_P99_MS:.2f}; "
          f"loaded/idle p99: {percentile(loaded, 0.99) / percentile(idle, 0.99):.2f}; "
          f"machine load average (1 min) at the end: {load:.1f} on {os.cpu_count()} cores")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--streams", type=int, default=300)
    parser.add_argument("--pollers", type=int, default=60)
    parser.add_argument("--seconds", type=float, default=15.0)
    args = parser.parse_args()
    with OllamaFake() as ollama, tempfile.TemporaryDirectory() as tmp:
        ollama.mode, ollama.delay = "slow", 3600.0  # every run stays open for the whole benchmark
        env = {"OLLAMA_URL": ollama.url, "EVENT_STREAMS_PER_CLIENT": str(args.streams + 10),
               **{role: "ollama/llama3.2:latest" for role in LLM_ROLES}}
        server = ServerProcess(Path(tmp) / "exports", env).start()
        try:
            asyncio.run(scenario(server.url, args.streams, args.pollers, args.seconds))
        finally:
            server.kill()


if __name__ == "__main__":
    main()

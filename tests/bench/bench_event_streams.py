"""Light-request latency of the production server while a class waits on live events.

Starts the real server process (uvicorn + async gateway) with its language model roles pointed at a
fake Ollama that holds every call, so the runs stay `running`/`queued` and every event stream stays
open. A teacher opens a workshop session and the pollers and the probing student join it with the
code (tests/bench/classroom.py), so each of their requests resolves a student pass as in a classroom.
Phase 1 measures a light GET (the probing student's run status) on an idle server; phase 2 the same
while `--streams` event streams are open and `--pollers` joined students poll their own run's status
once a second.
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
from dataclasses import dataclass, field
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.bench.classroom import add_teacher, join_class, open_session  # noqa: E402
from tests.bench.figures import Figure  # noqa: E402
from tests.fakes.ollama_fake import OllamaFake  # noqa: E402
from tests.server_process import LLM_ROLES, ServerProcess  # noqa: E402

RUNS = 10
TARGET_P99_MS = 100.0


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def probe(base: str, path: str, seconds: float, cookies: dict[str, str]) -> tuple[list[float], list[str]]:
    """GET `path` with `cookies` 20 times a second for `seconds` (in a process of its own); return latencies in
    ms, errors."""
    latencies, errors, end = [], [], time.monotonic() + seconds
    with httpx.Client(base_url=base, timeout=60, cookies=cookies) as client:
        while time.monotonic() < end:
            start = time.perf_counter()
            r = client.get(path)
            latencies.append((time.perf_counter() - start) * 1000)
            if r.status_code != 200:
                errors.append(f"{path}: {r.status_code}")
            time.sleep(0.05)
    return latencies, errors


async def measure(base: str, path: str, seconds: float, cookies: dict[str, str], errors: list[str]) -> list[float]:
    """Run `probe` in a separate process while this loop goes on serving the streams and pollers."""
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        latencies, failed = await asyncio.get_running_loop().run_in_executor(
            None, pool.apply, probe, (base, path, seconds, cookies))
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


async def start_run(client: httpx.AsyncClient, n: int) -> str:
    body = {"schema": "dada", "input_text": f"ein Boot Nummer {n}", "lang": "de"}
    r = await client.post("/api/schema/pipeline/stage2", json=body)
    r.raise_for_status()
    return r.json()["run_id"]


@dataclass
class Result:
    """What one benchmark run saw."""

    streams: int
    pollers: int
    opened: int = 0
    polls: int = 0
    idle: list[float] = field(default_factory=list)
    loaded: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    load: float = float("nan")

    def print(self) -> None:
        print(f"open event streams: {self.opened} of {self.streams}; pollers: {self.pollers} ({self.polls} polls)")
        print(f"errors: {len(self.errors)} {self.errors[:5]}")
        for name, values in (("idle", self.idle), ("loaded", self.loaded)):
            print(f"{name:>6}: n={len(values)} p50={statistics.median(values):.1f} ms "
                  f"p95={percentile(values, 0.95):.1f} ms p99={percentile(values, 0.99):.1f} ms max={max(values):.1f} ms")
        print(f"loaded p99 / target (100 ms): {percentile(self.loaded, 0.99) / TARGET_P99_MS:.2f}; "
              f"loaded/idle p99: {percentile(self.loaded, 0.99) / percentile(self.idle, 0.99):.2f}; "
              f"machine load average (1 min) at the end: {self.load:.1f} on {os.cpu_count()} cores")


async def scenario(base: str, streams: int, pollers: int, seconds: float) -> Result:
    # separate clients: httpx's pool gets slow with hundreds of connections, and starting the runs must not queue
    # behind the streams inside the measuring process itself. The streams are the loopback person's (one device
    # holding many; a stream costs the same whoever opened it); the pollers and the probe are joined students.
    result = Result(streams, pollers)
    many = httpx.Limits(max_connections=streams + 10, max_keepalive_connections=streams + 10)
    students = await join_class(base, await open_session(base, runs_per_minute=60), pollers + 1)
    prober, poll_clients = students[0], students[1:]
    async with httpx.AsyncClient(base_url=base, timeout=60) as start_client, \
            httpx.AsyncClient(base_url=base, timeout=60, limits=many) as stream_client:
        runs = [await start_run(start_client, i) for i in range(RUNS)]
        own_runs = [await start_run(client, n) for n, client in enumerate(students)]
        probe_path, probe_cookies = f"/api/pipeline/{own_runs[0]}/status", dict(prober.cookies)
        errors = result.errors
        result.idle = await measure(base, probe_path, seconds, probe_cookies, errors)

        stop, opened = asyncio.Event(), []
        holders = [asyncio.create_task(hold_stream(stream_client, f"/api/pipeline/{runs[i % RUNS]}/events", opened,
                                                   stop, errors)) for i in range(streams)]
        while len(opened) + len(errors) < streams:
            await asyncio.sleep(0.05)
        polls = [asyncio.create_task(poller(client, f"/api/pipeline/{run}/status", stop, errors, i / max(1, pollers)))
                 for i, (client, run) in enumerate(zip(poll_clients, own_runs[1:]))]
        result.loaded = await measure(base, probe_path, seconds, probe_cookies, errors)
        result.load = os.getloadavg()[0]
        stop.set()
        for task in holders:
            task.cancel()
        result.polls, result.opened = sum(await asyncio.gather(*polls)), len(opened)
    for client in students:
        await client.aclose()
    return result


def run_bench(streams: int, pollers: int, seconds: float) -> Result:
    """Start a fake Ollama that holds every call and the production server; run the scenario; stop both."""
    with OllamaFake() as ollama, tempfile.TemporaryDirectory() as tmp:
        ollama.mode, ollama.delay = "slow", 3600.0  # every run stays open for the whole benchmark
        env = {"OLLAMA_URL": ollama.url, "EVENT_STREAMS_PER_CLIENT": str(streams + 10),
               "JOIN_RATE_LIMIT": "1000 per minute",
               **{role: "ollama/llama3.2:latest" for role in LLM_ROLES}}
        server = ServerProcess(Path(tmp) / "exports", env)
        add_teacher(server)
        server.start()
        try:
            return asyncio.run(scenario(server.url, streams, pollers, seconds))
        finally:
            server.kill()


def figures(quick: bool = False) -> list[Figure]:
    """Return the light-GET p99 with 300 open streams + 60 polling students (quick: 100 + 20, 5 s)."""
    streams, pollers, seconds = (100, 20, 5.0) if quick else (300, 60, 15.0)
    result = run_bench(streams, pollers, seconds)
    p99 = percentile(result.loaded, 0.99)
    note = (f"{result.opened} of {streams} streams open, {pollers} joined students polling, {len(result.errors)} "
            f"errors; p50 {statistics.median(result.loaded):.1f} ms; idle p99 {percentile(result.idle, 0.99):.1f} ms")
    if result.errors or result.opened < streams:
        note += f" — **failed**: {result.errors[:3]}"
        p99 = float("inf")
    return [Figure(f"light GET p99, {streams} open event streams + {pollers} polling students", p99, "ms",
                   TARGET_P99_MS, False, note)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--streams", type=int, default=300)
    parser.add_argument("--pollers", type=int, default=60)
    parser.add_argument("--seconds", type=float, default=15.0)
    args = parser.parse_args()
    run_bench(args.streams, args.pollers, args.seconds).print()


if __name__ == "__main__":
    main()

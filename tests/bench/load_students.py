"""Load test: a class of students working against the production server process, on loopback only.

A teacher opens a workshop session and every simulated student joins it with the code, in a client of
their own (tests/bench/classroom.py), so each request resolves a student pass as in a classroom. Each
student loops for the whole duration: start a run (stage2), poll its status once a second until it
ends, read its entities, start the next. The model roles point at a fake Ollama that answers after
`--model-delay` seconds (a GPU shared by the class). Every answer that is not the expected one counts
as an error; a 429 (the bounded run queue, or the session's runs per minute) is expected back-pressure
and is counted apart by its code. Prints errors, request counts, the status latency p50/p95/p99, its ratio to the light-request
target (p99 < 100 ms) and the machine's load average before and after (the latencies mean little without it).

Full run (issue 12): `.venv/bin/python tests/bench/load_students.py --students 60 --seconds 120`.
The suite runs a shortened version (tests/integration/test_load.py).
"""
from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.bench.classroom import add_teacher, join_class, open_session  # noqa: E402
from tests.fakes.ollama_fake import OllamaFake  # noqa: E402
from tests.server_process import LLM_ROLES, ServerProcess  # noqa: E402
from tests.waiting import run_coroutine  # noqa: E402

TERMINAL = {"succeeded", "blocked", "failed", "cancelled", "interrupted"}
TARGET_P99_MS = 100.0


@dataclass
class Report:
    """What the students saw."""

    status_ms: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    requests: int = 0
    runs_finished: int = 0
    busy: Counter[str] = field(default_factory=Counter)  # 429 answers by error code
    load_before: float = field(default_factory=lambda: os.getloadavg()[0])

    def percentile(self, q: float) -> float:
        ordered = sorted(self.status_ms)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")

    def print(self, students: int, seconds: float) -> None:
        pushed_back = ", ".join(f"{n} x {code}" for code, n in self.busy.most_common()) or "none"
        print(f"{students} students for {seconds:.0f} s: {self.requests} requests, {self.runs_finished} runs finished, "
              f"429 (retried after Retry-After): {pushed_back}")
        print(f"errors: {len(self.errors)} {self.errors[:5]}")
        if self.status_ms:
            print(f"status: n={len(self.status_ms)} p50={statistics.median(self.status_ms):.1f} ms "
                  f"p95={self.percentile(0.95):.1f} ms p99={self.percentile(0.99):.1f} ms "
                  f"max={max(self.status_ms):.1f} ms; p99 / target ({TARGET_P99_MS:.0f} ms): "
                  f"{self.percentile(0.99) / TARGET_P99_MS:.2f}")
        print(f"machine load average (1 min): {self.load_before:.1f} before, {os.getloadavg()[0]:.1f} after, "
              f"on {os.cpu_count()} cores")


async def student(client: httpx.AsyncClient, n: int, end: float, report: Report) -> None:
    """One student's loop: start a run, poll it to the end, read its entities, again."""
    await asyncio.sleep(n * 0.05)  # a class does not press the button in the same millisecond
    round_no = 0
    while time.monotonic() < end:
        round_no += 1
        try:
            r = await client.post("/api/schema/pipeline/stage2",
                                  json={"schema": "dada", "input_text": f"Idee {n} {round_no}", "lang": "de"})
            report.requests += 1
            if r.status_code == 429:
                report.busy[r.json()["error"]["code"]] += 1
                await asyncio.sleep(float(r.headers.get("Retry-After", "1")))
                continue
            if r.status_code != 202:
                report.errors.append(f"start {r.status_code}")
                continue
            run_id, status = r.json()["run_id"], "queued"
            while status not in TERMINAL and time.monotonic() < end:
                await asyncio.sleep(1.0)
                start = time.perf_counter()
                s = await client.get(f"/api/pipeline/{run_id}/status")
                report.status_ms.append((time.perf_counter() - start) * 1000)
                report.requests += 1
                if s.status_code != 200:
                    report.errors.append(f"status {s.status_code}")
                    break
                status = s.json()["status"]
            if status in TERMINAL:
                report.runs_finished += 1
                e = await client.get(f"/api/pipeline/{run_id}/entities")
                report.requests += 1
                if e.status_code != 200:
                    report.errors.append(f"entities {e.status_code}")
        except httpx.HTTPError as exc:
            report.errors.append(f"{type(exc).__name__}")


async def run_load(base: str, students: int, seconds: float) -> Report:
    """Open a session, let the class join, run it against `base` for `seconds`; return the report."""
    clients = await join_class(base, await open_session(base), students)
    report, end = Report(), time.monotonic() + seconds
    try:
        await asyncio.gather(*(student(client, n, end, report) for n, client in enumerate(clients)))
    finally:
        for client in clients:
            await client.aclose()
    return report


def load_against_server(students: int, seconds: float, model_delay: float, workdir: Path) -> Report:
    """Start a fake Ollama and the production server process, run the load, stop both."""
    with OllamaFake() as ollama:
        ollama.mode, ollama.delay = "slow", model_delay
        env = {"OLLAMA_URL": ollama.url, "JOIN_RATE_LIMIT": "1000 per minute",
               **{role: "ollama/llama3.2:latest" for role in LLM_ROLES}}
        server = ServerProcess(workdir / "exports", env)
        add_teacher(server)
        server.start()
        try:
            return run_coroutine(run_load(server.url, students, seconds))
        finally:
            server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--students", type=int, default=60)
    parser.add_argument("--seconds", type=float, default=120.0)
    parser.add_argument("--model-delay", type=float, default=0.5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        load_against_server(args.students, args.seconds, args.model_delay, Path(tmp)).print(args.students, args.seconds)


if __name__ == "__main__":
    main()

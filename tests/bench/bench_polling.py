"""Status polling: `GET /api/pipeline/<id>/status` next to a trivial JSON endpoint, on the same server.

30 runs are recorded as active (status running, written the way the orchestrator writes them); 16
client threads poll their statuses over real loopback HTTP, then poll an unknown path under /api (a
one-line 404 JSON envelope: routing, error handler, JSON — the least the server can do). Target:
status throughput at least 0.8× the trivial endpoint's. Also prints the p99 latency of each.
Run: `.venv/bin/python tests/bench/bench_polling.py [--quick]`.
"""
from __future__ import annotations

import logging
import statistics
import sys
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
from werkzeug.serving import make_server

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from devserver.app import create_app, shutdown  # noqa: E402
from tests.bench.figures import Figure, cli  # noqa: E402

CLIENTS = 16
RUNS = 30


def record_active_runs(app, count: int) -> list[str]:
    """Record `count` runs in progress through the recorder (as the orchestrator does)."""
    recorder, ids = app.extensions["devserver.recorder"], []
    for n in range(count):
        run = recorder.open_run(str(uuid.uuid4()), {"schema": "dada", "input_text": f"Ein Fuchs Nummer {n}",
                                                    "safety_level": "youth", "lang": "de", "status": "running"})
        run.event("pipeline_start", stage="stage1", content="Ein Fuchs")
        run.update(status="running", stage="stage2", step="interception")
        ids.append(run.run_id)
    return ids


def hammer(base: str, paths: list[str], requests: int) -> tuple[float, float]:
    """Send `requests` GETs from CLIENTS threads; return (requests/s, p99 ms)."""
    latencies: list[float] = []
    lock = threading.Lock()

    def worker(offset: int) -> None:
        with httpx.Client(base_url=base) as client:
            mine = []
            for i in range(requests // CLIENTS):
                started = time.perf_counter()
                client.get(paths[(offset + i) % len(paths)])
                mine.append((time.perf_counter() - started) * 1000)
            with lock:
                latencies.extend(mine)

    started = time.perf_counter()
    with ThreadPoolExecutor(CLIENTS) as pool:
        list(pool.map(worker, range(CLIENTS)))
    elapsed = time.perf_counter() - started
    return len(latencies) / elapsed, statistics.quantiles(latencies, n=100)[98]


def figures(quick: bool = False) -> list[Figure]:
    """Return the polling figure: status throughput as a ratio to the trivial endpoint's."""
    requests = 640 if quick else 3200
    for noisy in ("werkzeug", "httpx"):  # one log line per request would be most of the measured work
        logging.getLogger(noisy).setLevel(logging.WARNING)
    with tempfile.TemporaryDirectory() as tmp:
        app = create_app({"TESTING": True, "EXPORTS_DIR": Path(tmp)})
        server = make_server("127.0.0.1", 0, app, threaded=True)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            base = f"http://127.0.0.1:{server.server_port}"
            ids = record_active_runs(app, RUNS)
            statuses = [f"/api/pipeline/{run_id}/status" for run_id in ids]
            assert httpx.get(base + statuses[0]).json()["status"] == "running"
            hammer(base, statuses, CLIENTS * 4)  # warm-up
            trivial_rate, trivial_p99 = hammer(base, ["/api/no-such-endpoint"], requests)
            status_rate, status_p99 = hammer(base, statuses, requests)
        finally:
            server.shutdown()
            thread.join(timeout=5)
            shutdown(app)
    note = (f"status {status_rate:.0f}/s p99 {status_p99:.1f} ms; trivial {trivial_rate:.0f}/s "
            f"p99 {trivial_p99:.1f} ms; {CLIENTS} clients, {RUNS} active runs")
    return [Figure("status poll throughput vs trivial endpoint", status_rate / trivial_rate, "×", 0.8, True, note)]



if __name__ == "__main__":
    cli(figures, __doc__)

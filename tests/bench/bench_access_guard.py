"""What the access guard adds to a request: status polls of one run, with and without the guard.

A class of 30 students polls `/api/pipeline/<run_id>/status` while runs are working, so the guard's
cost per request (Host/Origin checks, resolving the caller from a cookie, the run's owner, the
policy rule) is paid most there. Prints the median CPU time per request for each kind of caller and
the ratio to the same request with the guard removed.

    .venv/bin/python tests/bench/bench_access_guard.py [--requests 2000]
"""
from __future__ import annotations

import argparse
import logging
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from devserver.app import create_app, shutdown
from tests.conftest import TEST_PASSWORD, CsrfClient, add_user


def interleaved(app, client, url: str, count: int) -> tuple[float, float]:
    """Return the median CPU milliseconds of GET `url` with and without the guard, alternating request
    by request (the machine's load changes by the second; alternating keeps both sides comparable)."""
    hooks = app.before_request_funcs[None]
    guard = next(hook for hook in hooks if hook.__name__ == "_guard")  # the access guard
    position = hooks.index(guard)
    with_guard, without = [], []
    for n in range(2 * count):
        if n % 2:
            hooks.remove(guard)
        started = time.process_time()  # CPU time: on a shared, loaded machine wall time mostly measures others
        response = client.get(url)
        (without if n % 2 else with_guard).append((time.process_time() - started) * 1000)
        if n % 2:
            hooks.insert(position, guard)
        assert response.status_code == 200, response.get_json()
    return statistics.median(with_guard), statistics.median(without)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=2000)
    count = parser.parse_args().requests
    logging.disable(logging.WARNING)
    with tempfile.TemporaryDirectory() as tmp:
        app = create_app({"TESTING": True, "EXPORTS_DIR": Path(tmp), "HOST": "192.0.2.10"})
        app.test_client_class = CsrfClient
        add_user(app, "teacher", "tina")
        teacher = app.test_client()
        teacher.post("/api/auth/login", json={"name": "tina", "password": TEST_PASSWORD})
        code = teacher.post("/api/sessions", json={"title": "bench", "safety_level": "kids"}).get_json()["code"]
        student = app.test_client()
        pseudonym = student.post("/api/sessions/join", json={"code": code}).get_json()["student"]
        session = app.extensions["devserver.access"].workshops.by_code(code).id
        run = app.extensions["devserver.recorder"].open_run(str(uuid.uuid4()), {
            "schema": "dada", "input_text": "bench", "session": session, "student": pseudonym, "status": "succeeded"})
        url = f"/api/pipeline/{run.run_id}/status"

        results = {"student (pass cookie)": interleaved(app, student, url, count),
                   "teacher (login cookie)": interleaved(app, teacher, url, count)}
        shutdown(app)
    print(f"GET run status, {count} requests each way, alternating, median CPU time per request:")
    for who, (on, off) in results.items():
        print(f"  {who}: {on:.3f} ms with the guard, {off:.3f} ms without (+{on - off:.3f} ms, {on / off:.2f}x)")


if __name__ == "__main__":
    main()

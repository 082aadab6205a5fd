"""Offline flow: wall time of one full student flow on the embedded defaults, from a cold start.

A fresh app (nothing loaded) runs a German idea through Stage 1 and 2 (`stage2`: model load, input
check, translation kept on the demo model, interception) and then `generation` of the offline sketch
(its optimization passes through: the sketch has no optimization instruction; Stage 3; the picture). Target: 60 s on a free 2-core
machine (a student waits about a minute at most). Full mode only: `--quick` reports it as not run.
Run: `LOCAL_THREADS=1 .venv/bin/python tests/bench/bench_offline_flow.py`.
"""
from __future__ import annotations

import logging
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from devserver.app import create_app, shutdown  # noqa: E402
from tests.bench.figures import Figure, cli  # noqa: E402

TARGET_S = 60.0


def figures(quick: bool = False) -> list[Figure]:
    """Return the cold-start flow's wall time (raises in quick mode: it takes minutes on a busy machine)."""
    if quick:
        raise RuntimeError("full mode only (a cold start of the embedded model takes minutes on a busy machine)")
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        app = create_app({"TESTING": True, "EXPORTS_DIR": Path(tmp)})
        try:
            client = app.test_client()
            run = client.post("/api/schema/pipeline/stage2?wait=600", json={
                "schema": "bauhaus", "input_text": "Ein Fuchs im Schnee unter dem Vollmond", "lang": "de"}).get_json()
            gen = client.post("/api/schema/pipeline/generation?wait=600", json={
                "run_id": run["run_id"], "output_configs": ["sketch_offline"], "lang": "de"}).get_json()
        finally:
            shutdown(app)
    seconds = time.perf_counter() - started
    return [Figure("offline flow from a cold start", seconds, "s", TARGET_S, False,
                   f"stage2 {run['status']}, generation {gen['status']}; embedded model, offline sketch")]


if __name__ == "__main__":
    cli(figures, __doc__)

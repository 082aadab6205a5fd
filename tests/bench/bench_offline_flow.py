"""Offline flow: wall time of one full student flow on the embedded defaults, from a cold start.

A fresh app (nothing loaded) runs a German idea through Stage 1 and 2 (`stage2`: model load, input
check, translation kept on the demo model, interception and the safety check's back-translation of a
German interception) and then `generation` of the offline sketch (its optimization passes through: the
sketch has no optimization instruction; Stage 3; the picture). The note splits the time: app start,
the model calls as the run record states them, the rest. Target: 60 s on a free 2-core machine (a
student waits about a minute at most). Full mode only: `--quick` reports it as not run.
Run: `.venv/bin/python tests/bench/bench_offline_flow.py`.
"""
from __future__ import annotations

import json
import logging
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from devserver.app import create_app, shutdown  # noqa: E402
from tests.bench.figures import Figure, cli  # noqa: E402

TARGET_S = 60.0


def model_seconds(exports: Path) -> Counter[str]:
    """Sum the model time the run record states, per item (checkpoint names a back-translation), retries apart."""
    spent: Counter[str] = Counter()
    for log in exports.rglob("events.jsonl"):
        for line in log.read_text(encoding="utf-8").splitlines():
            item = json.loads(line)
            meta = item.get("metadata") or {}
            if meta.get("duration_ms") and meta.get("model_used"):
                name = meta.get("checkpoint") or item["item_type"]
                spent[name] += meta["duration_ms"] / 1000
                if meta.get("quality", {}).get("retried"):  # the rejected first attempt cost time too
                    spent[f"{name} (rejected first answer)"] += meta["quality"].get("first_duration_ms", 0) / 1000
    return spent


def figures(quick: bool = False) -> list[Figure]:
    """Return the cold-start flow's wall time (raises in quick mode: it takes minutes on a busy machine)."""
    if quick:
        raise RuntimeError("full mode only (a cold start of the embedded model takes minutes on a busy machine)")
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        app = create_app({"TESTING": True, "EXPORTS_DIR": Path(tmp)})
        ready = time.perf_counter() - started
        try:
            client = app.test_client()
            run = client.post("/api/schema/pipeline/stage2?wait=600", json={
                "schema": "bauhaus", "input_text": "Ein Fuchs im Schnee unter dem Vollmond", "lang": "de"}).get_json()
            gen = client.post("/api/schema/pipeline/generation?wait=600", json={
                "run_id": run["run_id"], "output_configs": ["sketch_offline"], "lang": "de"}).get_json()
            threads = app.extensions["devserver.config"].LOCAL_THREADS
        finally:
            shutdown(app)
        seconds = time.perf_counter() - started
        spent = model_seconds(Path(tmp))
    calls = ", ".join(f"{name} {s:.1f} s" for name, s in spent.most_common())
    return [Figure("offline flow from a cold start", seconds, "s", TARGET_S, False,
                   f"stage2 {run['status']}, generation {gen['status']}; app start {ready:.1f} s, model calls: "
                   f"{calls or 'none'}; rest {seconds - ready - sum(spent.values()):.1f} s; "
                   f"embedded model, {threads} thread(s), offline sketch")]


if __name__ == "__main__":
    cli(figures, __doc__)

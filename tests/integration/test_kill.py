"""SIGKILL the production server mid-run, again and again: records stay whole, runs end `interrupted`.

Each round starts the real server process (`python -m devserver.server`) on the same exports folder,
starts runs (their model calls trickle through a fake Ollama, so they are mid-way when the kill comes),
waits until one of them is running and has written events, and kills the process with SIGKILL. After
the last round a fresh start must find every run, with parseable records, no torn lines, no run left
queued/running, and an index that agrees with the folders.

The suite runs a few rounds; the full proof is `KILL_ROUNDS=20 .venv/bin/python -m pytest
tests/integration/test_kill.py` (see docs/RELIABILITY.md).
"""
from __future__ import annotations

import json
import os

import httpx
import pytest

from devserver.recorder.index import RunIndex
from tests.fakes.ollama_fake import OllamaFake
from tests.waiting import until
from tests.server_process import LLM_ROLES, ServerProcess

ROUNDS = int(os.environ.get("KILL_ROUNDS", "3"))
RUNS_PER_ROUND = 3
TERMINAL = {"succeeded", "blocked", "failed", "cancelled", "interrupted"}


@pytest.fixture
def trickling_model():
    """A model that answers a piece every 50 ms and never finishes: runs stay mid-way."""
    with OllamaFake() as fake:
        fake.mode, fake.trickle_interval = "trickle", 0.05
        yield fake


@pytest.mark.timeout(120 + 60 * ROUNDS)  # each round starts a whole server process
def test_repeated_sigkill_leaves_every_record_whole(tmp_path, trickling_model):
    exports = tmp_path / "exports"
    env = {"OLLAMA_URL": trickling_model.url, **{role: "ollama/llama3.2:latest" for role in LLM_ROLES}}
    started: list[str] = []
    for round_no in range(ROUNDS):
        server = ServerProcess(exports, env).start()
        try:
            ids = [httpx.post(f"{server.url}/api/schema/pipeline/stage2", timeout=30, json={
                "schema": "dada", "input_text": f"ein Schiff {round_no}-{i}", "lang": "de"}).json()["run_id"]
                for i in range(RUNS_PER_ROUND)]
            started += ids
            until(lambda: httpx.get(f"{server.url}/api/pipeline/{ids[0]}/status").json()["status"] == "running",
                  "a run is mid-way")
        finally:
            server.kill()

    server = ServerProcess(exports, env).start()
    try:
        for run_id in started:
            r = httpx.get(f"{server.url}/api/pipeline/{run_id}/status")
            assert r.status_code == 200, run_id  # never a 404 for an accepted run
            assert r.json()["status"] in TERMINAL, r.json()["status"]
    finally:
        server.kill()

    folders = sorted((exports / "pipeline_runs").iterdir())
    assert sorted(f.name for f in folders) == sorted(started)
    statuses = {}
    for folder in folders:
        meta = json.loads((folder / "metadata.json").read_text(encoding="utf-8"))
        statuses[folder.name] = meta["status"]
        raw = (folder / "events.jsonl").read_bytes()
        assert raw.endswith(b"\n"), f"torn last line in {folder.name}"
        items = [json.loads(line) for line in raw.splitlines()]
        assert [i["sequence"] for i in items] == list(range(1, len(items) + 1))
    assert set(statuses.values()) <= TERMINAL
    assert "interrupted" in statuses.values()
    index = RunIndex(exports / "index.sqlite")  # read directly: the list route is for logged-in teachers
    listed = index.list(limit=500)
    index.close()
    assert listed["total"] == len(started)
    assert {r["run_id"]: r["status"] for r in listed["runs"]} == statuses

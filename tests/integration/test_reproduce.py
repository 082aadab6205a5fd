"""A run record holds everything needed to repeat its calls: `reproduce` re-sends them and compares."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from devserver.recorder.items import read_items
from devserver.recorder.reproduce import reproduce
from tests.fakes.ollama_fake import OllamaFake
from tests.waiting import phase_done

ROOT = Path(__file__).resolve().parents[2]


def _execute(client, text: str) -> dict:
    body = phase_done(client, "/api/schema/pipeline/execute", json={
        "schema": "dada", "input_text": text, "output_configs": ["sketch_offline"]}).get_json()
    assert body["status"] in ("succeeded", "blocked"), body
    return body


@pytest.mark.slow
def test_an_embedded_model_run_with_a_fixed_seed_reproduces_identically(make_app, tmp_path):
    exports = tmp_path / "exports"
    app = make_app(EXPORTS_DIR=exports, LLM_SEED=1234, LOCAL_THREADS=1)
    run = _execute(app.test_client(), "A fox in the snow under the full moon")
    env = {**os.environ, "EXPORTS_DIR": str(exports), "LLM_SEED": "1234", "LOCAL_THREADS": "1"}
    done = subprocess.run([sys.executable, "-m", "devserver.recorder", "reproduce", run["run_id"], "--json"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    steps = json.loads(done.stdout)
    # the interception at least (the demo model translates nothing: English passes as it is)
    assert [s["kind"] for s in steps].count("chat") >= 1, steps
    assert {s["outcome"] for s in steps} == {"identical"}, steps
    if run["status"] == "succeeded":
        assert [s for s in steps if s["kind"] == "media"], steps  # the sketch, byte for byte
    assert done.returncode == 0, done.stderr[-2000:]


def test_a_changed_answer_is_reported_per_step(make_app):
    with OllamaFake(models=("writer:latest",)) as ollama:
        roles = {"TRANSLATION_MODEL": "ollama/writer:latest", "STAGE2_INTERCEPTION_MODEL": "ollama/writer:latest",
                 "STAGE2_OPTIMIZATION_MODEL": "ollama/writer:latest"}
        app = make_app(OLLAMA_URL=ollama.url, MODEL_ROLE_MAP=roles, RETRY_ATTEMPTS=1)
        run = _execute(app.test_client(), "Ein Hund im Park")
        recorder, router = app.extensions["devserver.recorder"], app.extensions["devserver.router"]
        events = recorder.events(run["run_id"])
        same = reproduce(events, router.chat_model, None)
        assert same and {s.outcome for s in same} == {"identical"}
        recorded = [e for e in events if (e["metadata"] or {}).get("chat_request")]
        assert all(e["metadata"]["chat_request"]["messages"] for e in recorded)
        ollama.answer = "A completely different picture of a lighthouse."
        changed = reproduce(events, router.chat_model, None)
        assert {s.outcome for s in changed} == {"different"} and "lighthouse" in changed[0].detail
        ollama.mode = "server_error"
        failed = reproduce(events, router.chat_model, None)
        assert {s.outcome for s in failed} == {"failed"}


def test_the_command_refuses_an_unknown_run(tmp_path):
    env = {**os.environ, "EXPORTS_DIR": str(tmp_path)}
    done = subprocess.run([sys.executable, "-m", "devserver.recorder", "reproduce", "../etc"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and "no recorded run" in done.stderr
    assert read_items(tmp_path / "missing.jsonl") == []

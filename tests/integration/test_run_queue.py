"""The run queue is bounded: waiting runs show their place, a full line is a 429, a restart keeps them."""
from __future__ import annotations

from typing import Any

import pytest

from devserver.app import create_app, shutdown
from tests.fakes.ollama_fake import OllamaFake
from tests.waiting import until

MODEL = "ollama/llama3.2:latest"


@pytest.fixture
def held_model():
    """An Ollama that holds every chat call until the test ends: the one run worker stays busy."""
    with OllamaFake() as fake:
        fake.mode, fake.delay = "slow", 600.0
        yield fake


def test_waiting_runs_show_their_place_and_a_full_line_is_a_429(make_app, held_model, tmp_path):
    roles = {role: MODEL for role in ("STAGE1_MODEL", "TRANSLATION_MODEL", "STAGE2_INTERCEPTION_MODEL",
                                      "SAFETY_VERIFY_MODEL")}
    exports = tmp_path / "exports"
    app = make_app(EXPORTS_DIR=exports, OLLAMA_URL=held_model.url, MODEL_ROLE_MAP=roles, RUN_WORKERS=1,
                   RUN_QUEUE_MAX=2, RETRY_ATTEMPTS=1)
    client = app.test_client()

    def start(text: str) -> Any:
        return client.post("/api/schema/pipeline/stage2", json={"schema": "dada", "input_text": text, "lang": "de"})

    def status(run_id: str) -> dict[str, Any]:
        return client.get(f"/api/pipeline/{run_id}/status").get_json()

    first = start("ein roter Apfel").get_json()["run_id"]
    until(lambda: status(first)["status"] == "running", "the first run holds the only worker")
    second, third = start("eine Wolke").get_json()["run_id"], start("ein Boot").get_json()["run_id"]
    assert (status(second)["status"], status(second)["queue_position"]) == ("queued", 1)
    assert (status(third)["status"], status(third)["queue_position"]) == ("queued", 2)

    full = start("ein Haus")
    assert full.status_code == 429 and full.get_json()["error"]["code"] == "queue_full"
    assert int(full.headers["Retry-After"]) > 0

    # a restart (a second server process on the same folder) finds the queued runs, as interrupted
    restarted = create_app({"TESTING": True, "EXPORTS_DIR": exports})
    try:
        again = restarted.test_client()
        for run_id in (second, third):
            r = again.get(f"/api/pipeline/{run_id}/status")
            assert r.status_code == 200 and r.get_json()["status"] == "interrupted"
    finally:
        shutdown(restarted)

    client.post(f"/api/pipeline/{second}/cancel")  # leaving the line moves everyone behind up
    until(lambda: status(third)["queue_position"] == 1, "the third run moves up to place 1")

"""RunState under contention: run workers change it while request threads read status and events."""
from __future__ import annotations

import json
import sys
import threading
import uuid

import pytest

from devserver.engine.context import PhaseContext
from devserver.engine.run_state import RunState
from devserver.recorder import LivePipelineRecorder

WRITERS, READERS, ROUNDS = 25, 25, 12


@pytest.fixture
def tiny_switch_interval():
    """Switch threads every microsecond so that unlocked iteration races actually happen."""
    before = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    yield
    sys.setswitchinterval(before)


def test_fifty_threads_mutate_and_read_one_run_without_errors(tmp_path, tiny_switch_interval):
    """25 writers go through the phase paths, 25 readers build status and event lists: no exception."""
    run_id = str(uuid.uuid4())
    state = RunState(run_id=run_id, schema="dada", safety_level="kids", lang="de", input_text="x")
    record = LivePipelineRecorder(tmp_path, fsync=False).open_run(run_id, state.status_dict())
    ctx = PhaseContext(state=state, record=record, services=None)
    errors: list[str] = []
    done = threading.Event()

    def writer(n: int) -> None:
        try:
            for i in range(ROUNDS):
                state.set_optimization(f"out{n}_{i}", status="running", result=None)
                state.add_iteration(i, "en", f"text {n}", ROUNDS)
                out, = state.start_generation([(f"out{n}_{i}", "image")])
                ctx.emit("optimization_result", content="t", metadata={"backend": "b", "model_used": f"m{n}_{i}"})
                state.update_output(out, status="succeeded", url=f"/api/media/image/{run_id}/{out.index}")
                state.set_optimization(f"out{n}_{i}", status="succeeded", result="t")
        except Exception as exc:  # pragma: no cover - what the test is looking for
            errors.append(repr(exc))

    def reader() -> None:
        try:
            while not done.is_set():
                status = state.status_dict()
                json.dumps(status)
                state.items_after(0)
                for out in status["outputs"]:
                    assert out["status"] != "succeeded" or out["url"], "an output seen half-updated"
        except Exception as exc:  # pragma: no cover
            errors.append(repr(exc))

    readers = [threading.Thread(target=reader) for _ in range(READERS)]
    writers = [threading.Thread(target=writer, args=(n,)) for n in range(WRITERS)]
    for thread in readers + writers:
        thread.start()
    for thread in writers:
        thread.join()
    done.set()
    for thread in readers:
        thread.join()

    assert errors == []
    status = state.status_dict()
    assert len(status["outputs"]) == WRITERS * ROUNDS
    assert sorted(o["index"] for o in status["outputs"]) == list(range(WRITERS * ROUNDS))
    assert len(status["models"]) == WRITERS * ROUNDS
    assert all(o["status"] == "succeeded" for o in status["optimizations"].values())
    assert len(state.items_after(0)) == WRITERS * ROUNDS
    assert state.record_fields()["generation_count"] == WRITERS * ROUNDS

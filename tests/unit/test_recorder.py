"""The recorder writes complete, numbered, crash-safe run folders and never breaks a run."""
from __future__ import annotations

import json
import logging
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import uuid
from datetime import datetime
from pathlib import Path

import pytest

from devserver.errors import NotFound, ValidationFailed
from devserver.recorder import LivePipelineRecorder, RunIndex, require_run_id, valid_run_id
from devserver.recorder.items import read_items

ROOT = Path(__file__).resolve().parents[2]
ITEM_FIELDS = {"sequence", "timestamp", "stage", "stage_iteration", "loop_iteration", "item_type", "media_type",
               "content", "file", "metadata"}


@pytest.fixture
def recorder(tmp_path):
    rec = LivePipelineRecorder(tmp_path, fsync=False)
    yield rec
    rec.close()


def new_id() -> str:
    return str(uuid.uuid4())


def lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_run_ids_are_validated_strictly():
    good = new_id()
    assert valid_run_id(good) and require_run_id(good) == good
    for bad in ("../etc", "..", good.upper(), good + "\n", good[:-1], "x" * 5000, "", None, 42):
        assert not valid_run_id(bad)
        with pytest.raises(ValidationFailed) as err:
            require_run_id(bad)
        assert err.value.code == "invalid_run_id"


def test_items_are_numbered_complete_and_on_disk(recorder):
    run = recorder.open_run(new_id(), {"schema": "dada", "input_text": "Ein Hund", "safety_level": "kids"})
    first = run.event("pipeline_start", stage="stage1", content="Ein Hund")
    run.event("translation_result", stage="stage1", content="A dog",
              metadata={"backend": "local", "model_used": "smollm2", "duration_ms": 12.5})
    for i in (1, 2, 3):
        run.event("interception_iteration", stage="stage2", stage_iteration=i, content=f"text {i}")
    run.event("output_image", stage="stage4", media_type="image", loop_iteration=1, file="04_output_image.png")

    on_disk = lines(run.folder / "events.jsonl")
    assert [i["sequence"] for i in on_disk] == [1, 2, 3, 4, 5, 6]
    assert on_disk == recorder.events(run.run_id)
    assert all(set(item) == ITEM_FIELDS for item in on_disk)
    assert datetime.fromisoformat(first["timestamp"]).utcoffset().total_seconds() == 0
    assert on_disk[3]["stage_iteration"] == 2 and on_disk[5]["file"] == "04_output_image.png"
    assert on_disk[1]["metadata"]["model_used"] == "smollm2"
    assert [i["sequence"] for i in recorder.events(run.run_id, after=4)] == [5, 6]


def test_programming_errors_are_refused(recorder):
    run = recorder.open_run(new_id(), {})
    with pytest.raises(ValueError):
        run.event("made_up_item")
    with pytest.raises(ValueError, match="model_used"):  # a field the documentation does not describe
        run.event("user_input_text", metadata={"lang": "de", "model_used": "x"})
    with pytest.raises(ValueError):
        run.update(status="done")
    with pytest.raises(ValueError):
        run.save_entity("../escape", "x")
    assert recorder.events(run.run_id) == []


def test_metadata_snapshot_merges_and_is_replaced_whole(recorder):
    run = recorder.open_run(new_id(), {"schema": "bauhaus", "lang": "de", "models": {"stage1": "local/a"}})
    run.update(status="running", models={"translation": "local/b"})
    snap = run.update(outputs=[{"index": 0, "output_config": "sd35", "media_type": "image", "status": "done"}])
    on_disk = json.loads((run.folder / "metadata.json").read_text(encoding="utf-8"))
    assert on_disk == snap == run.snapshot() == recorder.metadata(run.run_id)
    assert snap["models"] == {"stage1": "local/a", "translation": "local/b"}
    assert snap["status"] == "running" and snap["schema"] == "bauhaus" and snap["run_id"] == run.run_id
    assert snap["created_at"] <= snap["updated_at"]
    assert not [p for p in run.folder.iterdir() if p.name.endswith(".tmp")]


def test_entities_are_numbered_in_order(recorder):
    run = recorder.open_run(new_id(), {})
    names = [run.save_entity("input", "Ein Hund"), run.save_entity("translation", "A dog"),
             run.save_entity("output_image", b"\x89PNG\r\n\x1a\nfake", ext="png")]
    assert names == ["01_input.txt", "02_translation.txt", "03_output_image.png"]
    assert recorder.entities(run.run_id) == names
    assert recorder.entity_path(run.run_id, "01_input.txt").read_text(encoding="utf-8") == "Ein Hund"
    assert recorder.entity_path(run.run_id, names[2]).read_bytes().startswith(b"\x89PNG")
    for hostile in ("../metadata.json", "metadata.json", "01_input.txt/..", "/etc/passwd"):
        with pytest.raises(ValidationFailed):
            recorder.entity_path(run.run_id, hostile)
    with pytest.raises(NotFound):
        recorder.entity_path(run.run_id, "09_output_image.png")


def test_reopening_a_run_continues_sequence_and_numbering(recorder):
    run_id = new_id()
    run = recorder.open_run(run_id, {"phase": "stage2", "input_text": "Katze"})
    run.event("pipeline_start")
    run.event("interception_final", content="cat")
    run.save_entity("input", "Katze")
    assert recorder.open_run(run_id, {"phase": "stage2"}) is run  # still live: the same writer
    del run

    again = recorder.open_run(run_id, {"phase": "generation", "status": "running"})
    assert again.event("output_image", media_type="image")["sequence"] == 3
    assert again.save_entity("output_image", b"img", ext="png") == "02_output_image.png"
    assert again.snapshot()["phase"] == "generation" and again.snapshot()["input_text"] == "Katze"
    assert [i["sequence"] for i in read_items(again.folder / "events.jsonl")] == [1, 2, 3]


def test_torn_last_line_is_skipped_and_repaired(recorder):
    run_id = new_id()
    run = recorder.open_run(run_id, {})
    run.event("pipeline_start")
    run.event("user_input_text", content="Hallo")
    with open(run.folder / "events.jsonl", "ab") as handle:  # a crash in the middle of the third write
        handle.write(b'{"sequence": 3, "timestamp": "2024-05-0')
    del run

    assert [i["sequence"] for i in recorder.events(run_id)] == [1, 2]
    again = recorder.open_run(run_id, {})
    assert again.event("pipeline_complete")["sequence"] == 3
    assert [i["sequence"] for i in lines(again.folder / "events.jsonl")] == [1, 2, 3]  # every line parses


def test_leftover_temp_file_never_replaces_metadata(recorder):
    run_id = new_id()
    run = recorder.open_run(run_id, {"status": "running", "input_text": "Vulkan"})
    (run.folder / ".metadata.json.abc123.tmp").write_text('{"run_id": "half', encoding="utf-8")
    del run
    assert recorder.metadata(run_id)["input_text"] == "Vulkan"
    again = recorder.open_run(run_id, {})
    assert not list(again.folder.glob("*.tmp"))


CHILD = """
import sys
from pathlib import Path
from devserver.recorder import LivePipelineRecorder
run = LivePipelineRecorder(Path(sys.argv[1]), fsync=True).open_run(sys.argv[2], {"input_text": "x"})
for n in range(1, 3001):
    run.event("queue_update", content="y" * (n % 40) * 500, metadata={"position": n})
    run.update(status="running", counter=n, payload="z" * (n % 50) * 1000)
"""


def test_metadata_stays_valid_when_the_process_is_killed_mid_write(tmp_path):
    run_id = new_id()
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(tmp_path), run_id], cwd=ROOT,
                             env={**os.environ, "PYTHONPATH": str(ROOT)}, stderr=subprocess.PIPE)
    metadata = tmp_path / "pipeline_runs" / run_id / "metadata.json"
    seen, deadline = 0, time.monotonic() + 30
    try:
        while seen < 150 and time.monotonic() < deadline and child.poll() is None:
            if metadata.exists():
                seen = json.loads(metadata.read_bytes()).get("counter", 0)  # readers never see half a file
            time.sleep(0.001)
    finally:
        child.send_signal(signal.SIGKILL)
        _, err = child.communicate(timeout=10)
    assert seen >= 150, err.decode()

    snapshot = json.loads(metadata.read_bytes())
    assert snapshot["run_id"] == run_id and snapshot["counter"] >= seen
    rec = LivePipelineRecorder(tmp_path, fsync=False)
    items = rec.events(run_id)
    assert [i["sequence"] for i in items] == list(range(1, len(items) + 1))
    assert len(items) >= snapshot["counter"]  # the log is flushed before each snapshot
    assert rec.open_run(run_id, {}).event("pipeline_interrupted")["sequence"] == len(items) + 1
    rec.close()


def test_deleted_folder_is_logged_and_the_run_goes_on(recorder, caplog):
    run = recorder.open_run(new_id(), {"input_text": "Drache"})
    run.event("pipeline_start")
    shutil.rmtree(run.folder)
    with caplog.at_level(logging.WARNING, logger="devserver.recorder"):
        item = run.event("user_input_text", content="Drache")
        name = run.save_entity("input", "Drache")
        snap = run.update(status="succeeded")
        run.event("pipeline_complete")
    assert item["sequence"] == 2 and name == "01_input.txt" and snap["status"] == "succeeded"
    assert [i["sequence"] for i in recorder.events(run.run_id)] == [1, 2, 3]  # still served from memory
    assert recorder.metadata(run.run_id)["status"] == "succeeded"
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert errors and all(r.exc_info for r in errors)
    assert not run.folder.exists()  # the recorder does not resurrect a deleted run


def test_unwritable_files_and_unencodable_values_do_not_raise(recorder, caplog):
    run = recorder.open_run(new_id(), {})
    (run.folder / "events.jsonl").mkdir()  # every append now fails with IsADirectoryError
    loop: dict = {}
    loop["self"] = loop
    with caplog.at_level(logging.ERROR, logger="devserver.recorder"):
        assert run.event("pipeline_start")["sequence"] == 1
        snap = run.update(status="running", broken=loop)
    assert snap["status"] == "running" and "broken" not in snap
    assert json.loads((run.folder / "metadata.json").read_bytes())["status"] == "running"
    assert len([r for r in caplog.records if r.levelno == logging.ERROR]) == 2


def test_secrets_never_reach_the_record(recorder):
    run = recorder.open_run(new_id(), {"input_text": "Baum", "api_key": "sk-META",
                                       "backend": {"headers": {"Authorization": "Bearer sk-HEADER"}}})
    run.event("translation_result", metadata={"parameters": {"password": "sk-PASS"}})
    run.event("stage1_safety_check", metadata={"calls": [{"openrouter_api_key": "sk-LIST"}]})
    run.update(auth={"client_secret": "sk-UPDATE", "access_token": "sk-TOKEN"})
    stored = (run.folder / "metadata.json").read_text() + (run.folder / "events.jsonl").read_text()
    assert "Baum" in stored
    for secret in ("sk-META", "sk-HEADER", "sk-PASS", "sk-LIST", "sk-UPDATE", "sk-TOKEN"):
        assert secret not in stored
        assert secret not in json.dumps([run.snapshot(), recorder.events(run.run_id)])


def test_concurrent_events_get_unique_sequence_numbers(recorder):
    run = recorder.open_run(new_id(), {})
    threads = [threading.Thread(target=lambda: [run.event("queue_update") for _ in range(50)]) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=10)
    assert sorted(i["sequence"] for i in lines(run.folder / "events.jsonl")) == list(range(1, 201))


def test_runs_recorded_from_many_threads_all_reach_the_index(recorder):
    def worker(n: int) -> None:
        for _ in range(10):
            run = recorder.open_run(new_id(), {"status": "running", "session": f"T{n}"})
            run.event("pipeline_start")
            run.update(status="succeeded")

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=20)
    assert recorder.index.stats()["by_status"] == {"succeeded": 40}
    assert recorder.index.list({"session": "T2"})["total"] == 10


def test_mark_interrupted_finishes_runs_left_in_progress(tmp_path):
    first = LivePipelineRecorder(tmp_path, fsync=False)
    running, queued, done = new_id(), new_id(), new_id()
    first.open_run(running, {"status": "running"}).event("pipeline_start")
    first.open_run(queued, {"status": "queued"})
    first.open_run(done, {"status": "succeeded"})
    first.close()
    # A run whose folder exists but whose index row was never written (crash before the first upsert).
    orphan = new_id()
    (tmp_path / "pipeline_runs" / orphan).mkdir()
    (tmp_path / "pipeline_runs" / orphan / "metadata.json").write_text(
        json.dumps({"run_id": orphan, "status": "running", "created_at": "2024-05-01T10:00:00.000+00:00"}))

    restarted = LivePipelineRecorder(tmp_path, fsync=False)
    assert restarted.mark_interrupted() == 3
    for run_id in (running, queued, orphan):
        assert restarted.metadata(run_id)["status"] == "interrupted"
        assert restarted.index.get(run_id)["status"] == "interrupted"
        assert restarted.events(run_id)[-1]["item_type"] == "pipeline_interrupted"
    assert restarted.events(running)[-1]["sequence"] == 2
    assert restarted.metadata(done)["status"] == "succeeded"
    assert restarted.mark_interrupted() == 0
    restarted.close()


def test_reindex_command_rebuilds_the_same_rows(tmp_path):
    rec = LivePipelineRecorder(tmp_path, fsync=False)
    for n, status in enumerate(("succeeded", "blocked", "failed")):
        run = rec.open_run(new_id(), {"schema": "dada", "input_text": f"Idee {n}", "status": status,
                                      "outputs": [{"index": 0, "output_config": "sd35", "media_type": "image"}]})
        run.update(models={"stage1": "local/smollm2-135m"})
    before = rec.index.list(limit=10)
    rec.close()
    for suffix in ("", "-wal", "-shm"):
        Path(f"{tmp_path / 'index.sqlite'}{suffix}").unlink(missing_ok=True)

    done = subprocess.run([sys.executable, "-m", "devserver.recorder", "reindex", "--exports", str(tmp_path)],
                          cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "indexed 3 runs, skipped 0" in done.stdout
    index = RunIndex(tmp_path / "index.sqlite")
    assert index.list(limit=10) == before
    index.close()


def _break_index(path: Path, how: str) -> None:
    if how == "outdated":  # written by an older version of the index schema
        db = sqlite3.connect(path)
        db.execute("PRAGMA user_version=0")
        db.execute("DELETE FROM runs")
        db.commit()
        db.close()
        return
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    if how == "corrupt":
        path.write_bytes(b"this is not a database" * 100)


@pytest.mark.parametrize("how", ["missing", "corrupt", "outdated"])
def test_missing_corrupt_or_outdated_index_is_rebuilt_on_start(tmp_path, how):
    rec = LivePipelineRecorder(tmp_path, fsync=False)
    run_id = new_id()
    rec.open_run(run_id, {"status": "succeeded", "schema": "stille_post"})
    rec.close()
    _break_index(tmp_path / "index.sqlite", how)

    again = LivePipelineRecorder(tmp_path, fsync=False)
    assert [r["run_id"] for r in again.index.list()["runs"]] == [run_id]
    assert again.index.get(run_id)["schema"] == "stille_post"
    assert bool(list(tmp_path.glob("index.sqlite.corrupt-*"))) == (how == "corrupt")
    again.close()


def test_unknown_runs_are_not_found(recorder):
    unknown = new_id()
    assert not recorder.exists(unknown) and not recorder.exists("../etc")
    for call in (recorder.metadata, recorder.events, recorder.entities):
        with pytest.raises(NotFound) as err:
            call(unknown)
        assert err.value.code == "run_not_found"
        with pytest.raises(ValidationFailed):
            call("../../etc/passwd")

"""Background export jobs: a bounded number at once, complete files only, and old files deleted."""
from __future__ import annotations

import io
import os
import threading
import uuid
import zipfile
from concurrent.futures import ThreadPoolExecutor

import pytest

from devserver.errors import AppError
from devserver.recorder import LivePipelineRecorder
from devserver.recorder.export_jobs import ExportJobs
from tests.waiting import until

SELECTION = {"filters": {}, "total": 1, "offset": 0, "limit": 10}


@pytest.fixture
def recorder(tmp_path) -> LivePipelineRecorder:
    recorder = LivePipelineRecorder(tmp_path / "exports", fsync=False)
    run = recorder.open_run(str(uuid.uuid4()), {"schema": "dada", "input_text": "Ein Hund", "status": "running"})
    run.event("user_input_text", stage="stage1", content="Ein Hund", file=run.save_entity("input", "Ein Hund"))
    run.update(status="succeeded")
    return recorder


def run_ids(recorder: LivePipelineRecorder) -> list[str]:
    return [row["run_id"] for row in recorder.index.list()["runs"]]


def finished(jobs: ExportJobs, job_id: str, owner: str = "staff-1") -> dict:
    return until(lambda: (s := jobs.status(job_id, owner))["status"] in ("done", "failed") and s, "the job to end")


def test_one_job_more_than_the_limit_is_a_429_until_one_is_done(recorder, tmp_path):
    gate = threading.Event()
    pool = ThreadPoolExecutor(max_workers=1)
    pool.submit(gate.wait)  # the only worker is busy: the first job stays queued
    jobs = ExportJobs(recorder, tmp_path / "jobs", keep_seconds=60, max_active=1, pool=pool)
    first = jobs.start("staff-1", run_ids(recorder), SELECTION, media=True)
    with pytest.raises(AppError) as refused:
        jobs.start("staff-2", run_ids(recorder), SELECTION, media=True)
    assert refused.value.status == 429 and refused.value.code == "too_many_exports"
    assert refused.value.retry_after > 0
    assert jobs.status(first["id"], "staff-1")["status"] == "queued"
    with pytest.raises(AppError) as early:
        jobs.file(first["id"], "staff-1")
    assert early.value.status == 409
    gate.set()
    assert finished(jobs, first["id"])["status"] == "done"
    assert jobs.start("staff-2", run_ids(recorder), SELECTION, media=True)["status"] == "queued"
    jobs.close()


def test_the_file_appears_complete_and_goes_after_its_keep_time(recorder, tmp_path):
    now = [1_000_000.0]
    jobs = ExportJobs(recorder, tmp_path / "jobs", keep_seconds=60, max_active=1, clock=lambda: now[0])
    job = jobs.start("staff-1", run_ids(recorder), SELECTION, media=True)
    status = finished(jobs, job["id"])
    path = jobs.file(job["id"], "staff-1")
    assert os.listdir(jobs.folder) == [path.name] and status["bytes"] == path.stat().st_size
    assert zipfile.ZipFile(io.BytesIO(path.read_bytes())).testzip() is None
    assert status["expires_at"] > status["finished_at"]
    with pytest.raises(AppError) as stranger:
        jobs.status(job["id"], "staff-2")
    assert stranger.value.status == 404

    now[0] += 59
    assert jobs.sweep() == [] and path.exists()
    now[0] += 2
    assert jobs.sweep() == [job["id"]] and not path.exists()
    with pytest.raises(AppError) as gone:
        jobs.status(job["id"], "staff-1")
    assert gone.value.status == 404
    jobs.close()


def test_files_left_by_an_earlier_process_are_deleted_once_old(recorder, tmp_path):
    folder = tmp_path / "jobs"
    folder.mkdir()
    torn, fresh = folder / "old-job.zip.part", folder / "new-job.zip"
    torn.write_bytes(b"PK half")
    fresh.write_bytes(b"PK whole")
    os.utime(torn, (1000, 1000))
    jobs = ExportJobs(recorder, folder, keep_seconds=60, max_active=1)
    assert not torn.exists() and fresh.exists()  # another server's fresh file is not ours to judge yet
    jobs.close()


def test_a_job_that_cannot_write_fails_and_leaves_no_file(recorder, tmp_path):
    jobs = ExportJobs(recorder, tmp_path / "jobs", keep_seconds=60, max_active=1)
    os.rmdir(jobs.folder)  # the disk went away under the job
    job = jobs.start("staff-1", run_ids(recorder), SELECTION, media=True)
    status = finished(jobs, job["id"])
    assert status["status"] == "failed" and status["error"]["code"] == "export_failed"
    assert status["download_url"] is None
    jobs.close()

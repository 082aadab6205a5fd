"""The research API lists, filters, shows and exports runs, and refuses hostile run ids."""
from __future__ import annotations

import csv
import io
import json
import uuid
import zipfile

import pytest

from devserver.recorder import LivePipelineRecorder

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


@pytest.fixture
def recorder(app) -> LivePipelineRecorder:
    return app.extensions["devserver.recorder"]


@pytest.fixture
def client(staff_client):
    """The research API is for staff: these tests call it as a researcher (access rules: test_access_*.py)."""
    return staff_client


def record_run(recorder: LivePipelineRecorder, text: str, *, status: str = "succeeded", schema: str = "dada",
               session: str | None = None, media: str = "image") -> str:
    """Record a complete run the way the orchestrator does."""
    run = recorder.open_run(str(uuid.uuid4()), {"schema": schema, "input_text": text, "safety_level": "youth",
                                                "session": session, "lang": "de", "status": "running"})
    run.event("pipeline_start", stage="stage1", content=text)
    run.event("user_input_text", stage="stage1", content=text, file=run.save_entity("input", text))
    run.event("translation_result", stage="stage1", content=f"EN: {text}",
              metadata={"backend": "local", "model_requested": "local/smollm2-135m", "model_used": "smollm2-135m",
                        "parameters": {"temperature": 0.2, "seed": 7}, "duration_ms": 41.5})
    run.event("stage1_safety_check", stage="stage1", content='{"safe": true}',
              metadata={"checkpoint": "input", "decision": "allow", "category": "none"})
    name = run.save_entity(f"output_{media}", PNG, ext="png")
    run.event(f"output_{media}", stage="stage4", media_type=media, loop_iteration=1, file=name,
              metadata={"backend": "sketch", "model_used": "sketch-v1", "parameters": {"width": 512}})
    run.event("pipeline_complete", stage="stage4")
    run.update(status=status, outputs=[{"index": 0, "output_config": f"{media}_cfg", "media_type": media,
                                        "file": name, "mime": "image/png", "status": "done"}])
    return run.run_id


def error_code(response) -> str:
    return response.get_json()["error"]["code"]


def test_list_filters_and_pages(client, recorder):
    first = record_run(recorder, "Ein Hund", session="S1")
    second = record_run(recorder, "Eine Katze", status="blocked", session="S1")
    record_run(recorder, "Ein Vulkan", schema="bauhaus", media="video")

    body = client.get("/api/runs/list?limit=2").get_json()
    assert body["total"] == 3 and body["limit"] == 2 and len(body["runs"]) == 2
    assert body["runs"][0]["input_preview"] == "Ein Vulkan"
    assert client.get("/api/runs/list?limit=2&offset=2").get_json()["runs"][0]["run_id"] == first
    assert [r["run_id"] for r in client.get("/api/runs/list?session=S1&status=blocked").get_json()["runs"]] == [second]
    assert client.get("/api/runs/list?media_type=video&q=vulkan").get_json()["total"] == 1
    assert client.get("/api/runs/list?status=&schema=&q=").get_json()["total"] == 3  # empty = no filter
    assert client.get("/api/runs/list?schema=bauhaus&since=2000-01-01&until=2999-12-31").get_json()["total"] == 1


@pytest.mark.parametrize("query", ["limit=0", "limit=501", "limit=abc", "offset=-1", "status=done",
                                   "media_type=hologram", "since=yesterday", "order=random", "stauts=running",
                                   "q=" + "x" * 201])
def test_bad_list_queries_are_400_with_the_field(client, query):
    response = client.get(f"/api/runs/list?{query}")
    assert response.status_code == 400
    problems = response.get_json()["error"]["details"]["problems"]
    assert problems[0]["field"] == query.split("=")[0]


def test_one_run_with_every_item(client, recorder):
    run_id = record_run(recorder, "Ritter kämpft gegen einen Drachen")
    body = client.get(f"/api/runs/{run_id}").get_json()
    assert body["metadata"]["status"] == "succeeded" and body["metadata"]["input_text"].startswith("Ritter")
    assert [e["sequence"] for e in body["events"]] == [1, 2, 3, 4, 5, 6]
    assert body["events"][2]["metadata"]["model_used"] == "smollm2-135m"
    assert body["files"] == ["01_input.txt", "02_output_image.png"]


@pytest.mark.parametrize("path", ["..", "%2e%2e", "../etc", "..%2fetc", "%2e%2e%2f%2e%2e%2fetc%2fpasswd",
                                  "x" * 5000, "ABCDEF01-2345-4678-9abc-def012345678", "not-a-run",
                                  "00000000-0000-0000-0000-000000000000%0a", "..%5c..%5cwindows"])
def test_hostile_run_ids_are_400(client, path):
    for url in (f"/api/runs/{path}", f"/api/runs/{path}/export/json"):
        response = client.get(url)
        assert response.status_code == 400, url
        assert error_code(response) == "invalid_run_id"


def test_unknown_run_is_404(client):
    unknown = str(uuid.uuid4())
    for url in (f"/api/runs/{unknown}", *(f"/api/runs/{unknown}/export/{f}" for f in ("json", "csv", "zip"))):
        response = client.get(url)
        assert response.status_code == 404 and error_code(response) == "run_not_found", url


def test_export_json(client, recorder):
    run_id = record_run(recorder, "Ein Hund")
    response = client.get(f"/api/runs/{run_id}/export/json")
    assert response.status_code == 200
    assert response.headers["Content-Disposition"].startswith("attachment")
    body = json.loads(response.data)
    assert body["metadata"]["run_id"] == run_id and len(body["events"]) == 6


def test_export_csv_has_a_row_per_item(client, recorder):
    run_id = record_run(recorder, "Äpfel, \"Birnen\"\nund Käse")
    response = client.get(f"/api/runs/{run_id}/export/csv")
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert "attachment" in response.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(response.data.decode("utf-8-sig"))))
    assert [int(r["sequence"]) for r in rows] == [1, 2, 3, 4, 5, 6]
    assert rows[0]["content"] == "Äpfel, \"Birnen\"\nund Käse" and rows[0]["run_id"] == run_id
    translation = rows[2]
    assert translation["model"] == "smollm2-135m" and translation["backend"] == "local"
    assert translation["model_requested"] == "local/smollm2-135m" and float(translation["duration_ms"]) == 41.5
    assert json.loads(translation["parameters"]) == {"seed": 7, "temperature": 0.2}
    assert json.loads(rows[3]["other_metadata"])["decision"] == "allow"
    assert rows[4]["file"] == "02_output_image.png" and rows[4]["media_type"] == "image"


def test_export_zip_holds_the_whole_record(client, recorder):
    run_id = record_run(recorder, "Ein Hund")
    response = client.get(f"/api/runs/{run_id}/export/zip")
    assert response.mimetype == "application/zip"
    archive = zipfile.ZipFile(io.BytesIO(response.data))
    assert sorted(archive.namelist()) == ["01_input.txt", "02_output_image.png", "README.txt", "events.csv", "events.jsonl",
                                          "metadata.json"]
    assert json.loads(archive.read("metadata.json"))["run_id"] == run_id
    assert [json.loads(line)["sequence"] for line in archive.read("events.jsonl").splitlines()] == [1, 2, 3, 4, 5, 6]
    assert archive.read("02_output_image.png") == PNG
    assert archive.read("01_input.txt").decode("utf-8") == "Ein Hund"


@pytest.mark.parametrize("fmt", ["docx", "ZIP", "..", "json.exe"])
def test_unoffered_formats_are_400_listing_the_formats(client, recorder, fmt):
    run_id = record_run(recorder, "Ein Hund")
    response = client.get(f"/api/runs/{run_id}/export/{fmt}")
    assert response.status_code == 400 and error_code(response) == "unsupported_export_format"
    assert response.get_json()["error"]["details"]["formats"] == ["json", "jsonl", "csv", "zip", "xml", "pdf", "otel"]


def test_bulk_export_zips_matching_runs_and_says_when_capped(client, recorder):
    ids = [record_run(recorder, f"Idee {n}", session="S9") for n in range(3)]
    record_run(recorder, "andere Gruppe", session="S2")

    response = client.get("/api/runs/export?session=S9&limit=2")
    assert response.status_code == 200 and "attachment" in response.headers["Content-Disposition"]
    assert response.headers["X-Runs-Total"] == "3" and response.headers["X-Runs-Included"] == "2"
    assert response.headers["X-Runs-Truncated"] == "true"
    archive = zipfile.ZipFile(io.BytesIO(response.data))
    manifest = json.loads(archive.read("manifest.json"))
    assert manifest["total"] == 3 and manifest["included"] == 2 and manifest["truncated"] is True
    assert {f"{ids[2]}/02_output_image.png", f"{ids[1]}/events.csv", "runs.csv"} <= set(archive.namelist())
    assert not any(name.startswith(ids[0]) for name in archive.namelist())

    rest = client.get("/api/runs/export?session=S9&limit=2&offset=2&media=false")
    names = zipfile.ZipFile(io.BytesIO(rest.data)).namelist()
    assert rest.headers["X-Runs-Truncated"] == "false"
    assert f"{ids[0]}/01_input.txt" in names and f"{ids[0]}/02_output_image.png" not in names
    assert client.get("/api/runs/export?limit=501").status_code == 400


def test_stats(client, recorder):
    record_run(recorder, "Ein Hund")
    record_run(recorder, "Eine Katze", status="blocked", media="video")
    stats = client.get("/api/runs/stats").get_json()
    assert stats["total"] == 2 and stats["by_status"] == {"blocked": 1, "succeeded": 1}
    assert stats["by_media_type"] == {"image": 1, "video": 1}
    assert client.get("/api/runs/stats?status=blocked").get_json()["total"] == 1
    assert client.get("/api/runs/stats?status=nope").status_code == 400

"""Every export format, for one run and in bulk, parses back to the record that real runs wrote.

The runs are produced by the real orchestrator (the fake Ollama as the text model, the offline sketch
as the image model), so the exports are tested on the record shape the server really writes.
"""
from __future__ import annotations

import base64
import csv
import io
import json
import shutil
import time
import zipfile
from typing import Iterator
from xml.etree import ElementTree as ET

import pytest
import xmlschema
from google.protobuf import json_format
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from pypdf import PdfReader

from devserver.app import create_app, shutdown
from devserver.recorder.export import csv_lines
from devserver.recorder.items import METADATA_FIELDS
from devserver.recorder.xmlrecord import NAMESPACE, XSD_PATH, read_value
from tests.conftest import TEST_PASSWORD, CsrfClient, add_user
from tests.fakes.ollama_fake import OllamaFake
from tests.waiting import until

SECRET = "sk-or-v1-this-key-must-never-leave-the-server"
ROLES = {"TRANSLATION_MODEL": "ollama/writer:latest", "STAGE2_INTERCEPTION_MODEL": "ollama/writer:latest",
         "STAGE2_OPTIMIZATION_MODEL": "ollama/writer:latest"}
FORMULAS = ("=1+2 Hunde im Park", "+Vulkan am Meer", "@SUMME Katzen", "-Drachen im Wald", "\t=Boot")
FORMATS = ("json", "jsonl", "csv", "zip", "xml", "pdf", "otel")
NS = {"r": NAMESPACE}


@pytest.fixture(scope="module")
def recorded(tmp_path_factory) -> Iterator[tuple]:
    """An app with five finished runs (with images) whose texts start like spreadsheet formulas."""
    with OllamaFake(models=("writer:latest",)) as ollama:
        app = create_app({"TESTING": True, "EXPORTS_DIR": tmp_path_factory.mktemp("exports"),
                          "OLLAMA_URL": ollama.url, "MODEL_ROLE_MAP": ROLES, "RETRY_ATTEMPTS": 1,
                          "OPENROUTER_API_KEY": SECRET})
        student = app.test_client()  # the loopback default person runs the pipeline
        run_ids = []
        for text in FORMULAS:
            body = student.post("/api/schema/pipeline/execute?wait=120", json={
                "schema": "dada", "input_text": text, "output_configs": ["sketch_offline"]}).get_json()
            assert body["status"] == "succeeded", body
            run_ids.append(body["run_id"])
        blocked = student.post("/api/schema/pipeline/execute?wait=120", json={
            "schema": "bauhaus", "input_text": "eine Hakenkreuz Fahne", "output_configs": ["sketch_offline"]}).get_json()
        assert blocked["status"] == "blocked", blocked
        app.extensions["devserver.blocked_run"] = blocked
        client = app.test_client()  # the research API is staff-only: a researcher exports
        user = add_user(app, "researcher")
        assert client.post("/api/auth/login", json={"name": user.name, "password": TEST_PASSWORD}).status_code == 200
        assert student.get(f"/api/runs/{run_ids[0]}/export/json").status_code in (401, 403, 404)
        yield app, client, run_ids
        shutdown(app)


def _record(app, run_id: str) -> dict:
    recorder = app.extensions["devserver.recorder"]
    return {"metadata": recorder.metadata(run_id), "events": recorder.events(run_id),
            "files": recorder.entities(run_id)}


def _export(client, run_id: str, fmt: str):
    response = client.get(f"/api/runs/{run_id}/export/{fmt}")
    assert response.status_code == 200, response.data[:300]
    return response


def test_records_of_real_runs_carry_only_documented_fields(recorded):
    app, client, _ = recorded
    recorder = app.extensions["devserver.recorder"]
    seen: set[str] = set()
    for row in recorder.index.list(limit=500)["runs"]:
        for item in recorder.events(row["run_id"]):
            assert set(item["metadata"]) <= METADATA_FIELDS[item["item_type"]], item  # documented: test_research_doc
            seen.add(item["item_type"])
    assert {"pipeline_start", "stage_transition", "user_input_text", "stage1_safety_check", "translation_result",
            "interception_iteration", "interception_final", "optimization_result", "stage2_safety_check",
            "stage3_safety_check", "output_image", "pipeline_complete", "stage1_blocked"} <= seen, seen


def test_json_and_jsonl_give_back_the_record(recorded):
    app, client, run_ids = recorded
    record = _record(app, run_ids[0])
    document = _export(client, run_ids[0], "json").get_json()
    assert document["events"] == record["events"] and document["files"] == record["files"]
    lines = _export(client, run_ids[0], "jsonl").data.decode().splitlines()
    assert [json.loads(line) for line in lines] == record["events"]


def test_csv_has_a_row_per_item_and_never_a_live_formula(recorded):
    app, client, run_ids = recorded
    for run_id, text in zip(run_ids, FORMULAS):
        rows = list(csv.DictReader(io.StringIO(_export(client, run_id, "csv").data.decode("utf-8-sig"))))
        assert len(rows) == len(_record(app, run_id)["events"])
        inputs = [r["content"] for r in rows if r["item_type"] == "user_input_text"]
        assert inputs == ["'" + text.strip()]  # shown as text by a spreadsheet, not evaluated
        for row in rows:
            for cell in row.values():
                assert not cell or cell.lstrip("\t\r")[:1] not in "=+@" or cell.startswith("'"), cell


def test_csv_cells_hidden_behind_a_tab_or_return_are_escaped_too():
    line = "".join(csv_lines([["\t=cmd", "\r@x", "-3", "-x", "plain"]]))
    assert next(csv.reader(io.StringIO(line))) == ["'\t=cmd", "'\r@x", "-3", "'-x", "plain"]


def test_xml_validates_against_the_published_schema_and_round_trips(recorded):
    app, client, run_ids = recorded
    data = _export(client, run_ids[1], "xml").data
    schema = xmlschema.XMLSchema(client.get("/api/runs/record.xsd").data.decode())
    schema.validate(data)
    assert XSD_PATH.read_bytes().decode() == client.get("/api/runs/record.xsd").data.decode()
    run = ET.fromstring(data).find("r:run", NS)
    record = _record(app, run_ids[1])
    assert run.get("id") == run_ids[1]
    assert read_value(run.find("r:metadata", NS)[0]) == record["metadata"]
    items = run.findall("r:items/r:item", NS)
    assert [int(i.get("sequence")) for i in items] == [e["sequence"] for e in record["events"]]
    for element, item in zip(items, record["events"]):
        assert element.get("itemType") == item["item_type"]
        assert (element.findtext("r:content", None, NS)) == item["content"]
        assert read_value(element.find("r:metadata", NS)[0]) == item["metadata"]


def test_pdf_shows_the_journey_with_the_image(recorded):
    app, client, run_ids = recorded
    reader = PdfReader(io.BytesIO(_export(client, run_ids[0], "pdf").data))
    text = " ".join(page.extract_text() for page in reader.pages)
    assert "Hunde im Park" in text and run_ids[0] in text
    assert sum(len(page.images) for page in reader.pages) == 1  # the sketch, as a thumbnail


def _otlp(data: bytes) -> ExportTraceServiceRequest:
    """Parse OTLP/JSON with the official proto (hex ids → base64, as the plain protobuf mapping expects)."""
    payload = json.loads(data)
    for resource in payload["resourceSpans"]:
        for scope in resource["scopeSpans"]:
            for span in scope["spans"]:
                for key in ("traceId", "spanId", "parentSpanId"):
                    if key in span:
                        span[key] = base64.b64encode(bytes.fromhex(span[key])).decode()
    return json_format.ParseDict(payload, ExportTraceServiceRequest())  # unknown fields are an error


def test_otel_is_one_trace_with_stage_spans_and_genai_model_calls(recorded):
    app, client, run_ids = recorded
    request = _otlp(_export(client, run_ids[2], "otel").data)
    spans = request.resource_spans[0].scope_spans[0].spans
    assert {span.trace_id.hex() for span in spans} == {run_ids[2].replace("-", "")}
    names = [span.name for span in spans]
    assert names[0] == "devserver.run" and {"stage1", "stage2", "stage3", "stage4"} <= set(names)
    calls = [s for s in spans if s.name.startswith("chat ")]
    assert calls, names
    attributes = {a.key: a.value for a in calls[0].attributes}
    assert attributes["gen_ai.request.model"].string_value == "writer:latest"
    assert attributes["gen_ai.usage.output_tokens"].int_value > 0
    ids = {s.span_id for s in spans}
    assert all(s.parent_span_id in ids for s in spans[1:])  # a tree under the run span
    events = sum(len(s.events) for s in spans)
    assert events == len(_record(app, run_ids[2])["events"])  # every item is in the trace


@pytest.mark.parametrize("fmt", ["jsonl", "json", "csv", "xml", "otel"])
def test_bulk_streams_hold_every_matching_run(recorded, fmt):
    app, client, run_ids = recorded
    response = client.get(f"/api/runs/export?format={fmt}&schema=dada")
    assert response.status_code == 200 and response.is_streamed
    assert response.headers["X-Runs-Total"] == str(len(run_ids))
    data = response.get_data()
    found: set[str] = set()
    if fmt == "jsonl":
        found = {json.loads(line)["run_id"] for line in data.decode().splitlines()}
    elif fmt == "json":
        found = {run["run_id"] for run in json.loads(data)["runs"]}
    elif fmt == "csv":
        found = {row["run_id"] for row in csv.DictReader(io.StringIO(data.decode("utf-8-sig")))}
    elif fmt == "xml":
        xmlschema.XMLSchema(str(XSD_PATH)).validate(data)
        found = {run.get("id") for run in ET.fromstring(data).findall("r:run", NS)}
    else:
        found = {s.trace_id.hex() for s in _otlp(data).resource_spans[0].scope_spans[0].spans}
        run_ids = [r.replace("-", "") for r in run_ids]
    assert found == set(run_ids)


def test_a_run_deleted_while_exported_is_skipped_and_named(recorded, tmp_path):
    app, client, run_ids = recorded
    recorder = app.extensions["devserver.recorder"]
    doomed = run_ids[-1]
    backup = tmp_path / "backup"
    shutil.copytree(recorder.runs_dir / doomed, backup)
    try:
        shutil.rmtree(recorder.runs_dir / doomed)  # the index still lists it
        lines = [json.loads(line) for line in client.get("/api/runs/export?format=jsonl").get_data().decode().splitlines()]
        assert doomed not in {line.get("run_id") for line in lines}
        assert lines[-1]["skipped"] == [doomed]
        archive = zipfile.ZipFile(io.BytesIO(client.get("/api/runs/export?format=zip").data))
        assert doomed in archive.read("README.txt").decode()
        assert not [n for n in archive.namelist() if n.startswith(doomed)]
    finally:
        shutil.copytree(backup, recorder.runs_dir / doomed)


def test_no_export_carries_a_secret_or_a_server_path(recorded):
    app, client, run_ids = recorded
    exports_dir = str(app.extensions["devserver.recorder"].exports_dir.resolve())
    bodies = [_export(client, run_ids[0], fmt).data for fmt in FORMATS if fmt not in ("zip", "pdf")]
    bodies += [client.get(f"/api/runs/export?format={fmt}").get_data() for fmt in ("jsonl", "json", "csv", "xml", "otel")]
    archive = zipfile.ZipFile(io.BytesIO(client.get("/api/runs/export?format=zip").data))
    bodies += [archive.read(name) for name in archive.namelist()]
    pdf = PdfReader(io.BytesIO(_export(client, run_ids[0], "pdf").data))
    bodies.append(" ".join(page.extract_text() for page in pdf.pages).encode())
    for body in bodies:
        assert SECRET.encode() not in body and exports_dir.encode() not in body


@pytest.mark.parametrize("query, field", [("format=docx", "format"), ("since=yesterday", "since"),
                                          ("format=zip&limit=501", "limit")])
def test_bad_bulk_queries_are_400_naming_the_field(recorded, query, field):
    app, client, run_ids = recorded
    response = client.get(f"/api/runs/export?{query}")
    assert response.status_code == 400
    assert field in json.dumps(response.get_json()["error"])


def test_filters_by_safety_category_and_moderation_and_stats_spread_stages(recorded):
    app, client, run_ids = recorded
    blocked = app.extensions["devserver.blocked_run"]
    category = blocked["block"]["category"]
    listed = client.get(f"/api/runs/list?safety_category={category}").get_json()
    assert [r["run_id"] for r in listed["runs"]] == [blocked["run_id"]]
    assert listed["runs"][0]["block_category"] == category and listed["runs"][0]["released"] == 0
    unreleased = client.get("/api/runs/list?moderation=unreleased").get_json()["runs"]
    assert [r["run_id"] for r in unreleased] == [blocked["run_id"]]
    assert client.get("/api/runs/list?moderation=released").get_json()["total"] == 0
    stats = client.get("/api/runs/stats").get_json()
    assert stats["by_block_category"] == {category: 1}
    assert stats["block_rate_by_category"][category] == round(1 / (len(run_ids) + 1), 4)
    for stage in ("stage1", "stage2", "stage3", "stage4"):
        spread = stats["stage_ms"][stage]
        assert spread["n"] >= len(run_ids) and 0 <= spread["mean"] and spread["p95"] >= 0
    assert stats["stage_ms"]["stage1"]["n"] == len(run_ids) + 1  # the blocked run spent time in stage 1 only
    dada = client.get("/api/runs/stats?schema=dada").get_json()
    assert dada["by_block_category"] == {} and dada["stage_ms"]["stage4"]["n"] == len(run_ids)
    for bad in ("moderation=maybe", "safety_category=DROP%20TABLE"):
        assert client.get(f"/api/runs/list?{bad}").status_code == 400


def test_the_index_follows_a_run_while_it_is_going(recorded):
    app, client, run_ids = recorded
    recorder = app.extensions["devserver.recorder"]
    seen: list[tuple[str, str | None]] = []
    original = recorder.index.upsert

    def spy(metadata):
        seen.append((metadata.get("status"), metadata.get("stage")))
        original(metadata)

    recorder.index.upsert = spy
    try:
        body = app.test_client().post("/api/schema/pipeline/execute?wait=120", json={
            "schema": "dada", "input_text": "Ein Boot im Hafen", "output_configs": ["sketch_offline"]}).get_json()
    finally:
        recorder.index.upsert = original
    assert body["status"] == "succeeded"
    running = {stage for status, stage in seen if status == "running"}
    assert {"stage1", "stage2", "stage3", "stage4"} <= running, seen  # not "queued" until the very end


def _researcher(app, name: str) -> CsrfClient:
    """A browser-like client of another researcher (it sends the CSRF token on writes, as the web app does)."""
    client = CsrfClient(app, app.response_class, use_cookies=True)
    user = add_user(app, "researcher", name)
    assert client.post("/api/auth/login", json={"name": user.name, "password": TEST_PASSWORD}).status_code == 200
    return client


def test_a_media_zip_is_built_in_the_background_and_only_its_owner_downloads_it(recorded):
    app, _, _ = recorded
    owner, other = _researcher(app, "r_owner"), _researcher(app, "r_other")
    run_ids = [row["run_id"] for row in owner.get("/api/runs/list?schema=dada&limit=500").get_json()["runs"]]
    started = owner.post("/api/exports", json={"schema": "dada"})
    assert started.status_code == 202, started.get_json()
    job = started.get_json()
    assert started.headers["Location"] == job["status_url"] and job["runs_total"] == len(run_ids)

    def finished() -> dict:
        body = owner.get(job["status_url"]).get_json()
        return body if body["status"] in ("done", "failed") else {}

    status = until(finished, "the export job to finish")
    assert status["status"] == "done" and status["runs_done"] == len(run_ids) and not status["truncated"]
    download = owner.get(status["download_url"])
    assert download.status_code == 200 and download.mimetype == "application/zip"
    assert "attachment" in download.headers["Content-Disposition"] and len(download.data) == status["bytes"]
    archive = zipfile.ZipFile(io.BytesIO(download.data))
    assert archive.testzip() is None
    manifest = json.loads(archive.read("manifest.json"))
    assert sorted(manifest["runs"]) == sorted(run_ids) and manifest["filters"] == {"schema": "dada"}
    recorder = app.extensions["devserver.recorder"]
    for run_id in run_ids:
        record = _record(app, run_id)
        assert json.loads(archive.read(f"{run_id}/metadata.json")) == record["metadata"]
        lines = archive.read(f"{run_id}/events.jsonl").decode().splitlines()
        assert [json.loads(line) for line in lines] == record["events"]
        for name in record["files"]:  # texts and the picture, byte for byte
            assert archive.read(f"{run_id}/{name}") == recorder.entity_path(run_id, name).read_bytes()
    listed = {row["run_id"] for row in csv.DictReader(io.StringIO(archive.read("runs.csv").decode("utf-8-sig")))}
    assert listed == set(run_ids)
    jobs = app.extensions["devserver.export_jobs"]
    assert [p.name for p in jobs.folder.iterdir()] == [f"{job['id']}.zip"]  # no half-written file left

    for url in (job["status_url"], status["download_url"]):  # another researcher: as if there were no job
        answer = other.get(url)
        assert answer.status_code == 404 and answer.get_json()["error"]["code"] == "export_job_not_found"

    jobs.sweep(now=time.time() + jobs.keep_seconds + 1)  # its keep time is over
    assert owner.get(job["status_url"]).status_code == 404 and not list(jobs.folder.iterdir())


@pytest.mark.parametrize("body, field", [({"since": "yesterday"}, "since"), ({"limit": 10_001}, "limit"),
                                         ({"format": "zip"}, "format"), ({"moderation": "maybe"}, "moderation")])
def test_a_bad_export_job_request_is_a_400_naming_the_field(recorded, body, field):
    app, _, _ = recorded
    response = _researcher(app, "r_bad").post("/api/exports", json=body)
    assert response.status_code == 400
    assert response.get_json()["error"]["details"]["problems"][0]["field"] == field

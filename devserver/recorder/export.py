"""Research exports of recorded runs, one run or many: json, jsonl, csv, zip, xml, pdf and otel.

CSV has one row per item; the item's `metadata` is spread over `model`, `model_requested`, `backend`,
`duration_ms`, `parameters` (JSON) and `other_metadata` (JSON of everything else, e.g. safety verdicts).
Cells are formula-safe: a student text starting with `=`, `+`, `-`, `@` (after any leading tab or
carriage return) is prefixed with `'`, so a spreadsheet shows it instead of running it.
ZIP files are built in an anonymous temporary file, not in memory, because they carry the media.
Bulk exports of the text formats are generators that hold one run at a time (constant memory).
"""
from __future__ import annotations

import io
import json
import shutil
import tempfile
import zipfile
from xml.etree import ElementTree as ET
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING, Any, Callable, Iterable, Iterator

from defusedcsv import csv

from devserver.errors import NotFound
from devserver.recorder.index import COLUMNS
from devserver.recorder.items import encode_item
from devserver.recorder.journey import journey_pdf
from devserver.recorder.storage import dump_json
from devserver.recorder.trace import run_spans, traces
from devserver.recorder.xmlrecord import NAMESPACE, records_xml, run_element

if TYPE_CHECKING:
    from devserver.recorder.recorder import LivePipelineRecorder

CSV_COLUMNS = ("run_id", "sequence", "timestamp", "stage", "stage_iteration", "loop_iteration", "item_type",
               "media_type", "content", "file", "model", "model_requested", "backend", "duration_ms",
               "parameters", "other_metadata")
_SPREAD = ("model", "model_used", "model_requested", "backend", "duration_ms", "parameters")
# Media formats are already compressed; deflating them again only costs time.
TEXT_EXTENSIONS = frozenset({"txt", "json", "jsonl", "csv", "md", "py", "js", "html", "css", "svg", "xml"})
BULK_LIMIT = 50  # runs per bulk ZIP built in the request (it carries media); more: a background job
SKIPPED_REASON = "deleted while the export ran"
STREAM_LIMIT = 1_000_000  # runs per streamed bulk export (one run in memory at a time)


@dataclass
class Export:
    """A finished export: an open binary stream, its MIME type and the download name."""

    body: IO[bytes]
    mimetype: str
    filename: str


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)


def csv_row(run_id: str, item: dict[str, Any]) -> list[Any]:
    """Flatten one item into the CSV columns (empty cell for a missing value)."""
    meta = item.get("metadata") if isinstance(item.get("metadata"), dict) else {}
    other = {k: v for k, v in meta.items() if k not in _SPREAD}
    values = {**{k: item.get(k) for k in CSV_COLUMNS}, "run_id": run_id,
              "model": meta.get("model_used") or meta.get("model"), "model_requested": meta.get("model_requested"),
              "backend": meta.get("backend"), "duration_ms": meta.get("duration_ms"),
              "parameters": _json(meta["parameters"]) if "parameters" in meta else None,
              "other_metadata": _json(other) if other else None}
    return ["" if values[c] is None else values[c] for c in CSV_COLUMNS]


def _cell(value: Any) -> Any:
    """Let a leading tab or carriage return not hide a formula from defusedcsv's check (OWASP)."""
    if isinstance(value, str) and value[:1] in ("\t", "\r"):
        return "'" + value
    return value


def csv_lines(rows: Iterable[list[Any]]) -> Iterator[str]:
    """Yield formula-safe CSV lines for `rows` (one string per row)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    for row in rows:
        writer.writerow([_cell(v) for v in row])
        yield out.getvalue()
        out.seek(0)
        out.truncate()


def events_csv(run_id: str, items: Iterable[dict[str, Any]]) -> bytes:
    """Return the items as CSV (UTF-8 with BOM so spreadsheet programs show umlauts correctly)."""
    rows = [list(CSV_COLUMNS), *(csv_row(run_id, item) for item in items)]
    return ("\ufeff" + "".join(csv_lines(rows))).encode("utf-8")


def run_document(recorder: "LivePipelineRecorder", run_id: str) -> dict[str, Any]:
    """Return one run's full record: metadata, every item, and its file names."""
    return {"run_id": run_id, "metadata": recorder.metadata(run_id), "events": recorder.events(run_id),
            "files": recorder.entities(run_id)}


README = """DevServer run export
==================

Each run folder holds:
  metadata.json  the run's snapshot (status, attitude, safety level, session, models, outputs, ...)
  events.jsonl   every item the run recorded, one JSON object per line, in order
  events.csv     the same items as a table (formula-safe; UTF-8 with BOM)
  NN_<kind>.ext  the numbered entity files the items name in their `file` field (texts and media)

Item fields: sequence, timestamp (ISO 8601 UTC), stage, stage_iteration, loop_iteration, item_type,
media_type, content, file, metadata (backend, model_requested, model_used, parameters, duration_ms,
usage, safety verdicts, ...). Every field of every item type is described in the server's
docs/RESEARCH_EXPORT.md; the XML form is described by /api/runs/record.xsd.
Student ids are pseudonymous; no secrets or server paths are exported.
"""


def _write_run(archive: zipfile.ZipFile, recorder: "LivePipelineRecorder", run_id: str, prefix: str,
               media: bool) -> None:
    """Add one run's record, its CSV and its entity files under `prefix` in the archive."""
    document = run_document(recorder, run_id)
    archive.writestr(prefix + "metadata.json", dump_json(document["metadata"]))
    archive.writestr(prefix + "events.jsonl", b"".join(encode_item(i) for i in document["events"]))
    archive.writestr(prefix + "events.csv", events_csv(run_id, document["events"]))
    for name in document["files"]:
        text = name.rsplit(".", 1)[-1] in TEXT_EXTENSIONS
        if text or media:
            archive.write(recorder.entity_path(run_id, name), prefix + name,
                          compress_type=zipfile.ZIP_DEFLATED if text else zipfile.ZIP_STORED)


def _zip(build: Callable[[IO[bytes]], Any]) -> IO[bytes]:
    """Build a ZIP into an anonymous temporary file with `build(file)` and return the file, rewound."""
    body = tempfile.TemporaryFile()
    try:
        build(body)
    except BaseException:
        body.close()
        raise
    body.seek(0)
    return body


def _text_export(data: str | bytes, mimetype: str, filename: str) -> Export:
    body = data.encode("utf-8") if isinstance(data, str) else data
    return Export(io.BytesIO(body), mimetype, filename)


def export_json(recorder: "LivePipelineRecorder", run_id: str) -> Export:
    """Export one run as a JSON document."""
    data = json.dumps(run_document(recorder, run_id), ensure_ascii=False, indent=2, default=str)
    return _text_export(data, "application/json", f"run-{run_id}.json")


def export_jsonl(recorder: "LivePipelineRecorder", run_id: str) -> Export:
    """Export one run's items as JSON lines (exactly its events.jsonl)."""
    recorder.metadata(run_id)
    return _text_export(b"".join(encode_item(i) for i in recorder.events(run_id)), "application/jsonl",
                        f"run-{run_id}.jsonl")


def export_csv(recorder: "LivePipelineRecorder", run_id: str) -> Export:
    """Export one run's items as CSV, one row per item."""
    recorder.metadata(run_id)  # an unknown run is a 404, not an empty table
    return _text_export(events_csv(run_id, recorder.events(run_id)), "text/csv", f"run-{run_id}.csv")


def export_zip(recorder: "LivePipelineRecorder", run_id: str) -> Export:
    """Export one run as a ZIP: README.txt, metadata.json, events.jsonl, events.csv and every entity file."""
    recorder.metadata(run_id)

    def build(body: IO[bytes]) -> None:
        with zipfile.ZipFile(body, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            archive.writestr("README.txt", README)
            _write_run(archive, recorder, run_id, "", media=True)

    return Export(_zip(build), "application/zip", f"run-{run_id}.zip")


def export_xml(recorder: "LivePipelineRecorder", run_id: str) -> Export:
    """Export one run as XML valid against /api/runs/record.xsd."""
    return _text_export(records_xml([run_document(recorder, run_id)]), "application/xml", f"run-{run_id}.xml")


def export_pdf(recorder: "LivePipelineRecorder", run_id: str) -> Export:
    """Export one run as a readable PDF journey with image thumbnails (in the run's language)."""
    document = run_document(recorder, run_id)
    data = journey_pdf(document, lambda name: recorder.entity_path(run_id, name).read_bytes(),
                       document["metadata"].get("lang") or "en")
    return _text_export(data, "application/pdf", f"run-{run_id}.pdf")


def export_otel(recorder: "LivePipelineRecorder", run_id: str) -> Export:
    """Export one run as an OpenTelemetry trace (OTLP/JSON), ready for Langfuse, Jaeger or Tempo."""
    data = json.dumps(traces([run_document(recorder, run_id)]), ensure_ascii=False)
    return _text_export(data, "application/json", f"run-{run_id}.otlp.json")


FORMATS: dict[str, Callable[["LivePipelineRecorder", str], Export]] = {
    "json": export_json, "jsonl": export_jsonl, "csv": export_csv, "zip": export_zip, "xml": export_xml,
    "pdf": export_pdf, "otel": export_otel}


def write_bulk_zip(target: IO[bytes], recorder: "LivePipelineRecorder",
                   rows: Iterable[tuple[str, dict[str, Any] | None]],
                   selection: dict[str, Any], *, media: bool = True,
                   progress: Callable[[int, int], None] | None = None) -> list[str]:
    """Write index rows as one ZIP into `target`: a folder per run plus README.txt, manifest.json and runs.csv.

    `rows` are (run id, index row) pairs and may be lazy (a background job reads one row at a time; a row
    of None stands for a run that is gone);
    `selection` holds `filters, total, offset, limit` for the manifest. `progress(runs_done, bytes_written)`
    is called after each run and may raise to stop. Returns the ids of runs that were gone."""
    included: list[str] = []
    missing: list[str] = []
    with tempfile.SpooledTemporaryFile(max_size=1_000_000, mode="w+b") as table, \
            zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        table.write(("\ufeff" + next(csv_lines([list(COLUMNS)]))).encode("utf-8"))
        for done, (run_id, row) in enumerate(rows, start=1):
            try:
                if row is None:
                    raise NotFound(run_id)
                _write_run(archive, recorder, run_id, f"{run_id}/", media)
            except NotFound:  # deleted after the index listed it
                missing.append(run_id)
            else:
                included.append(run_id)
                values = [_json(row[c]) if isinstance(row[c], list) else row[c] for c in COLUMNS]
                table.write(next(csv_lines([values])).encode("utf-8"))
            if progress is not None:
                progress(done, target.tell())
        table.seek(0)
        with archive.open("runs.csv", "w") as entry:
            shutil.copyfileobj(table, entry)
        skipped = "".join(f"  {run_id} ({SKIPPED_REASON})\n" for run_id in missing)
        archive.writestr("README.txt", README + (f"\nSkipped runs:\n{skipped}" if skipped else ""))
        listed = len(included) + len(missing)
        archive.writestr("manifest.json", dump_json({
            "filters": selection["filters"], "total": selection["total"], "offset": selection["offset"],
            "limit": selection["limit"], "included": len(included), "missing": missing, "media": media,
            "truncated": selection["offset"] + listed < selection["total"], "runs": included}))
    return missing


def export_many(recorder: "LivePipelineRecorder", page: dict[str, Any], filters: dict[str, Any], *,
                media: bool = True) -> Export:
    """Export a page of index rows as one ZIP (built in a temporary file; see `write_bulk_zip`)."""
    selection = {"filters": filters, "total": page["total"], "offset": page["offset"], "limit": page["limit"]}
    rows = [(row["run_id"], row) for row in page["runs"]]
    return Export(_zip(lambda body: write_bulk_zip(body, recorder, rows, selection, media=media)),
                  "application/zip", "runs-export.zip")


# -- streamed bulk exports ----------------------------------------------------------------------------


def _documents(recorder: "LivePipelineRecorder", run_ids: Iterable[str], skipped: list[str]) -> Iterator[dict[str, Any]]:
    """Yield each run's document, one at a time; a run deleted meanwhile is noted in `skipped`."""
    for run_id in run_ids:
        try:
            yield run_document(recorder, run_id)
        except NotFound:
            skipped.append(run_id)


def _stream_jsonl(documents: Iterator[dict[str, Any]], skipped: list[str]) -> Iterator[bytes]:
    for document in documents:
        yield (json.dumps(document, ensure_ascii=False, default=str) + "\n").encode("utf-8")
    if skipped:
        yield (json.dumps({"skipped": skipped, "reason": SKIPPED_REASON}) + "\n").encode("utf-8")


def _stream_json(documents: Iterator[dict[str, Any]], skipped: list[str]) -> Iterator[bytes]:
    yield b'{"runs": ['
    for number, document in enumerate(documents):
        yield (("," if number else "") + json.dumps(document, ensure_ascii=False, default=str)).encode("utf-8")
    yield ('], "skipped": ' + json.dumps(skipped) + "}").encode("utf-8")


def _stream_csv(documents: Iterator[dict[str, Any]], skipped: list[str]) -> Iterator[bytes]:
    yield ("\ufeff" + next(csv_lines([list(CSV_COLUMNS)]))).encode("utf-8")
    for document in documents:
        rows = (csv_row(document["run_id"], item) for item in document["events"])
        yield "".join(csv_lines(rows)).encode("utf-8")


def _stream_xml(documents: Iterator[dict[str, Any]], skipped: list[str]) -> Iterator[bytes]:
    ET.register_namespace("", NAMESPACE)
    yield f'<?xml version="1.0" encoding="utf-8"?>\n<runs xmlns="{NAMESPACE}">'.encode("utf-8")
    for document in documents:
        element = run_element(document)
        yield ET.tostring(element, encoding="unicode").replace(f' xmlns="{NAMESPACE}"', "", 1).encode("utf-8")
    for run_id in skipped:
        yield f'<skipped id="{run_id}" reason="{SKIPPED_REASON}"/>'.encode("utf-8")
    yield b"</runs>"


def _stream_otel(documents: Iterator[dict[str, Any]], skipped: list[str]) -> Iterator[bytes]:
    envelope = json.dumps(traces([]))
    head, tail = envelope.split('"spans": []')
    yield (head + '"spans": [').encode("utf-8")
    first = True
    for document in documents:
        for span in run_spans(document):
            yield (("" if first else ",") + json.dumps(span, ensure_ascii=False)).encode("utf-8")
            first = False
    yield ("]" + tail).encode("utf-8")


@dataclass
class Stream:
    """A streamed bulk export: a generator of bytes, its MIME type and the download name."""

    chunks: Iterator[bytes]
    mimetype: str
    filename: str


STREAMS: dict[str, tuple[Callable[[Iterator[dict[str, Any]], list[str]], Iterator[bytes]], str, str]] = {
    "jsonl": (_stream_jsonl, "application/jsonl", "runs.jsonl"),
    "json": (_stream_json, "application/json", "runs.json"),
    "csv": (_stream_csv, "text/csv; charset=utf-8", "runs.csv"),
    "xml": (_stream_xml, "application/xml", "runs.xml"),
    "otel": (_stream_otel, "application/json", "runs.otlp.json"),
}


def stream_many(recorder: "LivePipelineRecorder", run_ids: list[str], fmt: str) -> Stream:
    """Stream the runs in one of the STREAMS formats, holding one run in memory at a time."""
    writer, mimetype, filename = STREAMS[fmt]
    skipped: list[str] = []
    return Stream(writer(_documents(recorder, run_ids, skipped), skipped), mimetype, filename)

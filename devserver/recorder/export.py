"""Research exports of recorded runs: JSON, CSV and ZIP for one run, and a ZIP of many runs.

CSV has one row per item; the item's `metadata` is spread over `model`, `model_requested`, `backend`,
`duration_ms`, `parameters` (JSON) and `other_metadata` (JSON of everything else, e.g. safety verdicts).
ZIP files are built in an anonymous temporary file, not in memory, because they carry the media.
"""
from __future__ import annotations

import csv
import io
import json
import tempfile
import zipfile
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING, Any, Callable, Iterable

from devserver.errors import NotFound
from devserver.recorder.index import COLUMNS
from devserver.recorder.items import encode_item
from devserver.recorder.storage import dump_json

if TYPE_CHECKING:
    from devserver.recorder.recorder import LivePipelineRecorder

CSV_COLUMNS = ("run_id", "sequence", "timestamp", "stage", "stage_iteration", "loop_iteration", "item_type",
               "media_type", "content", "file", "model", "model_requested", "backend", "duration_ms",
               "parameters", "other_metadata")
_SPREAD = ("model", "model_used", "model_requested", "backend", "duration_ms", "parameters")
# Media formats are already compressed; deflating them again only costs time.
TEXT_EXTENSIONS = frozenset({"txt", "json", "jsonl", "csv", "md", "py", "js", "html", "css", "svg", "xml"})
BULK_LIMIT = 500


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


def events_csv(run_id: str, items: Iterable[dict[str, Any]]) -> bytes:
    """Return the items as CSV (UTF-8 with BOM so spreadsheet programs show umlauts correctly)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    writer.writerows(csv_row(run_id, item) for item in items)
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def run_document(recorder: "LivePipelineRecorder", run_id: str) -> dict[str, Any]:
    """Return one run's full record: metadata, every item, and its file names."""
    return {"run_id": run_id, "metadata": recorder.metadata(run_id), "events": recorder.events(run_id),
            "files": recorder.entities(run_id)}


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


def _zip(build: Callable[[zipfile.ZipFile], None]) -> IO[bytes]:
    body = tempfile.TemporaryFile()
    try:
        with zipfile.ZipFile(body, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            build(archive)
    except BaseException:
        body.close()
        raise
    body.seek(0)
    return body


def export_json(recorder: "LivePipelineRecorder", run_id: str) -> Export:
    """Export one run as a JSON document."""
    data = json.dumps(run_document(recorder, run_id), ensure_ascii=False, indent=2, default=str)
    return Export(io.BytesIO(data.encode("utf-8")), "application/json", f"run-{run_id}.json")


def export_csv(recorder: "LivePipelineRecorder", run_id: str) -> Export:
    """Export one run's items as CSV, one row per item."""
    recorder.metadata(run_id)  # an unknown run is a 404, not an empty table
    body = io.BytesIO(events_csv(run_id, recorder.events(run_id)))
    return Export(body, "text/csv", f"run-{run_id}.csv")  # Werkzeug appends "; charset=utf-8"


def export_zip(recorder: "LivePipelineRecorder", run_id: str) -> Export:
    """Export one run as a ZIP: metadata.json, events.jsonl, events.csv and every entity file."""
    recorder.metadata(run_id)
    return Export(_zip(lambda archive: _write_run(archive, recorder, run_id, "", media=True)),
                  "application/zip", f"run-{run_id}.zip")


FORMATS: dict[str, Callable[["LivePipelineRecorder", str], Export]] = {
    "json": export_json, "csv": export_csv, "zip": export_zip}


def export_many(recorder: "LivePipelineRecorder", page: dict[str, Any], filters: dict[str, Any], *,
                media: bool = True) -> Export:
    """Export a page of index rows as one ZIP: a folder per run plus manifest.json and runs.csv."""
    missing: list[str] = []

    def build(archive: zipfile.ZipFile) -> None:
        for row in page["runs"]:
            try:
                _write_run(archive, recorder, row["run_id"], f"{row['run_id']}/", media)
            except NotFound:  # deleted after the index listed it
                missing.append(row["run_id"])
        table = io.StringIO()
        writer = csv.writer(table, lineterminator="\r\n")
        writer.writerow(COLUMNS)
        writer.writerows([_json(r[c]) if isinstance(r[c], list) else r[c] for c in COLUMNS] for r in page["runs"])
        archive.writestr("runs.csv", ("\ufeff" + table.getvalue()).encode("utf-8"))
        archive.writestr("manifest.json", dump_json({
            "filters": filters, "total": page["total"], "offset": page["offset"], "limit": page["limit"],
            "included": len(page["runs"]) - len(missing), "missing": missing, "media": media,
            "truncated": page["offset"] + len(page["runs"]) < page["total"], "runs": page["runs"]}))

    return Export(_zip(build), "application/zip", "runs-export.zip")

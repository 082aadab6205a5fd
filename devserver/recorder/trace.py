"""A run record as an OpenTelemetry trace in OTLP/JSON, for Langfuse, Jaeger or Grafana Tempo.

One run is one trace (the trace id is the run id's 32 hex digits). A root span covers the run; one
span per stage covers the time from entering that stage to leaving it; every recorded backend call
(an item with a backend and a duration) is a CLIENT span under its stage, named and attributed by
the OpenTelemetry GenAI semantic conventions (`gen_ai.operation.name`, `gen_ai.request.model`,
`gen_ai.usage.input_tokens`, ...). Every other item is a span event on its stage span, so nothing in
the record is lost. Ids are derived from the run id, so exporting a run twice gives the same trace.

OTLP/JSON differs from the plain protobuf JSON mapping in one point: trace and span ids are hex
strings, not base64 (see the OTLP specification, "JSON Protobuf Encoding").
"""
from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Any, Iterable

SCOPE = {"name": "devserver.recorder", "version": "1"}
KIND_INTERNAL, KIND_CLIENT = 1, 3
STATUS_UNSET, STATUS_OK, STATUS_ERROR = 0, 1, 2
_RUN_STATUS = {"succeeded": STATUS_OK, "failed": STATUS_ERROR, "interrupted": STATUS_ERROR}
_MEDIA_ITEMS = frozenset({"output_image", "output_audio", "output_music", "output_video", "output_code",
                          "output_text"})
# request parameter names (as the backends send them) → GenAI request attribute
_REQUEST_PARAMETERS = {"temperature": "temperature", "top_p": "top_p", "top_k": "top_k", "seed": "seed",
                       "max_tokens": "max_tokens", "num_predict": "max_tokens",
                       "repeat_penalty": "frequency_penalty", "frequency_penalty": "frequency_penalty",
                       "presence_penalty": "presence_penalty"}


def _nanos(timestamp: str) -> int:
    moment = datetime.fromisoformat(timestamp)
    return int(moment.timestamp()) * 1_000_000_000 + moment.microsecond * 1000


def _span_id(run_id: str, key: str) -> str:
    return hashlib.sha256(f"{run_id}/{key}".encode()).hexdigest()[:16]


def _any(value: Any) -> dict[str, Any]:
    """Encode a Python value as an OTLP AnyValue (int64 as a string, as the JSON mapping requires)."""
    if isinstance(value, bool):
        return {"boolValue": value}
    if isinstance(value, int):
        return {"intValue": str(value)}
    if isinstance(value, float):
        return {"doubleValue": value}
    if isinstance(value, (list, tuple)):
        return {"arrayValue": {"values": [_any(v) for v in value]}}
    if isinstance(value, dict):
        return {"stringValue": json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)}
    return {"stringValue": str(value)}


def _attributes(values: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"key": k, "value": _any(v)} for k, v in values.items() if v is not None]


def _parameters(meta: dict[str, Any]) -> dict[str, Any]:
    """Flatten what was sent: Ollama nests sampling options under `options`."""
    sent = meta.get("parameters") if isinstance(meta.get("parameters"), dict) else {}
    options = sent.get("options") if isinstance(sent.get("options"), dict) else {}
    return {**sent, **options}


def _model_span(run_id: str, item: dict[str, Any], parent: str) -> dict[str, Any]:
    meta = item["metadata"]
    operation = "generate_content" if item["item_type"] in _MEDIA_ITEMS else "chat"
    model = meta.get("model_used") or meta.get("model_requested") or "unknown"
    end = _nanos(item["timestamp"])
    start = end - int(float(meta.get("duration_ms") or 0) * 1_000_000)
    usage = meta.get("usage") if isinstance(meta.get("usage"), dict) else {}
    parameters = _parameters(meta)
    attributes = {
        "gen_ai.operation.name": operation, "gen_ai.provider.name": meta.get("backend"),
        "gen_ai.request.model": meta.get("model_requested"), "gen_ai.response.model": meta.get("model_used"),
        **{f"gen_ai.request.{name}": parameters[key] for key, name in _REQUEST_PARAMETERS.items()
           if isinstance(parameters.get(key), (int, float)) and not isinstance(parameters.get(key), bool)},
        "gen_ai.usage.input_tokens": usage.get("prompt_tokens"),
        "gen_ai.usage.output_tokens": usage.get("completion_tokens"),
        "gen_ai.response.finish_reasons": [meta["finish_reason"]] if meta.get("finish_reason") else None,
        "devserver.item_type": item["item_type"], "devserver.sequence": item["sequence"],
        "devserver.parameters": meta.get("parameters"), "devserver.cost": meta.get("cost"),
        "devserver.output_config": meta.get("output_config"),
    }
    return {"traceId": run_id.replace("-", ""), "spanId": _span_id(run_id, f"call/{item['sequence']}"),
            "parentSpanId": parent, "name": f"{operation} {model}", "kind": KIND_CLIENT,
            "startTimeUnixNano": str(start), "endTimeUnixNano": str(end), "attributes": _attributes(attributes),
            "status": {"code": STATUS_ERROR if meta.get("error") else STATUS_UNSET}}


def _event(item: dict[str, Any]) -> dict[str, Any]:
    meta = item.get("metadata") or {}
    values = {"devserver.sequence": item["sequence"], "devserver.stage_iteration": item.get("stage_iteration"),
              "devserver.loop_iteration": item.get("loop_iteration"), "devserver.content": item.get("content"),
              "devserver.file": item.get("file"), "devserver.metadata": meta or None}
    return {"timeUnixNano": str(_nanos(item["timestamp"])), "name": item["item_type"], "attributes": _attributes(values)}


def _is_call(item: dict[str, Any]) -> bool:
    meta = item.get("metadata") or {}
    return bool(meta.get("backend")) and meta.get("duration_ms") is not None and bool(
        meta.get("model_used") or meta.get("model_requested"))


def _stage_spans(run_id: str, items: list[dict[str, Any]], root: str) -> list[dict[str, Any]]:
    """Group items into consecutive stage spans; calls become child spans, the rest span events."""
    spans: list[dict[str, Any]] = []
    current: dict[str, Any] | None = None
    for item in items:
        stage = item.get("stage") or "run"
        if current is None or current["name"] != stage:
            if current is not None:
                current["endTimeUnixNano"] = str(_nanos(item["timestamp"]))
            current = {"traceId": run_id.replace("-", ""), "spanId": _span_id(run_id, f"stage/{item['sequence']}"),
                       "parentSpanId": root, "name": stage, "kind": KIND_INTERNAL,
                       "startTimeUnixNano": str(_nanos(item["timestamp"])),
                       "endTimeUnixNano": str(_nanos(item["timestamp"])), "attributes": _attributes(
                           {"devserver.stage": stage}), "events": [], "status": {"code": STATUS_UNSET}}
            spans.append(current)
        if _is_call(item):
            call = _model_span(run_id, item, current["spanId"])
            spans.append(call)
            current["startTimeUnixNano"] = str(min(int(current["startTimeUnixNano"]), int(call["startTimeUnixNano"])))
        current["events"].append(_event(item))
        current["endTimeUnixNano"] = str(max(int(current["endTimeUnixNano"]), _nanos(item["timestamp"])))
    return spans


def run_spans(document: dict[str, Any]) -> list[dict[str, Any]]:
    """Return the spans of one run document: the root span first, then stage and call spans."""
    run_id, meta, items = document["run_id"], document["metadata"], document["events"]
    root = _span_id(run_id, "run")
    children = _stage_spans(run_id, items, root)
    start = min([_nanos(meta["created_at"])] + [int(s["startTimeUnixNano"]) for s in children])
    end = max([start, _nanos(meta.get("updated_at") or meta["created_at"])] +
              [int(s["endTimeUnixNano"]) for s in children])
    status = meta.get("status")
    root_span = {"traceId": run_id.replace("-", ""), "spanId": root, "name": "devserver.run",
                 "kind": KIND_INTERNAL, "startTimeUnixNano": str(start), "endTimeUnixNano": str(end),
                 "attributes": _attributes({
                     "devserver.run_id": run_id, "devserver.status": status, "devserver.phase": meta.get("phase"),
                     "devserver.schema": meta.get("schema"), "devserver.safety_level": meta.get("safety_level"),
                     "devserver.session": meta.get("session"), "devserver.lang": meta.get("lang"),
                     "devserver.files": document.get("files") or None}),
                 "status": {"code": _RUN_STATUS.get(status, STATUS_UNSET)}}
    return [root_span, *children]


def traces(documents: Iterable[dict[str, Any]], service_version: str = "") -> dict[str, Any]:
    """Return an OTLP ExportTraceServiceRequest (as JSON-ready dicts) holding one trace per run."""
    spans = [span for document in documents for span in run_spans(document)]
    resource = _attributes({"service.name": "devserver", "service.version": service_version or None})
    return {"resourceSpans": [{"resource": {"attributes": resource},
                               "scopeSpans": [{"scope": SCOPE, "spans": spans}]}]}

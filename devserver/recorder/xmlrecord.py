"""A run record as XML, valid against the published `run_record.xsd` (served at /api/runs/record.xsd).

The fixed parts of the record (run id, each item's sequence, timestamp, stage, type, content, file)
become attributes and elements; the open-ended parts (the metadata snapshot and each item's metadata)
use the JSON-as-XML vocabulary of XPath 3.1 `fn:json-to-xml` (`map`, `array`, `string`, `number`,
`boolean`, `null`, with `key` on members), so every value survives a round trip. Characters that XML
1.0 cannot carry (most C0 controls, lone surrogates) are replaced by U+FFFD.
"""
from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any, Iterable
from xml.etree import ElementTree as ET

NAMESPACE = "urn:devserver:run-record:1"
XSD_PATH = Path(__file__).with_name("run_record.xsd")
_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_NON_FINITE = {"inf": "INF", "-inf": "-INF", "nan": "NaN"}  # xs:double's spelling
_ITEM_ATTRIBUTES = ("sequence", "timestamp", "item_type", "media_type", "stage", "stage_iteration",
                    "loop_iteration")


def _q(tag: str) -> str:
    return f"{{{NAMESPACE}}}{tag}"


def _text(value: str) -> str:
    return _ILLEGAL.sub("\ufffd", value)


def _value(parent: ET.Element, value: Any, key: str | None = None) -> None:
    """Append `value` to `parent` in the json-to-xml vocabulary."""
    if isinstance(value, dict):
        element = ET.SubElement(parent, _q("map"))
        for k, v in value.items():
            _value(element, v, str(k))
    elif isinstance(value, (list, tuple)):
        element = ET.SubElement(parent, _q("array"))
        for v in value:
            _value(element, v)
    elif value is None:
        element = ET.SubElement(parent, _q("null"))
    elif isinstance(value, bool):
        element = ET.SubElement(parent, _q("boolean"))
        element.text = "true" if value else "false"
    elif isinstance(value, (int, float)):
        element = ET.SubElement(parent, _q("number"))
        element.text = repr(value) if math.isfinite(value) else _NON_FINITE[repr(value)]
    else:
        element = ET.SubElement(parent, _q("string"))
        element.text = _text(str(value))
    if key is not None:
        element.set("key", _text(key))


def run_element(document: dict[str, Any]) -> ET.Element:
    """Build the <run> element for one run document (metadata, events, files)."""
    run = ET.Element(_q("run"), {"id": document["run_id"]})
    _value(ET.SubElement(run, _q("metadata")), document["metadata"])
    items = ET.SubElement(run, _q("items"))
    for item in document["events"]:
        attributes = {_camel(a): str(item[a]) for a in _ITEM_ATTRIBUTES if item.get(a) is not None}
        element = ET.SubElement(items, _q("item"), attributes)
        if item.get("content") is not None:
            ET.SubElement(element, _q("content")).text = _text(str(item["content"]))
        if item.get("file"):
            ET.SubElement(element, _q("file")).text = item["file"]
        _value(ET.SubElement(element, _q("metadata")), item.get("metadata") or {})
    files = ET.SubElement(run, _q("files"))
    for name in document["files"]:
        ET.SubElement(files, _q("file")).text = name
    return run


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def records_xml(documents: Iterable[dict[str, Any]]) -> bytes:
    """Return <runs> with one <run> per document, as UTF-8 bytes with an XML declaration."""
    ET.register_namespace("", NAMESPACE)
    root = ET.Element(_q("runs"))
    for document in documents:
        root.append(run_element(document))
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)


def read_value(element: ET.Element) -> Any:
    """Turn a json-to-xml element back into the Python value (the inverse of the encoder)."""
    tag = element.tag.rsplit("}", 1)[-1]
    if tag == "map":
        return {child.get("key"): read_value(child) for child in element}
    if tag == "array":
        return [read_value(child) for child in element]
    if tag == "null":
        return None
    if tag == "boolean":
        return element.text == "true"
    if tag == "number":
        text = element.text or "0"
        try:
            return int(text)
        except ValueError:
            return float(text)
    return element.text or ""

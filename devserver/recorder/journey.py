"""A run record as a readable PDF: the student's journey from idea to media, with image thumbnails.

For researchers and teachers (the research export is staff-only): texts the checks withheld from
the student are printed and marked as withheld. Built with fpdf2; a Unicode TrueType font is used when
the machine has one (DejaVu Sans on Debian), otherwise the PDF core font with characters outside
Latin-1 replaced, so an export never fails on a script the font lacks.
"""
from __future__ import annotations

import io
import logging
from pathlib import Path
from typing import Any, Callable

from fpdf import FPDF
from PIL import Image

log = logging.getLogger(__name__)

FONT_CANDIDATES = (Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"),
                   Path("/usr/share/fonts/truetype/noto/NotoSans-Regular.ttf"))
THUMBNAIL_MM = 60
# The texts of the journey, in the order a student meets them; checks and transitions are summarised.
TEXT_ITEMS = ("user_input_text", "user_edit", "translation_result", "interception_iteration",
              "interception_final", "optimization_result", "output_text", "output_code")
LABELS = {
    "en": {"title": "Journey of a run", "run": "Run", "created": "Started", "status": "Status",
           "schema": "Attitude", "level": "Safety level", "session": "Session", "models": "Models",
           "withheld": "withheld from the student", "check": "Safety check", "blocked": "Blocked",
           "output": "Output", "error": "Error", "user_input_text": "Idea", "user_edit": "Edited by the student",
           "translation_result": "Translation", "interception_iteration": "Interception pass",
           "interception_final": "Interception result", "optimization_result": "Optimized for the output",
           "output_text": "Text output", "output_code": "Code output", "release": "Released by a teacher",
           "cancelled": "Cancelled", "file": "File"},
    "de": {"title": "Weg eines Durchlaufs", "run": "Durchlauf", "created": "Begonnen", "status": "Status",
           "schema": "Haltung", "level": "Sicherheitsstufe", "session": "Sitzung", "models": "Modelle",
           "withheld": "vor der Schülerin / dem Schüler verborgen", "check": "Sicherheitsprüfung",
           "blocked": "Gestoppt", "output": "Ergebnis", "error": "Fehler", "user_input_text": "Idee",
           "user_edit": "Vom Kind bearbeitet", "translation_result": "Übersetzung",
           "interception_iteration": "Interception-Durchgang", "interception_final": "Ergebnis der Interception",
           "optimization_result": "Für die Ausgabe optimiert", "output_text": "Text-Ergebnis",
           "output_code": "Code-Ergebnis", "release": "Von einer Lehrkraft freigegeben",
           "cancelled": "Abgebrochen", "file": "Datei"},
}


class PdfWriter:
    """A thin layer over FPDF that knows the font situation."""

    def __init__(self) -> None:
        self.pdf = FPDF(format="A4")
        self.pdf.set_auto_page_break(auto=True, margin=15)
        self.pdf.set_title("DevServer run journey")
        self.family, self.unicode = "Helvetica", False
        font = next((p for p in FONT_CANDIDATES if p.is_file()), None)
        if font is not None:
            self.pdf.add_font("Journey", fname=str(font))
            self.family, self.unicode = "Journey", True

    def text(self, value: str) -> str:
        return value if self.unicode else value.encode("latin-1", "replace").decode("latin-1")

    def line(self, value: str, size: float = 10, height: float = 5) -> None:
        self.pdf.set_font(self.family, size=size)
        self.pdf.multi_cell(0, height, self.text(value), new_x="LMARGIN", new_y="NEXT")

    def image(self, data: bytes, width: float = THUMBNAIL_MM) -> None:
        try:
            picture = Image.open(io.BytesIO(data))
            picture.thumbnail((512, 512))
            self.pdf.image(picture.convert("RGB"), w=width)
        except Exception:  # an unreadable file is named, never a failed export
            log.warning("journey PDF: could not embed an image")


def _summary(item: dict[str, Any], labels: dict[str, str]) -> str | None:
    meta = item.get("metadata") or {}
    kind = item["item_type"]
    if kind.endswith("_safety_check"):
        return (f"{labels['check']} ({meta.get('checkpoint')}): {meta.get('decision')} · {meta.get('method')} · "
                f"{meta.get('category')}")
    if kind.endswith("_blocked"):
        return f"{labels['blocked']}: {meta.get('category')} ({meta.get('checkpoint')})"
    if kind in ("pipeline_error", "output_failed"):
        error = meta.get("error") if isinstance(meta.get("error"), dict) else meta
        return f"{labels['error']}: {error.get('code')} – {error.get('message')}"
    if kind == "pipeline_cancelled":
        return labels["cancelled"]
    if kind == "moderation_release":
        return f"{labels['release']}: {meta.get('reason')}"
    return None


def journey_pdf(document: dict[str, Any], read_file: Callable[[str], bytes], lang: str = "en") -> bytes:
    """Render one run document as a PDF; `read_file(name)` returns an entity file's bytes."""
    labels = LABELS.get(lang, LABELS["en"])
    meta = document["metadata"]
    out = PdfWriter()
    out.pdf.add_page()
    out.line(labels["title"], size=16, height=9)
    for key, value in (("run", document["run_id"]), ("created", meta.get("created_at")),
                       ("status", meta.get("status")), ("schema", meta.get("schema")),
                       ("level", meta.get("safety_level")), ("session", meta.get("session")),
                       ("models", ", ".join(meta.get("models") or []))):
        if value:
            out.line(f"{labels[key]}: {value}", size=9, height=4.5)
    stage = None
    for item in document["events"]:
        if item.get("stage") and item["stage"] != stage:
            stage = item["stage"]
            out.pdf.ln(2)
            out.line(stage.replace("stage", "Stage "), size=12, height=7)
        summary = _summary(item, labels)
        if summary:
            out.line(summary, size=8, height=4)
        if item["item_type"] in TEXT_ITEMS and item.get("content"):
            withheld = (item.get("metadata") or {}).get("withheld")
            heading = labels.get(item["item_type"], item["item_type"])
            if item.get("stage_iteration"):
                heading += f" {item['stage_iteration']}"
            out.line(heading + (f" ({labels['withheld']})" if withheld else ""), size=9, height=5)
            out.line(str(item["content"]), size=10, height=5)
        if item["item_type"].startswith("output_") and item.get("file"):
            out.line(f"{labels['output']} · {labels['file']}: {item['file']}", size=9, height=5)
            if item.get("media_type") == "image":
                try:
                    out.image(read_file(item["file"]))
                except OSError:
                    log.warning("journey PDF: %s is missing", item["file"])
    return bytes(out.pdf.output())

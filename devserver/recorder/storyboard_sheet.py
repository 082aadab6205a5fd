"""A storyboard as a printable sheet (PDF) and as a ZIP of its pictures, built from a run's status.

The caller projects the status for its audience first: a student's sheet shows a blocked scene as
blocked, without its texts; staff see those texts, marked as withheld from the student.
"""
from __future__ import annotations

import io
import json
import zipfile
from typing import Any, Callable

from devserver.recorder.journey import PdfWriter

SCENE_IMAGE_MM = 80
LABELS = {
    "en": {"scene": "Scene", "logline": "Logline", "prompt": "Image prompt", "blocked": "This scene was blocked.",
           "withheld": "withheld from the student", "ready": "not drawn yet", "queued": "waiting",
           "running": "being drawn", "failed": "could not be drawn", "cancelled": "cancelled",
           "interrupted": "interrupted", "untitled": "Storyboard"},
    "de": {"scene": "Szene", "logline": "Logline", "prompt": "Bild-Prompt", "blocked": "Diese Szene wurde gestoppt.",
           "withheld": "vor der Schülerin / dem Schüler verborgen", "ready": "noch nicht gezeichnet",
           "queued": "wartet", "running": "wird gezeichnet", "failed": "konnte nicht gezeichnet werden",
           "cancelled": "abgebrochen", "interrupted": "unterbrochen", "untitled": "Storyboard"},
}
ReadFile = Callable[[str], bytes]


def scene_rows(status: dict[str, Any]) -> list[dict[str, Any]]:
    """Return the scenes in order, each with the state of its picture (`state`) and its output (or None)."""
    outputs = {o.get("index"): o for o in status.get("outputs") or []}
    rows = []
    for position, scene in enumerate((status.get("storyboard") or {}).get("scenes") or [], start=1):
        output = outputs.get(scene.get("output")) if scene.get("output") is not None else None
        state = "blocked" if scene.get("status") == "blocked" else (output or {}).get("status") or "ready"
        rows.append({"position": position, "scene": scene, "output": output, "state": state})
    return rows


def picture(row: dict[str, Any]) -> str | None:
    """Return the file name of a scene's finished picture (None when it has none)."""
    output = row["output"] or {}
    if output.get("status") == "succeeded" and output.get("media_type") == "image" and output.get("file"):
        return output["file"]
    return None


def storyboard_pdf(status: dict[str, Any], read_file: ReadFile, lang: str = "en") -> bytes:
    """Render the storyboard sheet: title, logline, then every scene with its picture and texts."""
    labels = LABELS.get(lang, LABELS["en"])
    board = status.get("storyboard") or {}
    out = PdfWriter()
    out.pdf.set_title(board.get("title") or labels["untitled"])
    out.pdf.add_page()
    out.line(board.get("title") or labels["untitled"], size=18, height=10)
    if board.get("logline"):
        out.line(board["logline"], size=11, height=6)
    for row in scene_rows(status):
        scene = row["scene"]
        out.pdf.ln(3)
        out.line(f"{labels['scene']} {row['position']}", size=13, height=7)
        file = picture(row)
        if file is not None:
            try:
                out.image(read_file(file), width=SCENE_IMAGE_MM)
            except OSError:
                file = None
        if row["state"] == "blocked":
            out.line(labels["blocked"], size=10, height=5)
        elif file is None:
            out.line(f"({labels.get(row['state'], row['state'])})", size=9, height=5)
        if scene.get("description"):
            withheld = f" ({labels['withheld']})" if row["state"] == "blocked" else ""
            out.line(scene["description"] + withheld, size=10, height=5)
            out.line(f"{labels['prompt']}: {scene.get('generation_prompt') or ''}", size=8, height=4)
    return bytes(out.pdf.output())


def storyboard_zip(status: dict[str, Any], read_file: ReadFile, lang: str = "en") -> bytes:
    """Pack the sheet, every finished scene picture (scene_01.png, ...) and the storyboard as JSON."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("storyboard.pdf", storyboard_pdf(status, read_file, lang))
        archive.writestr("storyboard.json", json.dumps(status.get("storyboard") or {}, ensure_ascii=False, indent=2))
        for row in scene_rows(status):
            file = picture(row)
            if file is None:
                continue
            try:
                archive.writestr(f"scene_{row['position']:02d}.{file.rpartition('.')[2]}", read_file(file))
            except OSError:
                continue  # a missing file leaves a gap in the archive, never a failed download
    return buffer.getvalue()

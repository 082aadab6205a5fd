"""The fake ComfyUI's `POST /upload/image`, as the real server (0.3.64, `server.py: image_upload`) does it.

Multipart fields `image` (the file), `type` (input — the default —, temp or output), `subfolder` and
`overwrite`. No file → 400 with an empty body; a subfolder or name that leaves
the folder → 400; a file without a name (it arrives as a text field) or any other `type` → 500 "Server got itself in trouble" (seen
on the real server: its handler fails). The bytes are not checked: any file is stored. Without
`overwrite` ("true" or "1") a name that is taken gets " (1)", " (2)" … before the extension, unless
the stored file has the same bytes: then the upload is a duplicate and the old name is answered.
The answer is `{"name", "subfolder", "type"}` with the subfolder as sent.
"""
from __future__ import annotations

import io
import posixpath
from typing import Any

from werkzeug.formparser import MultiPartParser
from werkzeug.http import parse_options_header

FOLDER_TYPES = ("input", "temp", "output")


def parse_form(content_type: str, raw: bytes) -> tuple[dict[str, str], dict[str, tuple[str, bytes]]] | None:
    """Return the fields and files (name → (file name, bytes)) of a multipart body, None if it is none."""
    kind, options = parse_options_header(content_type)
    if kind != "multipart/form-data" or "boundary" not in options:
        return None
    fields, files = MultiPartParser().parse(io.BytesIO(raw), options["boundary"].encode(), len(raw))
    return dict(fields.items()), {key: (f.filename or "", f.read()) for key, f in files.items()}


def store_upload(files: dict[tuple[str, str, str], bytes], form: tuple[dict[str, str], dict[str, Any]] | None
                 ) -> tuple[int, Any]:
    """Store an uploaded image into `files` ((type, subfolder, name) → bytes); return (status, answer)."""
    fields, uploads = form or ({}, {})
    if "image" in fields:  # sent without a file name: a text field, on which the real handler fails
        return 500, b"500 Internal Server Error\n\nServer got itself in trouble"
    if "image" not in uploads:
        return 400, b""
    filename, data = uploads["image"]
    kind = fields.get("type") or "input"
    if kind not in FOLDER_TYPES or not filename:
        return 500, b"500 Internal Server Error\n\nServer got itself in trouble"
    subfolder = fields.get("subfolder", "")
    folder = posixpath.normpath(subfolder) if subfolder else ""
    path = posixpath.normpath(posixpath.join(folder, filename))
    if path.startswith(("/", "..")) or folder.startswith(("/", "..")):
        return 400, b""
    folder = "" if folder == "." else folder
    stem, ext = posixpath.splitext(filename)
    if fields.get("overwrite") not in ("true", "1"):
        number = 1
        while (kind, folder, filename) in files:
            if files[(kind, folder, filename)] == data:  # the same bytes: keep the stored copy and its name
                return 200, {"name": filename, "subfolder": subfolder, "type": kind}
            filename = f"{stem} ({number}){ext}"
            number += 1
    files[(kind, folder, filename)] = data
    return 200, {"name": filename, "subfolder": subfolder, "type": kind}


def input_paths(files: dict[tuple[str, str, str], bytes]) -> set[str]:
    """Return how a LoadImage node can name each stored input file: `name` or `subfolder/name`."""
    return {f"{sub}/{name}" if sub else name for kind, sub, name in files if kind == "input"}


def top_level_inputs(files: dict[tuple[str, str, str], bytes]) -> list[str]:
    """Return LoadImage's combo: the files directly in the input folder (not in subfolders), sorted."""
    return sorted(name for kind, sub, name in files if kind == "input" and not sub)

"""Pictures a run starts from: a student's upload, or a picture of a run the caller may see.

A reference is a file name of the run itself (`01_user_input_image.png`, what `POST /api/uploads`
answers) or `<run_id>/<file>` for a picture of another run; the access policy has already answered
404 for a run the caller may not see. Only pictures the record shows as handed to students qualify:
an upload (`user_input_image`) or a generated picture (`output_image`) that no check withheld.

`validate` runs when a phase is submitted, so a wrong reference is a 400/404 before anything is
queued; `load` runs inside the phase and returns the bytes as a `MediaFile`.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from devserver.backends.base import MediaFile
from devserver.engine.requests import ENTITY_FILE, GenerationRequest, Stage2Request
from devserver.errors import Conflict, NotFound, ValidationFailed

UPLOAD_ITEMS = frozenset({"user_input_image"})
IMAGE_ITEMS = frozenset({"user_input_image", "output_image"})
REF_RE = re.compile(rf"^(?:(?P<run>[0-9a-f-]{{36}})/)?(?P<file>{ENTITY_FILE})$")
MIMES = {"png": "image/png", "jpg": "image/jpeg", "jpeg": "image/jpeg", "webp": "image/webp"}


@dataclass(frozen=True)
class ImageRef:
    """A recorded picture: its run, its file and what the record says it is."""

    run_id: str
    file: str
    item_type: str
    mime: str

    def __str__(self) -> str:
        return f"{self.run_id}/{self.file}"


def split_ref(ref: str, own_run: str | None) -> tuple[str, str]:
    """Return (run id, file name) of a reference; a bare file name belongs to `own_run`."""
    match = REF_RE.fullmatch(ref)
    if match is None:
        raise ValidationFailed("input_image is a file name from the upload (01_user_input_image.png) or "
                               "<run_id>/<file> of a picture of another run.", code="invalid_input_image",
                               details={"input_image": ref[:120]})
    run_id = match.group("run") or own_run
    if run_id is None:
        raise ValidationFailed("Send the run_id the picture was uploaded to, or write input_image as "
                               "<run_id>/<file>.", code="input_image_needs_run", details={"input_image": ref})
    return run_id, match.group("file")


def find(recorder: Any, ref: str, own_run: str | None, kinds: frozenset[str] = IMAGE_ITEMS) -> ImageRef:
    """Return the recorded picture a reference names; NotFound when the run has no such picture for students."""
    run_id, file = split_ref(ref, own_run)
    for item in reversed(recorder.events(run_id)):  # NotFound for an unknown run
        meta = item.get("metadata") or {}
        if item.get("file") == file and item.get("item_type") in kinds and not meta.get("withheld"):
            mime = meta.get("mime") or MIMES.get(file.rpartition(".")[2], "application/octet-stream")
            return ImageRef(run_id, file, item["item_type"], mime)
    raise NotFound(f"Run {run_id} has no picture {file} to start from.", code="input_image_not_found",
                   details={"run_id": run_id, "file": file, "kinds": sorted(kinds)})


def load(recorder: Any, image: ImageRef) -> MediaFile:
    """Read a recorded picture's bytes."""
    return MediaFile(recorder.entity_path(image.run_id, image.file).read_bytes(), image.mime, image.file)


def outputs_taking(catalog: Any, output_ids: list[str]) -> list[str]:
    """Return the outputs among `output_ids` that start from a picture (img2img, image → video)."""
    return [oid for oid in output_ids if catalog.output_chunk(oid).takes_image]


def validate(services: Any, req: Any) -> None:
    """Check a request's picture before its phase is queued: the attitude or an output that takes one
    has it, and the picture exists."""
    needing = outputs_taking(services.catalog, getattr(req, "output_configs", None) or [])  # generation, execute
    if needing and req.input_image is None:
        raise ValidationFailed(f"{', '.join(needing)} starts from a picture: send input_image (upload one "
                               "first).", code="image_required", details={"outputs": needing})
    if isinstance(req, Stage2Request):
        cfg = services.catalog.interception(req.schema_)
        if cfg.takes_image and req.input_image is None:
            raise ValidationFailed("This attitude works with a picture: upload one first.", code="image_required",
                                   details={"schema": cfg.id})
        if req.input_image is not None and not cfg.takes_image and not needing:
            raise ValidationFailed("This attitude does not work with a picture.", code="image_not_taken",
                                   details={"schema": cfg.id})
        if req.input_image is not None and cfg.takes_image and not services.config.VISION_MODEL:
            raise Conflict("No vision model is configured on this server, so pictures cannot be described. "
                           "Set VISION_MODEL (e.g. ollama/llama3.2-vision) in .env.", code="vision_model_missing")
        if req.input_image is not None:
            find(services.recorder, req.input_image, req.run_id, UPLOAD_ITEMS)
    elif isinstance(req, GenerationRequest):
        if req.input_image is not None:
            find(services.recorder, req.input_image, req.run_id)

"""Take a student's picture into a run: cleaned, checked at kids/youth, stored as a numbered file.

The client names the run (its own run id, as for stage2). An unknown run id opens the run record
(status `succeeded`, phase `upload`, the caller's session and pseudonym), so the upload belongs to
the caller from the first byte and a later stage2 under the same id starts there. A run that exists
must be one the caller may see (the handler checks; others get 404 as for an unknown run).

Nothing is stored when the picture is refused: a bad file (400/413), or at kids/youth a picture the
image check (IMAGE_CHECK_MODEL) refused or could not check (422, child-friendly message). Without an
image-check model, pictures are taken unchecked, as generated pictures are (health says so).
"""
from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass
from typing import Any

from devserver.engine.run_state import RunOwner
from devserver.errors import AppError, SafetyBlocked
from devserver.recorder.run_id import require_run_id
from devserver.safety.checkpoint import Verdict
from devserver.uploads.picture import CleanPicture, clean

CHECKPOINT = "upload_image"
ITEM = "user_input_image"


@dataclass(frozen=True)
class StoredUpload:
    """What the caller learns about a stored picture."""

    run_id: str
    file: str
    picture: CleanPicture

    def to_dict(self) -> dict[str, Any]:
        return {"run_id": self.run_id, "file": self.file, "input_image": self.file, "mime": self.picture.mime,
                "width": self.picture.width, "height": self.picture.height, "bytes": len(self.picture.data)}


class UploadIntake:
    """Uploads of one app (recorder, safety service and limits passed in)."""

    def __init__(self, recorder: Any, safety: Any, max_bytes: int, max_pixels: int):
        self.recorder = recorder
        self.safety = safety
        self.max_bytes = max_bytes
        self.max_pixels = max_pixels
        self._lock = threading.Lock()  # two first uploads under one new run id: one opens it, the other joins

    def accept(self, run_id: str, data: bytes, owner: RunOwner, lang: str) -> StoredUpload:
        """Clean, check and store one picture in a run; raise UploadRefused or SafetyBlocked (nothing stored)."""
        require_run_id(run_id)
        picture = clean(data, self.max_bytes, self.max_pixels)
        stored_level = self.recorder.metadata(run_id).get("safety_level") if self.recorder.exists(run_id) else None
        level = self.safety.level(stored_level, base=owner.level)
        verdict = self.safety.check_image(picture.data, level)  # None: no image-check model configured
        if verdict is not None and verdict.decision != "allow":
            raise SafetyBlocked("The picture did not pass the picture check.", code="image_refused",
                                details={"checkpoint": CHECKPOINT, "category": verdict.category,
                                         "message": {lg: self.safety.upload_message(verdict, lg)
                                                     for lg in ("de", "en")}})
        with self._lock:
            new = not self.recorder.exists(run_id)
            fields = {"status": "succeeded", "phase": "upload", "session": owner.session, "student": owner.student,
                      "safety_level": level, "lang": lang} if new else {}
            record = self.recorder.open_run(run_id, fields)
        file = record.save_entity(ITEM, picture.data, picture.extension)
        if not (record.folder / file).is_file():  # the recorder logs and swallows disk errors
            raise AppError("The picture could not be saved on the server.", code="storage_failed", status=503)
        if verdict is not None:
            record.event("stage1_safety_check", stage="stage1", media_type="image",
                         metadata={"file": file, **verdict.to_dict()})
        record.event(ITEM, stage="stage1", media_type="image", file=file, metadata=_item_metadata(picture, verdict))
        return StoredUpload(run_id, file, picture)


def _item_metadata(picture: CleanPicture, verdict: Verdict | None) -> dict[str, Any]:
    return {"mime": picture.mime, "width": picture.width, "height": picture.height, "bytes": len(picture.data),
            "sha256": hashlib.sha256(picture.data).hexdigest(), "metadata_removed": list(picture.removed),
            "checked": verdict is not None}

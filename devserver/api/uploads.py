"""`POST /api/uploads`: a student's picture into a run (multipart: `file`, `run_id`).

Answers 201 with the stored file name (what `input_image` names in stage2 and generation), its size
and type. A bad file is a 400/413 naming the limit, a picture the check refused a 422 with a
child-friendly message in `details.message`, someone else's run a 404 — and nothing is stored.
"""
from __future__ import annotations

from flask import Blueprint, current_app, jsonify, request
from werkzeug.exceptions import RequestEntityTooLarge

from devserver.access.control import control, principal, run_owner
from devserver.access.policy import no_such_run
from devserver.api import context
from devserver.errors import ValidationFailed
from devserver.recorder.run_id import require_run_id
from devserver.uploads.intake import UploadIntake
from devserver.uploads.picture import UploadRefused

bp = Blueprint("uploads", __name__, url_prefix="/api")
FORM_OVERHEAD = 64_000  # multipart boundaries, headers and the run_id field around the picture


@bp.post("/uploads")
def upload():
    """Take a picture into a run: type by its bytes, size and pixel limits, metadata stripped, checked, stored."""
    cfg = context.config()
    request.max_content_length = cfg.UPLOAD_MAX_BYTES + FORM_OVERHEAD
    try:
        run_id, picture = request.form.get("run_id"), request.files.get("file")
    except RequestEntityTooLarge:
        raise UploadRefused(f"The picture is larger than {cfg.UPLOAD_MAX_BYTES // 1_000_000} MB. Choose a smaller one.",
                            code="upload_too_large", status=413,
                            details={"limit_bytes": cfg.UPLOAD_MAX_BYTES}) from None
    if picture is None:
        raise ValidationFailed("Send the picture as the multipart field `file` (and the run id as `run_id`).",
                               code="file_missing")
    run_id = require_run_id(run_id)
    who, access = principal(), control()
    if access.run_owner(run_id) is not None and not access.can_access_run(who, run_id):
        raise no_such_run(run_id)
    current_app.extensions["devserver.run_limits"].admit_upload(who, access.workshop_of(who), cfg.UPLOADS_PER_MINUTE)
    data = picture.stream.read(cfg.UPLOAD_MAX_BYTES + 1)
    stored = current_app.extensions["devserver.uploads"].accept(run_id, data, run_owner(), context.lang())
    return jsonify(stored.to_dict()), 201


@bp.record_once
def _intake(setup) -> None:
    app = setup.app
    cfg = app.extensions["devserver.config"]
    app.extensions["devserver.uploads"] = UploadIntake(app.extensions["devserver.recorder"],
                                                       app.extensions["devserver.safety"],
                                                       cfg.UPLOAD_MAX_BYTES, cfg.UPLOAD_MAX_PIXELS)

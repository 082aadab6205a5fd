"""Run ids: one uuid4-shaped id per run, checked before it ever touches the filesystem."""
from __future__ import annotations

import re
from typing import Any

from devserver.errors import ValidationFailed

RUN_ID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
_EXAMPLE = "3f2b8c1e-7a4d-4e6b-9c0a-5d1e2f3a4b5c"


def valid_run_id(run_id: Any) -> bool:
    """Return whether `run_id` is a lower-case uuid-shaped string (nothing else is a safe folder name)."""
    # fullmatch, not match: `$` alone would accept a trailing newline.
    return isinstance(run_id, str) and len(run_id) == 36 and RUN_ID_RE.fullmatch(run_id) is not None


def require_run_id(run_id: Any) -> str:
    """Return `run_id` unchanged, or raise ValidationFailed(code="invalid_run_id")."""
    if valid_run_id(run_id):
        return run_id
    shown = run_id[:80] if isinstance(run_id, str) else repr(run_id)[:80]
    raise ValidationFailed(f"A run id looks like {_EXAMPLE} (lower-case hex digits and dashes).",
                           code="invalid_run_id", details={"run_id": shown})

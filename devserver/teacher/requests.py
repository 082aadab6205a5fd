"""Request bodies of the teacher endpoints (validated at the boundary, `extra="forbid"`)."""
from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from devserver.engine.requests import RULES_MAX, TEXT_MAX


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class DryRunRequest(Body):
    """An unsaved config and a sample idea to try it on."""

    config: dict[str, Any]
    input_text: str = Field(min_length=1, max_length=TEXT_MAX)
    lang: Literal["de", "en"] = "de"


class RestoreRequest(Body):
    """Which saved version to make current again."""

    version: int = Field(ge=1, le=2**63 - 1)  # SQLite's integer range


class OwnAttitudeRequest(Body):
    """A student's own rules, saved as a personal attitude for the session."""

    name: str = Field(min_length=1, max_length=60)
    context: str = Field(min_length=1, max_length=RULES_MAX)
    lang: Literal["de", "en"] = "de"


class ReleaseRequest(Body):
    """A teacher's written reason for releasing a blocked run."""

    reason: str = Field(min_length=10, max_length=2000)


class PublishRequest(Body):
    """Whether a student's attitude is shown to the whole session."""

    published: bool = True

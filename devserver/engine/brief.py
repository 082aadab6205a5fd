"""The storyboard brief: what Stage 2 of a storyboard asks the model for, and how its answer is checked.

A brief is a title, a logline and SCENES_MIN..SCENES_MAX scenes, each a short description and a
`generation_prompt` (the text an image model gets). The model's answer is constrained by `BRIEF_SCHEMA`
(llama.cpp compiles it into a grammar, Ollama gets it as `format`, OpenAI-style backends as
`response_format`) and then validated with pydantic, which also catches what a schema cannot say
(texts of blanks only). A malformed answer is asked for once more, more strictly; a second one fails
the run with a message a student understands, and every raw answer stays in the record for teachers.

After the student's edits a storyboard has 1..SCENES_MAX scenes: one scene is still a storyboard, a
student may well cut a brief down to the scene they like.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from devserver.backends.base import ChatResult
from devserver.engine.stages import ChatFn, PromptParts, chunk_options
from devserver.errors import AppError, BackendBadResponse
from devserver.schemas.models import LlmChunk

SCENES_MIN, SCENES_MAX = 4, 8
EDITED_MIN = 1
TITLE_MAX, LOGLINE_MAX, DESCRIPTION_MAX, PROMPT_MAX = 80, 240, 240, 300
RETRY_NOTE = ("Your last answer did not follow the required JSON format. Answer with one JSON object only: "
              f"title, logline and {SCENES_MIN} to {SCENES_MAX} scenes, each with description and generation_prompt.")


def _text(limit: int) -> dict[str, Any]:
    return {"type": "string", "minLength": 3, "maxLength": limit}


BRIEF_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "title": _text(TITLE_MAX),
        "logline": _text(LOGLINE_MAX),
        "scenes": {"type": "array", "minItems": SCENES_MIN, "maxItems": SCENES_MAX, "items": {
            "type": "object",
            "properties": {"description": _text(DESCRIPTION_MAX), "generation_prompt": _text(PROMPT_MAX)},
            "required": ["description", "generation_prompt"], "additionalProperties": False}},
    },
    "required": ["title", "logline", "scenes"],
    "additionalProperties": False,
}


class SceneText(BaseModel):
    """One scene as the model writes it (and as a student edits it)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    description: str = Field(min_length=1, max_length=DESCRIPTION_MAX)
    generation_prompt: str = Field(min_length=1, max_length=PROMPT_MAX)


class Brief(BaseModel):
    """The structured brief the model must answer with."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    title: str = Field(min_length=1, max_length=TITLE_MAX)
    logline: str = Field(min_length=1, max_length=LOGLINE_MAX)
    scenes: list[SceneText] = Field(min_length=SCENES_MIN, max_length=SCENES_MAX)


class BriefUnstructured(AppError):
    """The model could not write a brief in the required structure, twice."""

    status, code = 502, "brief_unstructured"


@dataclass
class BriefStep:
    """The validated brief, every call it took, and the raw answers that were rejected."""

    brief: Brief
    calls: list[ChatResult] = field(default_factory=list)
    rejected: list[dict[str, Any]] = field(default_factory=list)
    duration_ms: float = 0.0
    attempts: int = 1

    def record(self) -> dict[str, Any]:
        """Return the metadata the recorder stores (the last call's record, attempts, rejected answers)."""
        out: dict[str, Any] = {**self.calls[-1].record(), "attempts": self.attempts,
                               "duration_ms": round(self.duration_ms, 1), "json_schema": "storyboard_brief"}
        if self.rejected:
            out["raw_answers"] = self.rejected  # staff only (projection): never checked by any filter
        return out


def problems_of(exc: ValidationError) -> list[str]:
    """Return pydantic's complaints as short `field: problem` lines."""
    return [f"{'.'.join(str(p) for p in err['loc']) or 'answer'}: {err['msg']}" for err in exc.errors()][:10]


def write_brief(chat: ChatFn, chunk: LlmChunk, parts: PromptParts, *, temperature: float | None = None,
                max_tokens: int | None = None) -> BriefStep:
    """Ask the model for a brief under the JSON schema; retry a malformed answer once, then fail clearly."""
    started = time.perf_counter()
    options = chunk_options(chunk, temperature=temperature, max_tokens=max_tokens)
    calls: list[ChatResult] = []
    rejected: list[dict[str, Any]] = []
    for attempt in (1, 2):
        task = parts.task_instruction if attempt == 1 else f"{parts.task_instruction} {RETRY_NOTE}"
        messages = [{"role": "user", "content": PromptParts(task, parts.context, parts.input).render(
            chunk.prompt_template)}]
        sent = options if attempt == 1 else {**options, "temperature": min(options.get("temperature", 0.7), 0.3)}
        try:
            result = chat(chunk.model_role, messages, sent, json_schema=BRIEF_SCHEMA)
        except BackendBadResponse as err:  # an answer that is not JSON at all (cut off, or garbage)
            rejected.append({"attempt": attempt, "answer": str((err.details or {}).get("answer", ""))[:2000],
                             "problems": [err.message]})
            continue
        calls.append(result)
        try:
            brief = Brief.model_validate_json(result.text)
        except ValidationError as exc:
            rejected.append({"attempt": attempt, "answer": result.text[:2000], "problems": problems_of(exc)})
            continue
        return BriefStep(brief, calls, rejected, (time.perf_counter() - started) * 1000, attempt)
    raise BriefUnstructured(
        "The model could not turn your idea into scenes this time. Try again, or say your idea a little "
        "differently.", details={"raw_answers": rejected})

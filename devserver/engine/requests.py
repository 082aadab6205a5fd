"""Request bodies of the pipeline endpoints (validated at the boundary, `extra="forbid"`).

Field names keep the original system's: `schema`, `input_text`, `context_prompt`, `output_config(s)`,
`prompt`, `seed`, `run_id`, `safety_level`.
"""
from __future__ import annotations

import hashlib
import json
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from devserver.engine.brief import DESCRIPTION_MAX, EDITED_MIN, PROMPT_MAX, SCENES_MAX, TITLE_MAX
from devserver.recorder.run_id import RUN_ID_RE

Level = Literal["kids", "youth", "adult", "research"]
Lang = Literal["de", "en"]
TEXT_MAX = 5000
RULES_MAX = 10000
# a picture of this run (the file name the upload answered) or <run_id>/<file> of another run's picture
ENTITY_FILE = r"\d{2,}_[a-z0-9_]{1,40}\.[a-z0-9]{1,8}"
IMAGE_REF = rf"^(?:[0-9a-f-]{{36}}/)?{ENTITY_FILE}$"


def merge_outputs(single: str | None, many: list[str]) -> list[str]:
    """Return the chosen output ids from `output_config` and `output_configs` (at least one)."""
    ids = list(many)
    if single and single not in ids:
        ids.insert(0, single)
    if not ids:
        raise ValueError("name at least one output in output_config or output_configs")
    return ids


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    def recorded(self) -> dict:
        """Return the request as the run's `pipeline_start` item records it."""
        return self.model_dump(mode="json", by_alias=True)

    def outputs_added(self, state: Any) -> int:
        """Return how many results this phase adds to the run `state` (None: a new run), for the output limit."""
        return len(getattr(self, "output_configs", None) or [])

    def fingerprint(self) -> str:
        """Return a hash of the request, to recognise a retried POST."""
        data = self.model_dump(mode="json", exclude={"lang"})
        return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:16]


class Stage2Request(Body):
    """Stage 1 (safety, translation) and Stage 2 (interception) for a student's idea."""

    schema_: str = Field(alias="schema", min_length=1, max_length=64)
    input_text: str = Field(min_length=1, max_length=TEXT_MAX)
    context_prompt: str | None = Field(default=None, max_length=RULES_MAX)
    run_id: str | None = Field(default=None, pattern=RUN_ID_RE.pattern)
    safety_level: Level | None = None
    lang: Lang = "de"
    session: str | None = Field(default=None, max_length=64)
    input_image: str | None = Field(default=None, max_length=80, pattern=f"^{ENTITY_FILE}$",
                                    description="the uploaded picture of this run, for an attitude that takes one")

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, populate_by_name=True)

    @model_validator(mode="after")
    def _picture_in_run(self) -> "Stage2Request":
        if self.input_image is not None and self.run_id is None:
            raise ValueError("input_image names a picture uploaded to a run: send that run_id too")
        return self


class OptimizeRequest(Body):
    """Optimization of the interception result (or an edited text) for one output model."""

    run_id: str = Field(pattern=RUN_ID_RE.pattern)
    output_config: str = Field(min_length=1, max_length=64)
    prompt: str | None = Field(default=None, min_length=1, max_length=TEXT_MAX)
    lang: Lang = "de"


class GenerationRequest(Body):
    """Stages 3–4 for one or several outputs; texts may be edited, the seed chosen."""

    run_id: str | None = Field(default=None, pattern=RUN_ID_RE.pattern)
    output_config: str | None = Field(default=None, min_length=1, max_length=64)
    output_configs: list[str] = Field(default_factory=list, max_length=8)
    prompt: str | None = Field(default=None, min_length=1, max_length=TEXT_MAX)
    prompts: dict[str, str] = Field(default_factory=dict)
    seed: int | None = Field(default=None, ge=0, le=2**53)
    safety_level: Level | None = None
    lang: Lang = "de"
    input_image: str | None = Field(default=None, max_length=120, pattern=IMAGE_REF,
                                    description="a picture the output starts from (img2img, image to video)")
    denoise: float | None = Field(default=None, ge=0, le=1, description="how far the output may move from it")

    @model_validator(mode="after")
    def _outputs(self) -> "GenerationRequest":
        self.output_configs, self.output_config = merge_outputs(self.output_config, self.output_configs), None
        if self.run_id is None and self.prompt is None and not self.prompts:
            raise ValueError("without a run_id, send the prompt to generate from")
        unchosen = sorted(set(self.prompts) - set(self.output_configs))
        if unchosen:  # an edit for an output that is not generated would be silently lost
            raise ValueError(f"prompts names outputs that are not chosen: {', '.join(unchosen)}")
        if any(len(p) > TEXT_MAX or not p.strip() for p in self.prompts.values()):
            raise ValueError(f"every entry of prompts must have 1..{TEXT_MAX} characters")
        return self


class ExecuteRequest(Stage2Request):
    """All four stages in one call; `input_image` goes to the attitude and to every output that takes one."""

    output_config: str | None = Field(default=None, min_length=1, max_length=64)
    output_configs: list[str] = Field(default_factory=list, max_length=8)
    seed: int | None = Field(default=None, ge=0, le=2**53)
    denoise: float | None = Field(default=None, ge=0, le=1, description="for outputs that start from the picture")

    @model_validator(mode="after")
    def _outputs(self) -> "ExecuteRequest":
        self.output_configs, self.output_config = merge_outputs(self.output_config, self.output_configs), None
        return self


class StoryboardRequest(Stage2Request):
    """Stage 1 and the storyboard brief (a config whose pipeline is of type `storyboard`)."""


SCENE_ID = r"^s[0-9]{1,3}$"


class SceneEdit(Body):
    """One scene of an edited storyboard: an existing scene (`id`, texts omitted = unchanged) or a new one."""

    id: str | None = Field(default=None, pattern=SCENE_ID)
    description: str | None = Field(default=None, min_length=1, max_length=DESCRIPTION_MAX)
    generation_prompt: str | None = Field(default=None, min_length=1, max_length=PROMPT_MAX)

    @model_validator(mode="after")
    def _new_needs_texts(self) -> "SceneEdit":
        if self.id is None and (self.description is None or self.generation_prompt is None):
            raise ValueError("a new scene (no id) needs a description and a generation_prompt")
        return self


class SceneEditRequest(Body):
    """The student's storyboard after editing: the whole scene list in its new order (EDITED_MIN..SCENES_MAX)."""

    run_id: str = Field(pattern=RUN_ID_RE.pattern)
    title: str | None = Field(default=None, min_length=1, max_length=TITLE_MAX)
    scenes: list[SceneEdit] = Field(min_length=EDITED_MIN, max_length=SCENES_MAX)
    lang: Lang = "de"

    def recorded(self) -> dict:
        """Record which scenes came in which order and what changed; the texts go to checked `user_edit` items."""
        return {"run_id": self.run_id, "lang": self.lang, "title_sent": self.title is not None,
                "scenes": [{"id": s.id, "fields": sorted(k for k in ("description", "generation_prompt")
                                                         if getattr(s, k) is not None)} for s in self.scenes]}

    @model_validator(mode="after")
    def _unique(self) -> "SceneEditRequest":
        ids = [s.id for s in self.scenes if s.id is not None]
        if len(ids) != len(set(ids)):
            raise ValueError("a scene id appears twice in scenes")
        return self


class SceneGenerationRequest(Body):
    """Stages 3–4 for every scene of a storyboard with one output; scene n gets seed `seed + n - 1`."""

    run_id: str = Field(pattern=RUN_ID_RE.pattern)
    output_config: str = Field(min_length=1, max_length=64)
    seed: int | None = Field(default=None, ge=0, le=2**53 - SCENES_MAX)
    safety_level: Level | None = None
    lang: Lang = "de"

    def outputs_added(self, state: Any) -> int:
        """Every scene becomes a result of its own (a blocked one too: it is marked in its place)."""
        return len(((state.storyboard if state is not None else None) or {}).get("scenes") or [])

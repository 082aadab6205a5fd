"""Pydantic models for every JSON file under `schemas/` (all `extra="forbid"`).

chunk (`schemas/chunks/<name>.json`)            one operation: an LLM call or a media output
pipeline (`schemas/pipelines/<name>.json`)      structure only: ordered chunk names and a type
interception config (`configs/interception/`)   the attitude a student picks
output config (`configs/output/`)                which output chunk, media type, parameters
"""
from __future__ import annotations

from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, StrictBool, field_validator, model_validator

ID_PATTERN = r"^[a-z0-9][a-z0-9_]{1,63}$"
MediaType = Literal["image", "audio", "music", "video", "code", "text"]
PipelineType = Literal["prompt_interception", "recursive_interception", "media_generation", "storyboard"]
PLACEHOLDERS = ("{TASK_INSTRUCTION}", "{CONTEXT}", "{INPUT}")


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Localized(Strict):
    """A user-facing text in every UI language."""

    de: str = Field(min_length=1)
    en: str = Field(min_length=1)

    def get(self, lang: str) -> str:
        return getattr(self, lang, self.de)


class LlmParameters(Strict):
    """Sampling parameters; every one that is set is really sent to the backend."""

    temperature: float | None = Field(default=None, ge=0, le=2)
    top_p: float | None = Field(default=None, gt=0, le=1)
    seed: int | None = None
    max_tokens: int | None = Field(default=None, ge=1, le=8192)
    keep_alive: str | int | None = None
    repeat_penalty: float | None = Field(default=None, ge=1, le=2)  # > 1 discourages a small model's loops
    stop: list[str] | None = Field(default=None, max_length=4)  # the answer ends where one of these starts

    def sent(self) -> dict[str, Any]:
        """Return the parameters that are set."""
        return self.model_dump(exclude_none=True)


class LlmChunk(Strict):
    """A prompt template with the three visible parts, sent to the model of a role."""

    name: str = Field(pattern=ID_PATTERN)
    kind: Literal["llm"]
    description: str = ""
    model_role: str
    task_instruction: str = Field(min_length=10)
    prompt_template: str = "{TASK_INSTRUCTION}\n\nCONTEXT:\n{CONTEXT}\n\nINPUT:\n{INPUT}"
    parameters: LlmParameters = LlmParameters()

    @field_validator("prompt_template")
    @classmethod
    def _has_three_parts(cls, value: str) -> str:
        missing = [p for p in PLACEHOLDERS if p not in value]
        if missing:
            raise ValueError(f"prompt_template lacks {', '.join(missing)}")
        return value


class InputMapping(Strict):
    """Where a value goes: a ComfyUI node input (`node` + `field`) or a dotted path in a request body."""

    node: str | None = None
    field: str = Field(min_length=1)


class OutputChunk(Strict):
    """A media generator call: backend, media type, workflow or request body, and mappings."""

    name: str = Field(pattern=ID_PATTERN)
    kind: Literal["output"]
    description: str = ""
    backend: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    media_type: MediaType
    model: str = Field(min_length=1, description="the generator model, as the backend names it")
    model_role: str | None = Field(default=None, description="for LLM-made outputs (code): the role")
    workflow: dict[str, Any] | None = Field(default=None, description="ComfyUI API-format graph")
    request_body: dict[str, Any] | None = Field(default=None, description="cloud request template")
    input_mappings: dict[Literal["prompt", "negative_prompt", "seed", "width", "height", "steps",
                                 "duration", "cfg", "denoise", "input_image"], InputMapping] = Field(
        description="where each value goes; `input_image` (a ComfyUI LoadImage input) makes the output "
                    "start from the student's image, which it then needs")
    output_node: str | None = None
    optimization_instruction: Localized | None = None
    estimated_duration_seconds: float = Field(gt=0)
    vram_gb: float = Field(default=0, ge=0)
    required_models: tuple[str, ...] = ()

    @model_validator(mode="after")
    def _workflow_consistent(self) -> "OutputChunk":
        if "prompt" not in self.input_mappings and "input_image" not in self.input_mappings:
            raise ValueError("input_mappings must say where the prompt (or the input image) goes")
        if self.takes_image and self.workflow is None:
            raise ValueError("input_mappings.input_image: only a ComfyUI workflow can take an image")
        if self.workflow is not None:
            for key, mapping in self.input_mappings.items():
                if mapping.node is None:
                    raise ValueError(f"input_mappings.{key}: a ComfyUI mapping needs a node id")
                node = self.workflow.get(mapping.node)
                if not isinstance(node, dict) or "class_type" not in node:
                    raise ValueError(f"input_mappings.{key}: node {mapping.node!r} is not in the workflow")
                if mapping.field not in node.get("inputs", {}):
                    raise ValueError(f"input_mappings.{key}: node {mapping.node!r} has no input {mapping.field!r}")
            if self.output_node is None or self.output_node not in self.workflow:
                raise ValueError("output_node must name a node of the workflow")
        return self

    @property
    def takes_image(self) -> bool:
        """Tell whether this output starts from an image (img2img, image → video) and so needs one."""
        return "input_image" in self.input_mappings


Chunk = Annotated[Union[LlmChunk, OutputChunk], Field(discriminator="kind")]


class Pipeline(Strict):
    """Structure only: which chunks run in which order, and how."""

    name: str = Field(pattern=ID_PATTERN)
    type: PipelineType
    description: str = ""
    chunks: tuple[str, ...] = Field(min_length=1)
    iterations: int | None = Field(default=None, ge=1, le=20)
    input_requirements: dict[str, bool] = {"text": True}

    @model_validator(mode="after")
    def _iterations_for_recursive(self) -> "Pipeline":
        if self.type == "recursive_interception" and not self.iterations:
            raise ValueError("a recursive_interception pipeline needs iterations")
        return self


class Display(Strict):
    icon: str = Field(min_length=1, max_length=8)
    color: str = Field(pattern=r"^#[0-9a-fA-F]{6}$")
    order: int = 100


class Audience(Strict):
    min_age: int = Field(default=0, ge=0, le=99)


class InterceptionParameters(Strict):
    """Per-config overrides of the chunk's sampling and of the recursion."""

    temperature: float | None = Field(default=None, ge=0, le=2)
    max_tokens: int | None = Field(default=None, ge=1, le=8192)
    iterations: int | None = Field(default=None, ge=1, le=20)
    languages: tuple[str, ...] = ()


class MediaPreferences(Strict):
    default_output: str | None = None
    preferred_media: tuple[MediaType, ...] = ()


class InterceptionConfig(Strict):
    """An attitude a student can pick: the CONTEXT of the interception."""

    id: str = Field(pattern=ID_PATTERN)
    version: int = Field(default=1, ge=1)
    pipeline: str
    name: Localized
    description: Localized
    category: Localized
    context: Localized | None = Field(description="null only for user_defined: the student writes it")
    parameters: InterceptionParameters = InterceptionParameters()
    display: Display
    audience: Audience = Audience()
    media_preferences: MediaPreferences = MediaPreferences()
    takes_image: StrictBool = Field(default=False, description="the student adds a picture; VISION_MODEL describes it "
                                                         "and the description joins the INPUT")


class OutputParameters(Strict):
    width: int | None = Field(default=None, ge=64, le=4096)
    height: int | None = Field(default=None, ge=64, le=4096)
    steps: int | None = Field(default=None, ge=1, le=200)
    cfg: float | None = Field(default=None, ge=0, le=30)
    duration: float | None = Field(default=None, gt=0, le=600)
    seed_policy: Literal["random", "fixed"] = "random"
    seed: int | None = Field(default=None, ge=0)


class OutputConfig(Strict):
    """A media model a student can pick."""

    id: str = Field(pattern=ID_PATTERN)
    version: int = Field(default=1, ge=1)
    chunk: str
    media_type: MediaType
    name: Localized
    description: Localized
    parameters: OutputParameters = OutputParameters()
    display: Display
    audience: Audience = Audience()


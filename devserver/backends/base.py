"""The contract every provider implements, and the typed results it returns.

Two kinds of backend:

* `LlmBackend.chat(messages, model, options, json_schema=None, on_token=None) -> ChatResult`
  (and `complete(prompt, model, options)` for a raw prompt, where the provider takes one)
* `MediaBackend.generate(request, on_progress=None, cancel=None) -> MediaResult`

Identity and capabilities are class attributes (`backend_id`, `display_name`, `kind`,
`capabilities`). Every result carries what a run record needs to reproduce the call: the model
requested and the model actually used, every parameter sent (secrets removed), timings, token usage,
cost where reported, and the provider's own ids. Errors are the `BackendError` family from
`devserver.errors`; a backend never returns an error as content.
"""
from __future__ import annotations

import hashlib
import re
import threading
from dataclasses import dataclass, field
from typing import Any, Callable, ClassVar, Literal, Mapping, Sequence

from devserver.errors import BackendError
from devserver.redaction import redact, redact_text

Message = Mapping[str, Any]  # {"role": "system|user|assistant", "content": "...", "images"?: [bytes, ...]}
TokenCallback = Callable[[str], None]
SECRET_WORDS = frozenset({"authorization", "password", "passwd", "secret", "apikey", "bearer", "cookie"})


@dataclass
class Progress:
    """A progress report from a running media job (ComfyUI sampler steps and the like)."""

    current: int
    total: int
    node: str | None = None
    message: str = ""
    queue: int | None = None  # prompts ahead in the backend's own queue (0 = running); no progress by itself


ProgressCallback = Callable[[Progress], None]


class CancelToken:
    """Set by the orchestrator to ask a running backend call to stop."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def wait(self, seconds: float) -> bool:
        """Sleep up to `seconds`; return True as soon as cancellation is requested."""
        return self._event.wait(seconds)


@dataclass
class ChatResult:
    """What an LLM call produced, with everything needed to reproduce it."""

    text: str
    backend: str
    model_requested: str
    model_used: str
    parameters: dict[str, Any]
    duration_ms: float
    usage: dict[str, int] = field(default_factory=dict)
    cost: float | None = None
    ids: dict[str, str] = field(default_factory=dict)
    finish_reason: str | None = None
    attempts: list[dict[str, Any]] = field(default_factory=list)
    logprobs: list[dict[str, Any]] | None = None  # per answer token {token, logprob, top_logprobs}, when asked for
    chat_request: dict[str, Any] = field(default_factory=dict)  # model_ref, messages, options, json_schema (set by the router)

    def record(self) -> dict[str, Any]:
        """Return the JSON-safe metadata for the run record: the call as sent, the answer only as a hash."""
        out = {"backend": self.backend, "model_requested": self.model_requested, "model_used": self.model_used,
               "parameters": scrub(self.parameters), "duration_ms": round(self.duration_ms, 1),
               "usage": self.usage, "cost": self.cost, "ids": self.ids, "finish_reason": self.finish_reason,
               "attempts": self.attempts, "chat_request": scrub(self.chat_request), "answer_sha256": sha256_text(self.text)}
        if self.logprobs is not None:
            out["logprobs"] = self.logprobs
        return out


@dataclass
class MediaFile:
    """One generated file, already downloaded: bytes, MIME type and a suggested file name."""

    data: bytes
    mime: str
    name: str


@dataclass
class MediaRequest:
    """Everything a media backend needs for one output."""

    prompt: str
    chunk: Any  # devserver.schemas.models.OutputChunk
    negative_prompt: str = ""
    seed: int | None = None
    width: int | None = None
    height: int | None = None
    steps: int | None = None
    cfg: float | None = None
    duration: float | None = None
    denoise: float | None = None  # img2img: how far the output may move from `input_image` (0..1)
    input_image: MediaFile | None = None  # an image the output starts from (img2img, image → video)
    job_id: str = ""  # derived from run id + output index; ComfyUI derives each attempt's prompt_id from it
    attempt: int = 1  # set by the router: 1 for the first try, 2 for the first retry ...
    deadline: float | None = None  # time.monotonic() by which the whole job (retries included) must end

    def values(self) -> dict[str, Any]:
        """Return the mappable values that are set (for input mappings)."""
        names = ("prompt", "negative_prompt", "seed", "width", "height", "steps", "cfg", "duration", "denoise")
        return {n: getattr(self, n) for n in names if getattr(self, n) not in (None, "")}


@dataclass
class MediaResult:
    """What a media call produced: files and everything needed to reproduce it."""

    files: list[MediaFile]
    backend: str
    model_requested: str
    model_used: str
    parameters: dict[str, Any]
    duration_ms: float
    cost: float | None = None
    ids: dict[str, str] = field(default_factory=dict)
    usage: dict[str, int] = field(default_factory=dict)
    attempts: list[dict[str, Any]] = field(default_factory=list)

    def record(self) -> dict[str, Any]:
        """Return the JSON-safe metadata for the run record (without the bytes)."""
        return {"backend": self.backend, "model_requested": self.model_requested, "model_used": self.model_used,
                "parameters": scrub(self.parameters), "duration_ms": round(self.duration_ms, 1),
                "cost": self.cost, "ids": self.ids, "usage": self.usage, "attempts": self.attempts,
                "files": [{"name": f.name, "mime": f.mime, "bytes": len(f.data),
                           "sha256": hashlib.sha256(f.data).hexdigest()} for f in self.files]}


@dataclass
class Health:
    """A backend's state as /api/health shows it."""

    state: Literal["ok", "unreachable", "not_configured", "cooldown", "error"]
    detail: str = ""
    version: str | None = None
    models: list[str] = field(default_factory=list)
    latency_ms: float | None = None
    instances: list[dict[str, Any]] = field(default_factory=list)  # one entry per server when there are several

    def to_dict(self) -> dict[str, Any]:
        out = {"state": self.state, "detail": self.detail, "version": self.version, "models": self.models,
               "latency_ms": None if self.latency_ms is None else round(self.latency_ms, 1)}
        if self.instances:
            out["instances"] = self.instances
        return redact(out)  # a provider's error text may carry our key


class Backend:
    """Common identity of every provider."""

    backend_id: ClassVar[str] = ""
    display_name: ClassVar[str] = ""
    kind: ClassVar[Literal["llm", "media"]] = "llm"
    capabilities: ClassVar[frozenset[str]] = frozenset()
    default_concurrency: ClassVar[int] = 4

    def health(self) -> Health:
        """Tell whether the backend can serve requests now (cheap; may be cached by callers)."""
        raise NotImplementedError

    def has_model(self, model: str) -> bool | None:
        """Tell whether a model is installed (None when the backend cannot tell)."""
        return None

    def missing_parts(self, chunk: Any) -> dict[str, list[str]]:
        """Return what the backend lacks to run an output chunk, e.g. {"models": [...], "nodes": [...]}.

        Empty when it has everything or cannot tell (the call itself will then say what is missing).
        """
        models = [model for model in getattr(chunk, "required_models", ()) if self.has_model(model) is False]
        return {"models": models} if models else {}

    def instances(self) -> int:
        """Return how many servers this backend spreads its work over (its concurrency scales with it)."""
        return 1

    def model_capabilities(self, model: str) -> frozenset[str] | None:
        """Return what a model can do (e.g. `vision`), None when the backend cannot tell."""
        return None

    def attach(self, router: Any) -> None:
        """Receive the app's router (for backends that call other backends, e.g. code made by an LLM)."""

    def close(self) -> None:
        """Release connections, threads and loaded models."""


class LlmBackend(Backend):
    """A chat model provider."""

    kind = "llm"

    def chat(self, messages: Sequence[Message], model: str, options: Mapping[str, Any],
             json_schema: Mapping[str, Any] | None = None, on_token: TokenCallback | None = None) -> ChatResult:
        """Send a chat; return the answer, constrained to `json_schema` when one is given.

        A message may carry `images` (raw bytes of PNG/JPEG pictures) for vision models; a backend
        without vision sends them in its API's own way or fails with a BackendError."""
        raise NotImplementedError

    def complete(self, prompt: str, model: str, options: Mapping[str, Any]) -> ChatResult:
        """Send a raw prompt that bypasses the model's chat template (guards taking one policy per prompt)."""
        raise BackendError(f"{self.display_name or self.backend_id} cannot take a raw prompt; use an Ollama model",
                           backend=self.backend_id, code="raw_prompt_unsupported")

    def unload(self, model: str) -> None:
        """Free the model's memory now (Ollama keep_alive 0); a no-op where meaningless."""

    def is_demo(self, model: str) -> bool:
        """Tell whether a model is a tiny demo model that measurably cannot translate (docs/BACKENDS.md)."""
        return False


class MediaBackend(Backend):
    """A media generator."""

    kind = "media"

    def generate(self, request: MediaRequest, on_progress: ProgressCallback | None = None,
                 cancel: CancelToken | None = None) -> MediaResult:
        """Generate the media for one output and return the downloaded files."""
        raise NotImplementedError

    def job_seconds(self) -> float | None:
        """Return how long one job may take in all, retries included (None: each call bounds itself)."""
        return None


def is_secret_key(key: Any) -> bool:
    """Tell whether a key names a secret (api_key, access_token, Authorization — not max_tokens)."""
    parts = [p for p in re.split(r"[^a-z0-9]+", str(key).lower()) if p]
    return (any(p in SECRET_WORDS for p in parts) or ("api" in parts and "key" in parts)
            or (bool(parts) and parts[-1] in ("token", "key") and len(parts) <= 3 and parts[0] != "max"))


def sha256_text(text: str) -> str:
    """Return the hex SHA-256 of a text's UTF-8 bytes (how the record fingerprints model answers)."""
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def scrub(value: Any) -> Any:
    """Return a copy with secret-looking keys replaced and secret values redacted, for records and logs."""
    if isinstance(value, Mapping):
        return {k: ("***" if is_secret_key(k) else scrub(v)) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [scrub(v) for v in value]
    if isinstance(value, str):
        return redact_text(value)
    return value


def split_model_ref(ref: str) -> tuple[str, str]:
    """Split `provider/model` into its two parts (the model may contain further slashes)."""
    provider, sep, model = ref.partition("/")
    if not sep or not provider or not model:
        raise BackendError(f"model reference {ref!r} is not of the form provider/model", code="bad_model_ref")
    return provider, model

"""A fake Ollama speaking the native API as `shared/reference/ollama.md` records it.

`POST /api/chat` streams NDJSON (`done: false` pieces, then a `done: true` line with durations in
ns and token counts) or answers in one object with `stream: false`; it honours `format` (answers a
canned JSON object), `options.num_predict` (cuts the answer, `done_reason: "length"`) and
`keep_alive` (empty `messages` load or, with keep_alive 0, unload the model; `/api/ps` shows what
is loaded). `/api/tags` lists the installed models with digests; `/api/version` the version;
`/api/show` a model's `capabilities` (`vision` for vision-model names).

Guard and vision models answer in their own formats (see `tests/fakes/vision.py`): a model whose
name starts with `llama-guard` answers `safe` / `unsafe\nS10`, one starting with `shieldgemma` answers
`Yes` / `No` (with first-token `logprobs` when asked), both decided by a marker in the last user
turn; `POST /api/generate` with `raw: true` to ShieldGemma answers its one-policy prompt the same
way. A message with `images` (base64) is decoded like Ollama does (undecodable → HTTP 400) and, with
`format` set (or to a Llama Guard), judged by the pictures: unsafe when one looks like a picture in
`unsafe_images`; without `format`, described by their main colour (or with `description`).

Failure modes — set `fake.mode`:
  ok                answer normally
  slow              say nothing for `delay` seconds before the head (at most `slots` calls at once)
  stall             send two pieces, then go quiet for `delay` seconds
  trickle           send a piece every `trickle_interval` seconds, never finishing
  server_error      HTTP 500 `{"error": ...}`
  rate_limited      HTTP 429 `{"error": ...}`
  malformed         HTTP 200 with a line that is not JSON
  mid_stream_error  HTTP 200, two pieces, then an `{"error": ...}` line and no `done`
  truncated         HTTP 200, two pieces, then the stream ends without `done`
  missing_model     HTTP 404 as for a model that was never pulled (unknown models always get it)
"""
from __future__ import annotations

import contextlib
import hashlib
import itertools
import json
import re
import threading
from datetime import datetime, timezone
from typing import Any

from tests.fakes.server import FakeApp, Reply, Request
from tests.fakes.vision import (decode_b64, describe, image_verdict, llama_guard_answer, pixel_digest, shieldgemma_answer,
                                shieldgemma_logprobs, shieldgemma_policy_answer)

VERSION = "0.12.6"
ZERO_KEEP_ALIVE = (0, "0", "0s", "0m")
VISION_WORDS = ("vision", "vl", "llava", "llama-guard4", "gemma3")  # model names /api/show reports as seeing
FINAL_TIMINGS = {"total_duration": 2_400_000_000, "load_duration": 400_000_000,
                 "prompt_eval_duration": 300_000_000, "eval_duration": 1_600_000_000}


def digest_of(name: str) -> str:
    """Return a stable 64-hex digest for a model name, as /api/tags lists them."""
    return hashlib.sha256(name.encode()).hexdigest()


def _now() -> str:
    return datetime.now(timezone.utc).isoformat().replace("+00:00", "Z")


def _full(model: str) -> str:
    return model if ":" in model else f"{model}:latest"


class OllamaFake(FakeApp):
    """An Ollama server on 127.0.0.1 with switchable failure modes; use as a context manager."""

    routes = {("POST", "/api/chat"): "chat", ("POST", "/api/generate"): "generate", ("GET", "/api/tags"): "tags",
              ("GET", "/api/ps"): "ps", ("GET", "/api/version"): "version", ("POST", "/api/show"): "show"}

    def __init__(self, models: tuple[str, ...] = ("llama3.2:latest", "gpt-oss:20b")) -> None:
        super().__init__()
        self.models = {name: digest_of(name) for name in models}
        self.loaded: set[str] = set()
        self.mode = "ok"
        self.delay = 5.0
        self.trickle_interval = 0.2
        self.answer = "A small red boat sails across the calm blue sea at dawn."
        self.json_answer: dict[str, Any] = {"safe": True, "categories": [], "reason": "harmless"}
        self.json_answers: list[Any] = []  # answered (first first) before json_answer; a str is sent as it is
        self.unsafe_images: set[bytes] = set()  # thumbnails (tests.fakes.vision.pixel_digest) a vision model flags
        self.images_seen: list[bytes] = []
        self.vision_answer: dict[str, Any] | None = None  # answer pictures with this instead of judging them
        self.description: str | None = None  # describe pictures with this instead of by their colour
        # like OLLAMA_NUM_PARALLEL: in "slow" mode at most this many calls think at once, the rest wait
        self.slots: threading.Semaphore | None = None

    def chat_bodies(self) -> list[dict[str, Any]]:
        """Return the JSON bodies of every /api/chat request received."""
        return [r.json() for r in self.received("/api/chat")]

    def chat(self, request: Request, reply: Reply) -> None:
        body = request.json()
        if self.mode == "slow":
            with self.slots or contextlib.nullcontext():
                self.sleep(self.delay)
        failure = {"server_error": (500, "llama runner process has terminated: signal: killed"),
                   "rate_limited": (429, "server busy, please try again.  maximum pending requests exceeded")}
        if self.mode in failure:
            status, message = failure[self.mode]
            return reply.json(status, {"error": message})
        if self.mode == "malformed":
            reply.start_stream(200, "application/x-ndjson")
            reply.chunk(b'{"model": "x", "message": {"role": "assist\n')
            return reply.end_stream()
        name = _full(body.get("model", ""))
        if self.mode == "missing_model" or name not in self.models:
            return reply.json(404, {"error": f"model \"{body.get('model')}\" not found, try pulling it first"})
        unload = body.get("keep_alive") in ZERO_KEEP_ALIVE
        self._keep(name, unload)
        if not body.get("messages"):
            return self._load(body, unload, reply)
        try:
            images = [decode_b64(i) for m in body["messages"] for i in m.get("images") or ()]
        except ValueError:
            return reply.json(400, {"error": "illegal base64 data at input byte 0"})
        try:
            for image in images:
                pixel_digest(image)
        except ValueError:
            return reply.json(400, {"error": "failed to process inputs: image: unknown format"})
        self.images_seen.extend(images)
        self._answer(body, reply, images)

    def generate_bodies(self) -> list[dict[str, Any]]:
        """Return the JSON bodies of every /api/generate request received."""
        return [r.json() for r in self.received("/api/generate")]

    def generate(self, request: Request, reply: Reply) -> None:
        """Answer `/api/generate` without streaming; a raw ShieldGemma prompt gets its one-policy verdict."""
        body = request.json()
        if self.mode in ("server_error", "missing_model") or _full(body.get("model", "")) not in self.models:
            status = 500 if self.mode == "server_error" else 404
            return reply.json(status, {"error": f"model \"{body.get('model')}\" not found, try pulling it first"
                                       if status == 404 else "llama runner process has terminated"})
        self._keep(_full(body["model"]), body.get("keep_alive") in ZERO_KEEP_ALIVE)
        prompt = str(body.get("prompt") or "")
        if body.get("raw") and body["model"].startswith("shieldgemma"):
            text = shieldgemma_policy_answer(prompt)
        else:
            text = self.answer
        final: dict[str, Any] = {"model": body["model"], "created_at": _now(), "response": text, "done": True,
                                 "done_reason": "stop", "prompt_eval_count": len(prompt.split()),
                                 "eval_count": len(text.split()), **FINAL_TIMINGS}
        if body.get("logprobs"):
            final["logprobs"] = shieldgemma_logprobs(text, body.get("top_logprobs") or 0)
        reply.json(200, final)

    def _keep(self, name: str, unload: bool) -> None:
        """Track what /api/ps shows: keep_alive 0 unloads the model, anything else keeps it loaded."""
        if unload:
            self.loaded.discard(name)
        else:
            self.loaded.add(name)

    def _load(self, body: dict[str, Any], unload: bool, reply: Reply) -> None:
        """Answer a chat without messages: the model was loaded or unloaded."""
        line = {"model": body["model"], "created_at": _now(), "message": {"role": "assistant", "content": ""},
                "done_reason": "unload" if unload else "load", "done": True}
        if body.get("stream", True):
            reply.start_stream(200, "application/x-ndjson")
            reply.chunk(json.dumps(line).encode() + b"\n")
            return reply.end_stream()
        reply.json(200, line)

    def _reply(self, body: dict[str, Any], images: list[bytes]) -> tuple[str, list[dict[str, Any]] | None]:
        """Return the answer text for a chat (and first-token logprobs where the model and request have them)."""
        name = body["model"].rsplit("/", 1)[-1]
        said = next((str(m.get("content", "")) for m in reversed(body["messages"]) if m.get("role") == "user"), "")
        if name.startswith("llama-guard"):
            return llama_guard_answer(said, images, self.unsafe_images), None
        if name.startswith("shieldgemma"):
            answer = shieldgemma_answer(said)
            top = body.get("top_logprobs") or 0
            if not body.get("logprobs"):
                return answer, None
            return answer, shieldgemma_logprobs(answer, top)
        if images and body.get("format"):
            return json.dumps(self.vision_answer or image_verdict(images, self.unsafe_images)), None
        if body.get("format") and self.json_answers:
            queued = self.json_answers.pop(0)
            return (queued if isinstance(queued, str) else json.dumps(queued)), None
        if images:  # asked to look at a picture without a verdict schema: a description
            return self.description or describe(images), None
        return (json.dumps(self.json_answer) if body.get("format") else self.answer), None

    def _answer(self, body: dict[str, Any], reply: Reply, images: list[bytes]) -> None:
        """Answer a chat: canned text (or JSON when `format` is set), cut at num_predict."""
        text, logprobs = self._reply(body, images)
        pieces = re.findall(r"\S+\s*", text)
        limit = (body.get("options") or {}).get("num_predict")
        reason = "stop"
        if limit and len(pieces) > limit:
            pieces, reason = pieces[:limit], "length"
        prompt_words = sum(len(str(m.get("content", "")).split()) for m in body["messages"])
        final = {"model": body["model"], "created_at": _now(), "message": {"role": "assistant", "content": ""},
                 "done": True, "done_reason": reason, "prompt_eval_count": prompt_words, "eval_count": len(pieces),
                 **FINAL_TIMINGS}
        if body.get("stream", True) is False:
            final["message"]["content"] = "".join(pieces)
            if logprobs is not None:
                final["logprobs"] = logprobs
            return reply.json(200, final)
        reply.start_stream(200, "application/x-ndjson")
        for index, piece in enumerate(itertools.repeat("more ") if self.mode == "trickle" else pieces):
            if index == 2 and self._broken_stream(reply):
                return
            line: dict[str, Any] = {"model": body["model"], "created_at": _now(),
                                    "message": {"role": "assistant", "content": piece}, "done": False}
            if index == 0 and logprobs is not None:
                line["logprobs"] = logprobs
            reply.chunk(json.dumps(line).encode() + b"\n")
            if self.mode == "trickle":
                self.sleep(self.trickle_interval)
                if self.stopping.is_set():
                    return reply.drop()
        reply.chunk(json.dumps(final).encode() + b"\n")
        reply.end_stream()

    def _broken_stream(self, reply: Reply) -> bool:
        """Break the stream after two pieces as the failure mode says; tell whether it did."""
        if self.mode == "mid_stream_error":
            reply.chunk(json.dumps({"error": "an error was encountered while running the model: unexpected EOF"})
                        .encode() + b"\n")
            reply.end_stream()
            return True
        if self.mode == "truncated":
            reply.end_stream()
            return True
        if self.mode == "stall":
            self.sleep(self.delay)
            reply.drop()
            return True
        return False

    def _model_entry(self, name: str) -> dict[str, Any]:
        return {"name": name, "model": name, "modified_at": "2025-09-01T10:00:00Z", "size": 2_019_393_189,
                "digest": self.models[name], "details": {"parent_model": "", "format": "gguf", "family": "llama",
                                                         "families": ["llama"], "parameter_size": "3.2B",
                                                         "quantization_level": "Q4_K_M"}}

    def show(self, request: Request, reply: Reply) -> None:
        """Describe a model: `capabilities` has `vision` for names of vision models (and Llama Guard 4)."""
        name = _full(str((request.json() or {}).get("model", "")))
        if name not in self.models:
            return reply.json(404, {"error": f"model '{name}' not found"})
        seeing = any(word in name for word in VISION_WORDS)
        reply.json(200, {"modelfile": "", "parameters": "temperature 0", "template": "{{ .Prompt }}",
                         "details": self._model_entry(name)["details"], "model_info": {},
                         "capabilities": ["completion", *(["vision"] if seeing else [])],
                         "modified_at": "2025-09-01T10:00:00Z"})

    def tags(self, request: Request, reply: Reply) -> None:
        reply.json(200, {"models": [self._model_entry(name) for name in sorted(self.models)]})

    def ps(self, request: Request, reply: Reply) -> None:
        reply.json(200, {"models": [{**self._model_entry(name), "expires_at": "2099-01-01T00:00:00Z",
                                     "size_vram": 2_019_393_189, "context_length": 4096}
                                    for name in sorted(self.loaded)]})

    def version(self, request: Request, reply: Reply) -> None:
        reply.json(200, {"version": VERSION})

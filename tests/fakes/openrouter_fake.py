"""A fake OpenRouter (OpenAI-style chat API) as `shared/reference/openrouter.md` records it.

`POST /chat/completions` needs `Authorization: Bearer <api_key>` (unless `api_key` is None, as for
a local llama.cpp-style server), answers in the OpenAI shape with `usage` incl. `cost` and `model`
= the model actually used: with `models: [...]` it skips models listed in `down_models`. A request
with `modalities` containing "image" gets a real PNG as a data URL in `message.images`.
`response_format` json_schema gets the canned `json_answer` — or, when the messages carry pictures
(`image_url` parts with data URLs), a verdict on them: unsafe when a picture looks like one in
`unsafe_images` (see `tests/fakes/vision.py`; an undecodable picture gets HTTP 400); a `llama-guard`
model answers in Llama Guard's format instead; `max_tokens` cuts the answer
(`finish_reason: "length"`). `GET /key` reports the key's credit, `GET /models` the models.

Failure modes — set `fake.mode`:
  ok             answer normally
  slow           say nothing for `delay` seconds
  http_error     HTTP `error_status` with an `{error: {code, message}}` body (+ Retry-After on 429/503)
  rate_limited   HTTP 429 with `Retry-After: <retry_after>`
  error_in_body  HTTP 200 whose body is `{error: {code: error_status, message, metadata}}`
  malformed      HTTP 200 with a body that is not JSON
  cut            HTTP 200, half a JSON body, then the connection drops
  no_image       image requests get text only
  bad_image      image requests get a data URL whose bytes are not an image
Unknown models get HTTP 404; a model in `down_models` without a fallback gets HTTP 502.

With `image_links` set, images come as http URLs of `GET /files/<name>` instead of data URLs (some
providers link to a CDN); that route answers 503 for the next `file_failures` requests, and 404 for
a file in `files_gone`. `echo_key` puts the request's Authorization header into every error message,
as a careless provider does; `fail_images` answers image requests with HTTP `error_status`.
"""
from __future__ import annotations

import base64
import hashlib
import io
import itertools
import json
import re
import time
from typing import Any

from PIL import Image

from tests.fakes.server import FakeApp, Reply, Request
from tests.fakes.vision import decode_b64, image_verdict, llama_guard_answer, pixel_digest

DEFAULT_MODELS = ("openai/gpt-4o-mini", "meta-llama/llama-3.1-8b-instruct", "google/gemini-2.5-flash-image",
                  "meta-llama/llama-guard-4-12b")
MODERATION_METADATA = {"reasons": ["violence"], "flagged_input": "…", "provider_name": "FakeProvider",
                       "model_slug": "openai/gpt-4o-mini"}


def tiny_png(width: int = 8, height: int = 8, text: str = "") -> bytes:
    """Return a real PNG of one colour derived from `text`."""
    colour = tuple(hashlib.sha256(text.encode()).digest()[:3])
    out = io.BytesIO()
    Image.new("RGB", (width, height), colour).save(out, format="PNG")
    return out.getvalue()


def data_url(data: bytes, mime: str = "image/png") -> str:
    """Return bytes as a base64 data URL."""
    return f"data:{mime};base64,{base64.b64encode(data).decode()}"


class OpenRouterFake(FakeApp):
    """An OpenRouter-like server on 127.0.0.1 with switchable failure modes; use as a context manager."""

    routes = {("POST", "/chat/completions"): "chat", ("GET", "/key"): "key", ("GET", "/models"): "models_list",
              ("GET", "/files/"): "file"}

    def __init__(self, api_key: str | None = "sk-or-test-key", models: tuple[str, ...] = DEFAULT_MODELS) -> None:
        super().__init__()
        self.api_key = api_key
        self.known_models = set(models)
        self.down_models: set[str] = set()
        self.mode = "ok"
        self.error_status = 502
        self.retry_after = "3"
        self.delay = 5.0
        self.cost = 0.000123
        self.answer = "A lighthouse keeper paints the storm in seven colours."
        self.json_answer: dict[str, Any] = {"safe": True, "categories": [], "reason": "harmless"}
        self.image_links = False
        self.files: dict[str, bytes] = {}
        self.file_failures = 0
        self.files_gone: set[str] = set()
        self.echo_key = False
        self.fail_images = False
        self._auth = ""
        self.unsafe_images: set[bytes] = set()
        self.images_seen: list[bytes] = []
        self._ids = itertools.count(1)

    def chat_bodies(self) -> list[dict[str, Any]]:
        """Return the JSON bodies of every chat request received."""
        return [r.json() for r in self.received("/chat/completions")]

    def _error(self, reply: Reply, status: int, message: str, http_status: int | None = None,
               metadata: dict[str, Any] | None = None) -> None:
        headers = {"Retry-After": self.retry_after} if status in (429, 503) else {}
        if self.echo_key:
            message = f"{message} (request had Authorization: {self._auth})"
        error: dict[str, Any] = {"code": status, "message": message}
        if metadata:
            error["metadata"] = metadata
        reply.json(status if http_status is None else http_status, {"error": error}, headers)

    def chat(self, request: Request, reply: Reply) -> None:
        self._auth = request.headers.get("authorization", "")
        if self.api_key is not None and request.headers.get("authorization") != f"Bearer {self.api_key}":
            return self._error(reply, 401, "No cookie auth credentials found")
        if self.mode == "slow":
            self.sleep(self.delay)
        if self.mode == "http_error":
            return self._error(reply, self.error_status, "Provider returned error")
        if self.mode == "rate_limited":
            return self._error(reply, 429, "Rate limit exceeded: free-models-per-min")
        if self.mode == "error_in_body":
            metadata = MODERATION_METADATA if self.error_status == 403 else None
            return self._error(reply, self.error_status, "Provider returned error", 200, metadata)
        if self.mode == "malformed":
            return reply.send(200, b'{"id": "gen-1", "choices": [{"message": ', "application/json")
        if self.mode == "cut":
            reply.start_stream(200, "application/json")
            reply.chunk(b'{"id": "gen-1", "choices": [{"message": ')
            return reply.drop()
        body = request.json()
        if self.fail_images and "image" in (body.get("modalities") or []):
            return self._error(reply, self.error_status, "Provider returned error")
        candidates = body.get("models") or [body.get("model")]
        usable = [m for m in candidates if m in self.known_models and m not in self.down_models]
        if not usable:
            if any(m in self.known_models for m in candidates):
                return self._error(reply, 502, f"{candidates[0]} is temporarily unavailable")
            return self._error(reply, 404, f"No endpoints found for {candidates[0]}.")
        try:
            images = [decode_b64(part["image_url"]["url"]) for m in body.get("messages") or []
                      if isinstance(m.get("content"), list) for part in m["content"] if part.get("type") == "image_url"]
            for image in images:
                pixel_digest(image)
        except (ValueError, KeyError, TypeError):
            return self._error(reply, 400, "Invalid image_url: expected a base64 data URL of a picture")
        self.images_seen.extend(images)
        reply.json(200, self._completion(body, usable[0], images))

    def _completion(self, body: dict[str, Any], used: str, images: list[bytes]) -> dict[str, Any]:
        """Build a chat.completion answer from the model `used`."""
        fmt = body.get("response_format") or {}
        verdict = image_verdict(images, self.unsafe_images) if images else self.json_answer
        text = json.dumps(verdict) if fmt.get("type") == "json_schema" else self.answer
        if "llama-guard" in used:  # a guard answers in its own format, whatever was asked
            said = str((body.get("messages") or [{}])[-1].get("content", ""))
            text = llama_guard_answer(said, images, self.unsafe_images)
        words = re.findall(r"\S+\s*", text)
        finish = "stop"
        if body.get("max_tokens") and len(words) > body["max_tokens"]:
            words, finish = words[:body["max_tokens"]], "length"
        message: dict[str, Any] = {"role": "assistant", "content": "".join(words), "refusal": None, "reasoning": None}
        if "image" in (body.get("modalities") or []) and self.mode != "no_image":
            prompt = str(body.get("messages", [{}])[0].get("content", ""))
            picture = b"<html>not a picture</html>" if self.mode == "bad_image" else tiny_png(text=prompt)
            message["content"] = "Here is your picture."
            url = data_url(picture)
            if self.image_links:
                name = f"img-{next(self._ids)}.png"
                self.files[name] = picture
                url = f"{self.url}/files/{name}"
            message["images"] = [{"type": "image_url", "image_url": {"url": url}}]
        prompt_tokens = sum(len(str(m.get("content", "")).split()) for m in body.get("messages") or [])
        return {"id": f"gen-{int(time.time())}-{next(self._ids)}", "provider": "FakeProvider", "model": used,
                "object": "chat.completion", "created": int(time.time()),
                "choices": [{"logprobs": None, "finish_reason": finish, "native_finish_reason": finish, "index": 0,
                             "message": message}],
                "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": len(words),
                          "total_tokens": prompt_tokens + len(words), "cost": self.cost, "is_byok": False,
                          "prompt_tokens_details": {"cached_tokens": 0},
                          "cost_details": {"upstream_inference_cost": None},
                          "completion_tokens_details": {"reasoning_tokens": 0}}}

    def file(self, request: Request, reply: Reply) -> None:
        name = request.path.removeprefix("/files/")
        if self.file_failures > 0:
            self.file_failures -= 1
            return reply.json(503, {"error": "busy"}, {"Retry-After": "0"})
        if name in self.files_gone or name not in self.files:
            return reply.json(404, {"error": "no such file"})
        reply.send(200, self.files[name], "image/png")

    def key(self, request: Request, reply: Reply) -> None:
        self._auth = request.headers.get("authorization", "")
        if request.headers.get("authorization") != f"Bearer {self.api_key}":
            return self._error(reply, 401, "No cookie auth credentials found")
        reply.json(200, {"data": {"label": "sk-or-v1-abc...xyz", "limit": 10.0, "limit_remaining": 9.5,
                                  "usage": 0.5, "usage_daily": 0.1, "is_free_tier": False}})

    def models_list(self, request: Request, reply: Reply) -> None:
        reply.json(200, {"data": [{"id": m} for m in sorted(self.known_models)]})

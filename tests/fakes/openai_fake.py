"""A fake OpenAI Images API, plus a file route for URL answers and download tests.

`POST /images/generations` needs `Authorization: Bearer <api_key>`; it draws a real PNG of the
requested `size` ("WxH") and answers `{created, data: [{b64_json}], usage}` — or `[{url}]` when the
body asks for `response_format: "url"`; dall-e-3 also gets a `revised_prompt`. Errors use OpenAI's
shape `{error: {message, type, param, code}}` with string codes.

`GET /files/<name>` serves `files[name]`: after `file_failures` answers of HTTP 503 (with
`Retry-After: 0`), chunked without a length when `chunked_files` is set, lying about its type
(`Content-Type` always says image/png), after `file_delay` seconds when set.

Failure modes of generation — set `fake.mode`:
  ok, slow (`delay` s of silence), http_error (HTTP `error_status`), rate_limited (429 + Retry-After),
  moderation (400, code content_policy_violation), malformed (200, not JSON), empty (`data: []`),
  not_image (b64 of bytes that are no picture)
"""
from __future__ import annotations

import base64
import itertools
import time
from typing import Any

from tests.fakes.openrouter_fake import tiny_png
from tests.fakes.server import FakeApp, Reply, Request

ERRORS = {
    "http_error": ("server_error", "The server had an error while processing your request."),
    "rate_limited": ("rate_limit_exceeded", "Rate limit reached for images per minute."),
    "moderation": ("content_policy_violation", "Your request was rejected by the safety system."),
}


class OpenAIFake(FakeApp):
    """An OpenAI-like images server on 127.0.0.1 with switchable failure modes; use as a context manager."""

    routes = {("POST", "/images/generations"): "generate", ("GET", "/models"): "models_list",
              ("GET", "/files/"): "file"}

    def __init__(self, api_key: str = "sk-test-openai") -> None:
        super().__init__()
        self.api_key = api_key
        self.mode = "ok"
        self.error_status = 500
        self.retry_after = "2"
        self.delay = 5.0
        self.files: dict[str, bytes] = {}
        self.file_failures = 0
        self.chunked_files = False
        self.file_delay = 0.0
        self._ids = itertools.count(1)

    def bodies(self) -> list[dict[str, Any]]:
        """Return the JSON bodies of every generation request received."""
        return [r.json() for r in self.received("/images/generations")]

    def _error(self, reply: Reply, status: int, code: str, message: str) -> None:
        headers = {"Retry-After": self.retry_after} if status == 429 else {}
        reply.json(status, {"error": {"message": message, "type": "invalid_request_error", "param": None,
                                      "code": code}}, headers)

    def generate(self, request: Request, reply: Reply) -> None:
        if request.headers.get("authorization") != f"Bearer {self.api_key}":
            return self._error(reply, 401, "invalid_api_key", "Incorrect API key provided.")
        if self.mode == "slow":
            self.sleep(self.delay)
        if self.mode in ERRORS:
            status = {"http_error": self.error_status, "rate_limited": 429, "moderation": 400}[self.mode]
            return self._error(reply, status, *ERRORS[self.mode])
        if self.mode == "malformed":
            return reply.send(200, b"<html>502 Bad Gateway</html>", "text/html")
        body = request.json()
        width, _, height = str(body.get("size", "1024x1024")).partition("x")
        picture = b"GIF-ish but not really" if self.mode == "not_image" else \
            tiny_png(int(width), int(height), str(body.get("prompt", "")))
        if self.mode == "empty":
            items: list[dict[str, Any]] = []
        elif body.get("response_format") == "url":
            name = f"img-{next(self._ids)}.png"
            self.files[name] = picture
            items = [{"url": f"{self.url}/files/{name}"}]
        else:
            items = [{"b64_json": base64.b64encode(picture).decode()}]
        if items and body.get("model") == "dall-e-3":
            items[0]["revised_prompt"] = f"A detailed illustration: {body.get('prompt', '')}"
        words = len(str(body.get("prompt", "")).split())
        reply.json(200, {"created": int(time.time()), "data": items,
                         "usage": {"total_tokens": words + 272, "input_tokens": words, "output_tokens": 272,
                                   "input_tokens_details": {"text_tokens": words, "image_tokens": 0}}})

    def models_list(self, request: Request, reply: Reply) -> None:
        if request.headers.get("authorization") != f"Bearer {self.api_key}":
            return self._error(reply, 401, "invalid_api_key", "Incorrect API key provided.")
        reply.json(200, {"object": "list", "data": [{"id": m, "object": "model"}
                                                    for m in ("dall-e-3", "gpt-image-1", "gpt-4o")]})

    def file(self, request: Request, reply: Reply) -> None:
        name = request.path.removeprefix("/files/")
        if self.file_failures > 0:
            self.file_failures -= 1
            return reply.json(503, {"error": "busy"}, {"Retry-After": "0"})
        if self.file_delay:
            self.sleep(self.file_delay)
        if name not in self.files:
            return reply.json(404, {"error": "no such file"})
        data = self.files[name]
        if not self.chunked_files:
            return reply.send(200, data, "image/png")
        reply.start_stream(200, "image/png")
        for start in range(0, len(data), 65536):
            reply.chunk(data[start:start + 65536])
        reply.end_stream()

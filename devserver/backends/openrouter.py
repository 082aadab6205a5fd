"""OpenRouter: OpenAI-style chat plus image generation through the same chat endpoint.

One class serves both roles (backend id "openrouter"): `chat` for language models and `generate`
for image models, which answer in `choices[0].message.images[].image_url.url` as data URLs when
asked for `modalities: ["image", "text"]`. Every request carries `provider.data_collection` from
the config (students' texts must not be kept for training), and a `models` fallback list when the
caller gives `fallback_models`; the record keeps the requested and the actually used model.
"""
from __future__ import annotations

import time
from functools import partial
from typing import Any, Mapping, Sequence

import httpx

from devserver.backends.base import (CancelToken, Health, MediaBackend, MediaRequest, MediaResult, Message,
                                     ProgressCallback, scrub)
from devserver.backends.download import fetch_generated, fetch_media
from devserver.backends.mapping import fill_body
from devserver.backends.openai_compat import OpenAICompatBackend, OpenAIHttp, health_from_error, usage_counts
from devserver.errors import BackendBadResponse, BackendError, BackendMisconfigured

DEFAULT_IMAGE_BODY: dict[str, Any] = {"messages": [{"role": "user", "content": ""}]}


class OpenRouterBackend(OpenAICompatBackend, MediaBackend):
    """Chat and image generation through OpenRouter."""

    backend_id = "openrouter"
    display_name = "OpenRouter"
    kind = "llm"
    capabilities = frozenset({"chat", "json_schema", "image", "vision"})
    url_setting = "OPENROUTER_URL"
    key_setting = "OPENROUTER_API_KEY"

    def __init__(self, base_url: str, api_key: str, timeout: float = 120.0, data_collection: str = "deny",
                 max_bytes: int = 50_000_000) -> None:
        super().__init__(base_url, api_key, timeout, max_bytes * 2)  # images arrive base64-inflated in JSON
        self.data_collection = data_collection
        self.max_bytes = max_bytes
        # downloads get their own client: an image URL may point elsewhere and must never see our key
        self.media_client = httpx.Client(timeout=timeout, follow_redirects=True)

    @classmethod
    def from_config(cls, config: Any) -> "OpenRouterBackend":
        return cls(config.OPENROUTER_URL, config.OPENROUTER_API_KEY, config.OPENROUTER_TIMEOUT,
                   config.OPENROUTER_DATA_COLLECTION, config.MEDIA_MAX_BYTES)

    def _require(self) -> OpenAIHttp:
        """Return the HTTP client; without a key nothing is sent at all."""
        if not self.api_key:
            raise BackendMisconfigured("OpenRouter has no API key: set OPENROUTER_API_KEY in .env",
                                     backend=self.backend_id, code="not_configured")
        return super()._require()

    def health(self) -> Health:
        if not self.api_key or self.http is None:
            return Health("not_configured", "set OPENROUTER_API_KEY in .env")
        started = time.perf_counter()
        try:
            key = self.http.call("GET", "/key").get("data") or {}
        except BackendError as err:
            return health_from_error(err)
        remaining = key.get("limit_remaining") if isinstance(key, Mapping) else None
        detail = "key accepted" + ("" if remaining is None else f"; credit left: {remaining}")
        return Health("ok", detail, latency_ms=(time.perf_counter() - started) * 1000)

    def has_model(self, model: str) -> bool | None:
        return None  # the public catalogue is large; a wrong id shows up as a typed 404 at call time

    def chat_body(self, messages: Sequence[Message], model: str, options: Mapping[str, Any],
                  json_schema: Mapping[str, Any] | None) -> tuple[dict[str, Any], list[str]]:
        """Add the fallback list and the data-collection policy to the OpenAI-style body."""
        fallbacks = [str(m) for m in options.get("fallback_models") or ()]
        rest = {k: v for k, v in options.items() if k != "fallback_models"}
        body, ignored = super().chat_body(messages, model, rest, json_schema)
        if fallbacks:
            body["models"] = [model, *fallbacks]
        body["provider"] = {"data_collection": self.data_collection}
        return body, ignored

    def generate(self, request: MediaRequest, on_progress: ProgressCallback | None = None,
                 cancel: CancelToken | None = None) -> MediaResult:
        """Ask an image model through chat and return the images it sent as validated files."""
        http = self._require()
        chunk = request.chunk
        body = fill_body(chunk.request_body or DEFAULT_IMAGE_BODY, chunk.input_mappings, request.values())
        body.setdefault("model", chunk.model)
        body["modalities"] = ["image", "text"]
        body["provider"] = {"data_collection": self.data_collection}
        started = time.perf_counter()
        data = http.call("POST", "/chat/completions", body, model=chunk.model)
        urls = self._image_urls(data)
        stem = request.job_id or "openrouter"
        fetches = [partial(fetch_media, url, self.max_bytes, self.media_client, stem=f"{stem}_{i}" if i else stem,
                           backend=self.backend_id) for i, url in enumerate(urls)]
        files = fetch_generated(fetches, on_progress, {"generation_id": str(data.get("id") or "")})
        usage = data.get("usage")
        cost = usage.get("cost") if isinstance(usage, Mapping) else None
        return MediaResult(files=files, backend=self.backend_id, model_requested=chunk.model,
                           model_used=str(data.get("model") or body["model"]), parameters=scrub(body),
                           duration_ms=(time.perf_counter() - started) * 1000,
                           cost=float(cost) if isinstance(cost, (int, float)) else None,
                           ids={"generation_id": str(data["id"])} if data.get("id") else {},
                           usage=usage_counts(usage))

    def _image_urls(self, data: Mapping[str, Any]) -> list[str]:
        """Return the image URLs of the first choice; an answer without any is a bad response."""
        choices = data.get("choices")
        first = choices[0] if isinstance(choices, list) and choices else None
        message = first.get("message") if isinstance(first, Mapping) else None
        images = message.get("images") if isinstance(message, Mapping) else None
        urls = [img["image_url"]["url"] for img in images or ()
                if isinstance(img, Mapping) and isinstance(img.get("image_url"), Mapping)
                and isinstance(img["image_url"].get("url"), str)]
        if not urls:
            said = message.get("content") if isinstance(message, Mapping) else None
            raise BackendBadResponse("OpenRouter answered without an image", backend=self.backend_id,
                                     code="no_image", details={"text": str(said or "")[:200]})
        return urls

    def close(self) -> None:
        super().close()
        self.media_client.close()

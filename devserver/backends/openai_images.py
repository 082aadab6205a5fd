"""OpenAI Images API: `POST {OPENAI_URL}/images/generations`, answers as `b64_json` (or a URL).

The output chunk's `request_body` is the template (model, quality, ...); its input mappings say
where the prompt goes and, when width and height are both mapped to `size`, the size is sent as
"WxH". Returned bytes are validated by their magic bytes before they count as a picture.
"""
from __future__ import annotations

import base64
import binascii
import time
from functools import partial
from typing import Any, Mapping

import httpx

from devserver.backends.base import (CancelToken, Health, MediaBackend, MediaFile, MediaRequest, MediaResult,
                                     ProgressCallback, scrub)
from devserver.backends.download import fetch_generated, fetch_media, media_file
from devserver.backends.mapping import fill_body
from devserver.backends.openai_compat import OpenAIHttp, health_from_error, usage_counts
from devserver.errors import BackendBadResponse, BackendError, BackendMisconfigured


class OpenAIImagesBackend(MediaBackend):
    """Image generation through OpenAI's Images API."""

    backend_id = "openai_images"
    display_name = "OpenAI Images"
    capabilities = frozenset({"image"})
    key_setting = "OPENAI_API_KEY"

    def __init__(self, base_url: str, api_key: str, timeout: float = 180.0, max_bytes: int = 50_000_000) -> None:
        self.api_key = api_key
        self.max_bytes = max_bytes
        self.http = OpenAIHttp(base_url, api_key, timeout, backend=self.backend_id, key_setting=self.key_setting,
                               max_bytes=max_bytes * 2)  # base64 inflates the JSON answer by a third
        # URL answers are fetched with a client that never carries our key
        self.media_client = httpx.Client(timeout=timeout, follow_redirects=True)

    @classmethod
    def from_config(cls, config: Any) -> "OpenAIImagesBackend":
        return cls(config.OPENAI_URL, config.OPENAI_API_KEY, config.OPENAI_TIMEOUT, config.MEDIA_MAX_BYTES)

    def _require(self) -> OpenAIHttp:
        """Return the HTTP client; without a key nothing is sent at all."""
        if not self.api_key:
            raise BackendMisconfigured("OpenAI Images has no API key: set OPENAI_API_KEY in .env",
                                     backend=self.backend_id, code="not_configured")
        return self.http

    def health(self) -> Health:
        if not self.api_key:
            return Health("not_configured", "set OPENAI_API_KEY in .env")
        started = time.perf_counter()
        try:
            data = self.http.call("GET", "/models")
        except BackendError as err:
            return health_from_error(err)
        models = [str(m["id"]) for m in data.get("data") or [] if isinstance(m, Mapping) and "id" in m]
        return Health("ok", "key accepted", models=models, latency_ms=(time.perf_counter() - started) * 1000)

    def generate(self, request: MediaRequest, on_progress: ProgressCallback | None = None,
                 cancel: CancelToken | None = None) -> MediaResult:
        """Generate the images for one output and return them as validated files."""
        http = self._require()
        chunk = request.chunk
        body = fill_body(chunk.request_body, chunk.input_mappings, request.values())
        body.setdefault("model", chunk.model)
        started = time.perf_counter()
        data = http.call("POST", "/images/generations", body, model=chunk.model)
        items = data.get("data")
        if not isinstance(items, list) or not items:
            # an answer without a picture is a refusal or a provider fault; asking again costs again
            raise BackendBadResponse("OpenAI Images answered without an image", backend=self.backend_id,
                                     code="no_image")
        stem = request.job_id or "openai"
        files = fetch_generated([partial(self._file, item, f"{stem}_{i}" if i else stem)
                                 for i, item in enumerate(items)], on_progress)
        revised = [str(item["revised_prompt"]) for item in items
                   if isinstance(item, Mapping) and item.get("revised_prompt")]
        return MediaResult(files=files, backend=self.backend_id, model_requested=chunk.model,
                           model_used=str(body["model"]), parameters=scrub(body),
                           duration_ms=(time.perf_counter() - started) * 1000,
                           ids={"revised_prompt": revised[0]} if revised else {}, usage=usage_counts(data.get("usage")))

    def _file(self, item: Any, stem: str) -> MediaFile:
        """Decode one `data[]` entry (base64 or URL) into a validated file."""
        if isinstance(item, Mapping) and isinstance(item.get("b64_json"), str):
            try:
                raw = base64.b64decode(item["b64_json"], validate=True)
            except (binascii.Error, ValueError):
                raise BackendBadResponse("OpenAI Images sent broken base64", backend=self.backend_id,
                                         code="bad_media") from None
            if len(raw) > self.max_bytes:
                raise BackendBadResponse(f"the image is larger than {self.max_bytes} bytes", backend=self.backend_id,
                                         code="media_too_large")
            return media_file(raw, stem, self.backend_id)
        if isinstance(item, Mapping) and isinstance(item.get("url"), str):
            return fetch_media(item["url"], self.max_bytes, self.media_client, stem=stem, backend=self.backend_id)
        raise BackendBadResponse("OpenAI Images sent an entry without b64_json or url", backend=self.backend_id,
                                 code="no_image")

    def close(self) -> None:
        self.http.close()
        self.media_client.close()

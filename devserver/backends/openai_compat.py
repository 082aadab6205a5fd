"""OpenAI-style HTTP APIs: the wire protocol (`OpenAIHttp`) and a chat backend on top of it.

`OpenAICompatBackend` talks to any server with `POST {base}/chat/completions` (llama.cpp server,
LM Studio, vLLM) and is the base of OpenRouter. Errors are typed from the HTTP status *or* from an
`{"error": {"code", "message", "metadata"}}` body, because OpenRouter reports failures that happen
after the model started with HTTP 200. Every call is bounded in time and size.
"""
from __future__ import annotations

import base64
import json
import re
import time
from typing import Any, Mapping, Sequence

import httpx

from devserver.backends.base import ChatResult, Health, LlmBackend, Message, TokenCallback, scrub
from devserver.backends.download import retry_after_seconds, sniff_mime
from devserver.errors import (BackendBadResponse, BackendError, BackendMisconfigured, BackendRateLimited,
                              BackendTimeout, BackendUnavailable)

# status -> (error class, retryable, our code); a status not listed is retryable when >= 500
STATUS_ERRORS: dict[int, tuple[type[BackendError], bool, str]] = {
    400: (BackendError, False, "bad_request"),
    401: (BackendMisconfigured, False, "backend_auth"),
    402: (BackendMisconfigured, False, "insufficient_credits"),
    403: (BackendError, False, "provider_moderation"),
    404: (BackendMisconfigured, False, "model_missing"),
    408: (BackendTimeout, True, "backend_timeout"),
    429: (BackendRateLimited, True, "backend_rate_limited"),
    502: (BackendError, True, "provider_down"),
    503: (BackendUnavailable, True, "no_provider"),
}
# OpenAI names its errors with strings; these mean the same as the statuses above
CODE_STATUS = {"invalid_api_key": 401, "insufficient_quota": 402, "content_policy_violation": 403,
               "moderation_blocked": 403, "model_not_found": 404, "rate_limit_exceeded": 429}
HINTS = {
    "backend_auth": "set {key} in .env",
    "insufficient_credits": "top up the account or set another {key} in .env",
    "model_missing": "check the model name {model!r}",
    "provider_moderation": "the provider's moderation refused this request",
}
CONNECT_TIMEOUT = 10.0
ID_FIELDS = {"generation_id": "id", "provider": "provider", "system_fingerprint": "system_fingerprint"}


def provider_error(status: int, error: Any, *, backend: str, key_setting: str, model: str = "",
                   retry_after: float | None = None) -> BackendError:
    """Build the typed error for an HTTP status and an OpenAI-style error object."""
    error = error if isinstance(error, Mapping) else {"message": str(error or "")}
    code = error.get("code")
    if isinstance(code, str) and code in CODE_STATUS:
        status = CODE_STATUS[code]
    elif isinstance(code, int) and not isinstance(code, bool) and 400 <= code < 600:
        status = code
    cls, retryable, our_code = STATUS_ERRORS.get(status, (BackendError, status >= 500, "backend_error"))
    message = str(error.get("message") or f"HTTP {status}")[:500]
    hint = HINTS.get(our_code, "").format(key=key_setting, model=model)
    details: dict[str, Any] = {"status": status}
    if isinstance(error.get("metadata"), Mapping):
        details["metadata"] = dict(error["metadata"])
    text = f"{backend}: {message}" + (f" ({hint})" if hint else "")
    if cls is BackendRateLimited:
        return BackendRateLimited(text, retry_after=retry_after, backend=backend, retryable=retryable,
                                  code=our_code, details=details)
    if retry_after is not None:
        details["retry_after"] = retry_after
    return cls(text, backend=backend, retryable=retryable, code=our_code, details=details)


def health_from_error(err: BackendError) -> Health:
    """Describe a failed health probe: unreachable when the server did not answer, else error."""
    silent = isinstance(err, BackendTimeout) or err.code == "backend_unreachable"
    return Health("unreachable" if silent else "error", err.message)


class OpenAIHttp:
    """JSON over HTTP the OpenAI way: bearer key, typed errors, bounded time and size."""

    def __init__(self, base_url: str, api_key: str, timeout: float, *, backend: str, key_setting: str,
                 max_bytes: int = 50_000_000) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.backend = backend
        self.key_setting = key_setting
        self.max_bytes = max_bytes
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        limits = httpx.Timeout(timeout, connect=min(timeout, CONNECT_TIMEOUT))
        self.client = httpx.Client(headers=headers, timeout=limits)

    def call(self, method: str, path: str, body: Mapping[str, Any] | None = None, model: str = "") -> dict[str, Any]:
        """Send one request and return the JSON object, or raise the typed error."""
        deadline = time.monotonic() + self.timeout
        try:
            with self.client.stream(method, self.base_url + path, json=body) as response:
                raw = self._read(response, deadline)
        except httpx.TimeoutException:
            raise BackendTimeout(f"{self.backend}: no answer within {self.timeout:g} s", backend=self.backend,
                                 retryable=True) from None
        except httpx.ConnectError:
            raise BackendUnavailable(f"{self.backend}: cannot connect to {self.base_url}", backend=self.backend,
                                     retryable=True, code="backend_unreachable") from None
        except httpx.TransportError as exc:
            raise BackendBadResponse(f"{self.backend}: the connection broke ({type(exc).__name__})",
                                     backend=self.backend, retryable=True) from None
        try:
            data = json.loads(raw)
        except ValueError:
            data = None
        error = data.get("error") if isinstance(data, dict) else None
        if response.status_code >= 400 or error:
            status = response.status_code if response.status_code >= 400 else 502
            raise provider_error(status, error or raw[:200].decode("utf-8", "replace"), backend=self.backend,
                                 key_setting=self.key_setting, model=model,
                                 retry_after=retry_after_seconds(response.headers.get("retry-after")))
        if not isinstance(data, dict):
            head = raw[:120].decode("utf-8", "replace")
            raise BackendBadResponse(f"{self.backend}: the answer is not a JSON object", backend=self.backend,
                                     retryable=True, code="malformed_json", details={"head": head})
        return data

    def _read(self, response: httpx.Response, deadline: float) -> bytes:
        """Read the body, giving up past the deadline or the size limit (a trickling server cannot hang us)."""
        chunks, total = [], 0
        for chunk in response.iter_bytes():
            total += len(chunk)
            if total > self.max_bytes:
                raise BackendBadResponse(f"{self.backend}: the answer is larger than {self.max_bytes} bytes",
                                         backend=self.backend, code="answer_too_large")
            if time.monotonic() > deadline:
                raise httpx.ReadTimeout("the answer did not finish within the timeout")
            chunks.append(chunk)
        return b"".join(chunks)

    def close(self) -> None:
        self.client.close()


def response_format(schema: Mapping[str, Any]) -> dict[str, Any]:
    """Return the `response_format` that constrains the answer to a JSON Schema."""
    name = re.sub(r"[^a-zA-Z0-9_-]", "_", str(schema.get("title") or "answer"))[:64]
    return {"type": "json_schema", "json_schema": {"name": name, "schema": dict(schema), "strict": True}}


def usage_counts(usage: Any) -> dict[str, int]:
    """Flatten an OpenAI-style usage object into token counts."""
    if not isinstance(usage, Mapping):
        return {}
    counts = {k: v for k, v in usage.items() if isinstance(v, int) and not isinstance(v, bool)}
    for nested in ("prompt_tokens_details", "completion_tokens_details"):
        if isinstance(usage.get(nested), Mapping):
            counts.update({k: v for k, v in usage[nested].items() if isinstance(v, int) and not isinstance(v, bool)})
    return counts


def _wire_message(message: Mapping[str, Any]) -> dict[str, Any]:
    """Return a message as the OpenAI API takes it: pictures become `image_url` parts with data URLs."""
    images = message.get("images")
    if not images:
        return dict(message)
    parts: list[dict[str, Any]] = [{"type": "text", "text": str(message.get("content") or "")}]
    parts += [{"type": "image_url", "image_url": {
        "url": f"data:{sniff_mime(data) or 'image/png'};base64,{base64.b64encode(data).decode()}"}} for data in images]
    return {**{k: v for k, v in message.items() if k != "images"}, "content": parts}


def _logprobs(data: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Return the first choice's per-token log-probabilities ({token, logprob, top_logprobs}), [] when absent."""
    choices = data.get("choices") or [{}]
    content = ((choices[0] or {}).get("logprobs") or {}).get("content") if isinstance(choices[0], Mapping) else None
    return [dict(t) for t in content or () if isinstance(t, Mapping)]


class OpenAICompatBackend(LlmBackend):
    """Chat with any OpenAI-compatible server (llama.cpp server, LM Studio, vLLM)."""

    backend_id = "openai_compat"
    display_name = "OpenAI-compatible server"
    capabilities = frozenset({"chat", "json_schema"})
    url_setting = "OPENAI_COMPAT_URL"
    key_setting = "OPENAI_COMPAT_API_KEY"
    SENT_OPTIONS = ("temperature", "top_p", "seed", "max_tokens", "stop", "presence_penalty", "frequency_penalty",
                    "logprobs", "top_logprobs")

    def __init__(self, base_url: str, api_key: str = "", timeout: float = 120.0, max_bytes: int = 50_000_000) -> None:
        self.api_key = api_key
        self.http = OpenAIHttp(base_url, api_key, timeout, backend=self.backend_id, key_setting=self.key_setting,
                               max_bytes=max_bytes) if base_url else None

    @classmethod
    def from_config(cls, config: Any) -> "OpenAICompatBackend":
        return cls(config.OPENAI_COMPAT_URL, config.OPENAI_COMPAT_API_KEY, config.OPENAI_COMPAT_TIMEOUT,
                   config.MEDIA_MAX_BYTES)

    def _require(self) -> OpenAIHttp:
        """Return the HTTP client, or explain which setting is missing."""
        if self.http is None:
            raise BackendMisconfigured(f"{self.display_name} is not configured: set {self.url_setting} in .env",
                                     backend=self.backend_id, code="not_configured")
        return self.http

    def health(self) -> Health:
        if self.http is None:
            return Health("not_configured", f"set {self.url_setting} in .env")
        started = time.perf_counter()
        try:
            models = self._models()
        except BackendError as err:
            return health_from_error(err)
        return Health("ok", self.http.base_url, models=models, latency_ms=(time.perf_counter() - started) * 1000)

    def has_model(self, model: str) -> bool | None:
        try:
            return model in self._models()
        except BackendError:
            return None

    def _models(self) -> list[str]:
        data = self._require().call("GET", "/models")
        return [str(m["id"]) for m in data.get("data") or [] if isinstance(m, Mapping) and "id" in m]

    def chat(self, messages: Sequence[Message], model: str, options: Mapping[str, Any],
             json_schema: Mapping[str, Any] | None = None, on_token: TokenCallback | None = None) -> ChatResult:
        """Send one non-streaming chat completion; on_token receives the whole answer once."""
        http = self._require()
        body, ignored = self.chat_body(messages, model, options, json_schema)
        started = time.perf_counter()
        data = http.call("POST", "/chat/completions", body, model=model)
        text, finish_reason = self._answer(data, model, json_schema is not None)
        if on_token and text:
            on_token(text)
        parameters = {k: v for k, v in body.items() if k != "messages"}
        if ignored:
            parameters["ignored"] = ignored
        usage = data.get("usage")
        cost = usage.get("cost") if isinstance(usage, Mapping) else None
        ids = {key: str(data[field]) for key, field in ID_FIELDS.items() if data.get(field)}
        return ChatResult(text=text, backend=self.backend_id, model_requested=model,
                          model_used=str(data.get("model") or model), parameters=scrub(parameters),
                          duration_ms=(time.perf_counter() - started) * 1000, usage=usage_counts(usage),
                          cost=float(cost) if isinstance(cost, (int, float)) else None, ids=ids,
                          finish_reason=finish_reason, logprobs=_logprobs(data) if body.get("logprobs") else None)

    def chat_body(self, messages: Sequence[Message], model: str, options: Mapping[str, Any],
                  json_schema: Mapping[str, Any] | None) -> tuple[dict[str, Any], list[str]]:
        """Return the request body and the option names this API cannot take (recorded as ignored)."""
        body: dict[str, Any] = {"model": model, "messages": [_wire_message(m) for m in messages]}
        ignored = sorted(k for k in options if k not in self.SENT_OPTIONS)
        body.update({k: v for k, v in options.items() if k in self.SENT_OPTIONS and v is not None})
        if json_schema is not None:
            body["response_format"] = response_format(json_schema)
        return body, ignored

    def _answer(self, data: Mapping[str, Any], model: str, want_json: bool) -> tuple[str, str | None]:
        """Return the first choice's text and finish reason, raising on a choice-level error."""
        choices = data.get("choices")
        choice = choices[0] if isinstance(choices, list) and choices else None
        if not isinstance(choice, Mapping):
            raise BackendBadResponse(f"{self.backend_id}: the answer has no choices", backend=self.backend_id,
                                     retryable=True, code="no_choices")
        if choice.get("error"):
            raise provider_error(502, choice["error"], backend=self.backend_id, key_setting=self.key_setting,
                                 model=model)
        message = choice.get("message")
        text = message.get("content") if isinstance(message, Mapping) else None
        if not isinstance(text, str):
            raise BackendBadResponse(f"{self.backend_id}: the answer has no text", backend=self.backend_id,
                                     retryable=True, code="no_text")
        if want_json:
            try:
                json.loads(text)
            except ValueError:
                raise BackendBadResponse(f"{self.backend_id}: the answer should be JSON but is not",
                                         backend=self.backend_id, retryable=True, code="not_json",
                                         details={"finish_reason": choice.get("finish_reason"), "answer": text[:2000]}) from None
        return text, choice.get("finish_reason")

    def close(self) -> None:
        if self.http is not None:
            self.http.close()

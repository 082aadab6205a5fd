"""Ollama through its official Python client: streamed `/api/chat`, model digests, load/unload.

Our option names map to Ollama's (`max_tokens` → `options.num_predict`); `keep_alive` and `think`
travel at the top level; the JSON Schema of a structured answer goes into `format`. Everything sent
is recorded in `ChatResult.parameters`, options Ollama cannot take are recorded as `ignored`.
`logprobs`/`top_logprobs` (guard models) travel at the top level too and come back per token in
`ChatResult.logprobs`; a message's `images` (raw bytes) go out base64-encoded as Ollama expects.

A stream can fail after HTTP 200 with an `{"error": ...}` line and no `done`; the client raises on
that line, and a stream that ends (or trickles past the timeout) without `done: true` is a bad
response too, so a broken Ollama never hangs a run.

`OLLAMA_URL` may list several servers (comma-separated): each chat goes to the least-busy one that
has not just failed (`pool.InstancePool`); health shows each server, models are the union.
"""
from __future__ import annotations

import contextlib
import json
import time
from typing import Any, Iterator, Mapping, Sequence

import httpx
import ollama

from devserver.backends.base import ChatResult, Health, LlmBackend, Message, TokenCallback, scrub
from devserver.backends.openai_compat import CONNECT_TIMEOUT, health_from_error
from devserver.backends.pool import InstancePool
from devserver.errors import (BackendBadResponse, BackendError, BackendMisconfigured, BackendRateLimited,
                              BackendTimeout, BackendUnavailable)

OPTION_NAMES = {"temperature": "temperature", "seed": "seed", "max_tokens": "num_predict", "top_p": "top_p",
                "top_k": "top_k", "num_ctx": "num_ctx", "stop": "stop", "repeat_penalty": "repeat_penalty"}
TOP_LEVEL = ("keep_alive", "think", "logprobs", "top_logprobs")
SERVER_TROUBLE = ("backend_unreachable", "backend_timeout", "connection_lost")  # skip that server for a while
DURATIONS = {"load_ms": "load_duration", "prompt_eval_ms": "prompt_eval_duration", "eval_ms": "eval_duration",
             "total_ms": "total_duration"}


def _split_options(options: Mapping[str, Any], stream: bool, keep_alive: str | None = None
                   ) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """Return Ollama's `options`, the top-level fields (`keep_alive` defaulting to the backend's), and the
    record of everything sent (unknown names: ignored)."""
    sent = {OPTION_NAMES[k]: v for k, v in options.items() if k in OPTION_NAMES and v is not None}
    top = {k: options[k] for k in TOP_LEVEL if options.get(k) is not None}
    if keep_alive is not None:
        top.setdefault("keep_alive", keep_alive)
    parameters: dict[str, Any] = {"options": sent, **top, "stream": stream}
    ignored = sorted(k for k in options if k not in OPTION_NAMES and k not in TOP_LEVEL)
    if ignored:
        parameters["ignored"] = ignored
    return sent, top, parameters


def full_name(model: str) -> str:
    """Return the tag-qualified name Ollama lists a model under (`llama3.2` → `llama3.2:latest`)."""
    return model if ":" in model else f"{model}:latest"


class OllamaBackend(LlmBackend):
    """Chat with models served by an Ollama instance."""

    backend_id = "ollama"
    display_name = "Ollama"
    capabilities = frozenset({"chat", "json_schema", "unload", "vision"})
    default_concurrency = 2

    def __init__(self, url: str, timeout: float = 120.0, keep_alive: str | None = None) -> None:
        self.urls = [part.strip().rstrip("/") for part in url.split(",") if part.strip()]
        self.url = self.urls[0] if self.urls else ""
        self.timeout = timeout
        self.keep_alive = keep_alive or None  # every call names how long the model stays loaded
        self._timeouts = httpx.Timeout(timeout, connect=min(timeout, CONNECT_TIMEOUT))
        self.clients = {u: ollama.Client(host=u, timeout=self._timeouts) for u in self.urls}
        self.client = self.clients.get(self.url)
        self.pool = InstancePool(self.urls)
        self._digests: dict[str, str] = {}
        self._capabilities: dict[str, frozenset[str] | None] = {}

    @classmethod
    def from_config(cls, config: Any) -> "OllamaBackend":
        return cls(config.OLLAMA_URL, config.OLLAMA_TIMEOUT, config.OLLAMA_KEEP_ALIVE)

    def _require(self) -> ollama.Client:
        """Return the client, or explain which setting is missing."""
        if self.client is None:
            raise BackendMisconfigured("Ollama is not configured: set OLLAMA_URL in .env (e.g. http://localhost:11434)",
                                     backend=self.backend_id, code="not_configured")
        return self.client

    def instances(self) -> int:
        return max(1, len(self.urls))

    @contextlib.contextmanager
    def _server(self) -> Iterator[str]:
        """Lend the least-busy healthy server for one call; skip it for a while when it fails."""
        self._require()
        url = self.pool.take()
        assert url is not None
        try:
            yield url
        except BackendError as err:
            if err.code in SERVER_TROUBLE:
                self.pool.failed(url)
            raise
        else:
            self.pool.succeeded(url)
        finally:
            self.pool.release(url)

    @contextlib.contextmanager
    def _translated(self, model: str = "", url: str = "") -> Iterator[None]:
        """Turn whatever the client or httpx raises into the BackendError family."""
        try:
            yield
        except BackendError:
            raise
        except ollama.ResponseError as exc:
            raise self._response_error(exc, model) from None
        except (ConnectionError, httpx.ConnectError):  # the client re-raises httpx's as the builtin
            raise BackendUnavailable(f"cannot connect to Ollama at {url or self.url}", backend=self.backend_id,
                                     retryable=True, code="backend_unreachable") from None
        except httpx.TimeoutException:
            raise BackendTimeout(f"Ollama did not answer within {self.timeout:g} s", backend=self.backend_id,
                                 retryable=True) from None
        except httpx.HTTPError as exc:
            raise BackendBadResponse(f"the connection to Ollama broke ({type(exc).__name__})", backend=self.backend_id,
                                     retryable=True, code="connection_lost") from None
        except ValueError as exc:  # json.JSONDecodeError and pydantic.ValidationError of a malformed line
            raise BackendBadResponse(f"Ollama sent a malformed answer ({type(exc).__name__})", backend=self.backend_id,
                                     retryable=True, code="malformed_json") from None

    def _response_error(self, exc: ollama.ResponseError, model: str) -> BackendError:
        """Map an Ollama error answer (status -1 means it arrived inside a 200 stream)."""
        status, text = exc.status_code, str(exc.error)[:300]
        kwargs: dict[str, Any] = {"backend": self.backend_id, "details": {"status": status}}
        if status == 404:
            return BackendMisconfigured(f"Ollama has no model {model!r}: run `ollama pull {model}` on the Ollama "
                                        f"machine ({text})", code="model_missing", **kwargs)
        if status == 429:
            return BackendRateLimited(f"Ollama is busy: {text}", retryable=True, **kwargs)
        if status == -1:
            return BackendBadResponse(f"Ollama failed in the middle of its answer: {text}", retryable=True,
                                      code="stream_error", **kwargs)
        return BackendError(f"Ollama answered HTTP {status}: {text}", retryable=status >= 500, **kwargs)

    def health(self) -> Health:
        """Report each server's version and models; ok when any one answers."""
        if not self.urls:
            return Health("not_configured", "set OLLAMA_URL in .env (e.g. http://localhost:11434)")
        checks = [(url, self._health(url)) for url in self.urls]
        for url, health in checks:
            (self.pool.succeeded if health.state == "ok" else self.pool.failed)(url)
        ok = [health for _, health in checks if health.state == "ok"]
        if len(checks) == 1:
            return checks[0][1]
        best = ok[0] if ok else checks[0][1]
        return Health(best.state, f"{len(ok)} of {len(checks)} servers answer", version=best.version,
                      models=sorted({m for health in ok for m in health.models}), latency_ms=best.latency_ms,
                      instances=[{"url": url, **health.to_dict(), **self.pool.describe(url)} for url, health in checks])

    def _health(self, url: str) -> Health:
        started = time.perf_counter()
        try:
            with self._translated(url=url):
                version = httpx.get(f"{url}/api/version", timeout=self._timeouts).json().get("version")
                models = sorted(m.model for m in self.clients[url].list().models if m.model)
        except BackendError as err:
            return health_from_error(err)
        return Health("ok", url, version=version, models=models, latency_ms=(time.perf_counter() - started) * 1000)

    def list_models(self) -> dict[str, str]:
        """Return the models installed on any reachable server as {name: digest} (and remember the digests)."""
        self._require()
        digests: dict[str, str] = {}
        failure: BackendError | None = None
        for url in self.pool.ranked():
            try:
                with self._translated(url=url):
                    listed = self.clients[url].list()
            except BackendError as err:
                failure = failure or err
                continue
            digests.update({m.model: m.digest or "" for m in listed.models if m.model and m.model not in digests})
        if not digests and failure is not None:
            raise failure
        self._digests = digests
        return digests

    def loaded_models(self) -> list[str]:
        """Return the models any Ollama server holds in memory now (`/api/ps`)."""
        loaded: set[str] = set()
        for url in self.urls:
            with self._translated(url=url):
                loaded.update(m.model for m in self.clients[url].ps().models if m.model)
        return sorted(loaded)

    def has_model(self, model: str) -> bool | None:
        try:
            return full_name(model) in self.list_models()
        except BackendError:
            return None

    def model_capabilities(self, model: str) -> frozenset[str] | None:
        """Return the model's capabilities from `/api/show` (`completion`, `vision`, ...), None when unknown."""
        if model not in self._capabilities:
            try:
                with self._translated(model):
                    shown = self._require().show(model)
            except BackendError:
                return None  # not cached: the next check asks again
            self._capabilities[model] = frozenset(shown.capabilities or ()) if shown.capabilities else None
        return self._capabilities[model]

    def unload(self, model: str) -> None:
        """Ask every Ollama server to drop the model from memory now (`keep_alive: 0`)."""
        self._require()
        for url in self.urls:
            with self._translated(model, url):
                self.clients[url].chat(model=model, messages=[], keep_alive=0)

    def _digest(self, model: str) -> str | None:
        """Return the model's digest, listing the models once when it is not known yet."""
        if full_name(model) not in self._digests:
            with contextlib.suppress(BackendError):
                self.list_models()
        return self._digests.get(full_name(model)) or None

    def chat(self, messages: Sequence[Message], model: str, options: Mapping[str, Any],
             json_schema: Mapping[str, Any] | None = None, on_token: TokenCallback | None = None) -> ChatResult:
        """Stream one chat from the least-busy Ollama server; on_token receives every streamed piece."""
        self._require()
        sent, top, parameters = _split_options(options, stream=True, keep_alive=self.keep_alive)
        if json_schema is not None:
            top["format"] = parameters["format"] = dict(json_schema)
        started = time.perf_counter()
        with self._server() as url:
            pieces, final, logprobs = self._stream(self.clients[url], url, model, messages, sent, top, on_token)
        if len(self.urls) > 1:
            parameters["server"] = url
        text = "".join(pieces)
        if json_schema is not None:
            try:
                json.loads(text)
            except ValueError:
                raise BackendBadResponse("Ollama's answer should be JSON but is not", backend=self.backend_id,
                                         retryable=True, code="not_json",
                                         details={"finish_reason": final.done_reason, "answer": text[:2000]}) from None
        return self._result(text, model, final, parameters, started, logprobs if top.get("logprobs") else None)

    def complete(self, prompt: str, model: str, options: Mapping[str, Any]) -> ChatResult:
        """Send a raw prompt through `/api/generate` (`raw: true`: no chat template) and return the answer."""
        self._require()
        sent, top, parameters = _split_options(options, stream=False, keep_alive=self.keep_alive)
        parameters["raw"] = True
        started = time.perf_counter()
        with self._server() as url, self._translated(model, url):
            final = self.clients[url].generate(model=model, prompt=prompt, raw=True, stream=False,
                                               options=sent or None, **top)
        if len(self.urls) > 1:
            parameters["server"] = url
        logprobs = [lp.model_dump() for lp in final.logprobs or ()] if top.get("logprobs") else None
        return self._result(final.response or "", model, final, parameters, started, logprobs)

    def _result(self, text: str, model: str, final: Any, parameters: dict[str, Any], started: float,
                logprobs: list[dict[str, Any]] | None) -> ChatResult:
        """Build the typed result from the final line: token counts, Ollama's timings (ns → ms), digest."""
        usage = {"prompt_tokens": final.prompt_eval_count or 0, "completion_tokens": final.eval_count or 0}
        usage["total_tokens"] = usage["prompt_tokens"] + usage["completion_tokens"]
        usage.update({ours: getattr(final, theirs) // 1_000_000 for ours, theirs in DURATIONS.items()
                      if getattr(final, theirs) is not None})
        digest = self._digest(model)
        return ChatResult(text=text, backend=self.backend_id, model_requested=model, model_used=final.model or model,
                          parameters=scrub(parameters), duration_ms=(time.perf_counter() - started) * 1000,
                          usage=usage, ids={"digest": digest} if digest else {}, finish_reason=final.done_reason,
                          logprobs=logprobs)

    def _stream(self, client: ollama.Client, url: str, model: str, messages: Sequence[Message], sent: dict[str, Any],
                top: dict[str, Any], on_token: TokenCallback | None
                ) -> tuple[list[str], ollama.ChatResponse, list[dict[str, Any]]]:
        """Read the NDJSON stream to its `done` line within the timeout; return the pieces, that line, logprobs."""
        deadline = time.monotonic() + self.timeout
        pieces: list[str] = []
        logprobs: list[dict[str, Any]] = []
        with self._translated(model, url):
            stream = client.chat(model=model, messages=[dict(m) for m in messages], stream=True,
                                 options=sent or None, **top)
            try:
                for part in stream:
                    logprobs.extend(lp.model_dump() for lp in part.logprobs or ())
                    if part.message.content:
                        pieces.append(part.message.content)
                        if on_token:
                            on_token(part.message.content)
                    if part.done:
                        return pieces, part, logprobs
                    if time.monotonic() > deadline:
                        raise BackendTimeout(f"Ollama did not finish within {self.timeout:g} s",
                                             backend=self.backend_id, retryable=True)
            finally:
                stream.close()
        raise BackendBadResponse("Ollama's stream ended without a final `done` line", backend=self.backend_id,
                                 retryable=True, code="stream_truncated")

    def close(self) -> None:
        for client in self.clients.values():
            client.close()

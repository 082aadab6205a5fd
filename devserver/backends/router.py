"""The backend router: fallback chains, retries with backoff, cooldown of failing backends, and
per-backend concurrency limits with a visible FIFO queue.

Rules, in the order a call meets them:

* **Fallback chain** (chat): the requested model, then `LLM_FALLBACKS` in order, duplicates dropped.
  A backend in cooldown is skipped; any other failure moves on to the next model.
* **Retries**: a retryable error (and every 429) is retried on the same backend, at most
  `RETRY_ATTEMPTS` attempts, after a full-jitter exponential delay (`RETRY_BASE_DELAY` doubling,
  capped at `RETRY_MAX_DELAY`); a 429's Retry-After replaces the delay (capped too). Nothing is
  retried once the backend has streamed tokens or reported progress, so a caller never sees an
  answer start twice on one backend. A configuration error (`BackendMisconfigured`: a missing
  model or node, a workflow the server rejects, no key) is never retried: it would fail the same way.
* **Job deadline** (generate): a backend that names `job_seconds()` gets one deadline for the whole
  job, retries included, in `MediaRequest.deadline`; no retry starts after it. Each attempt gets its
  number in `MediaRequest.attempt` (ComfyUI derives a fresh prompt id from it).
* **Cooldown**: `COOLDOWN_FAILURES` consecutive failed *calls* (a call = all its attempts) that say
  the backend itself is unwell (retryable errors, unreachable, timeout) pause it for
  `COOLDOWN_SECONDS`; a success resets the count, and a failure right after a pause pauses it again.
  A paused backend is probed with its cheap `health()` at most every `PROBE_SECONDS`; a healthy
  answer ends the pause early (a restarted ComfyUI is usable as soon as it answers). Errors about
  one request (bad parameters, an unparsable answer) and configuration errors do not count: they
  would pause the embedded model for every student because of one odd prompt.
* **Concurrency** (generate): at most `limit` jobs per backend run at once (`default_concurrency`
  of the backend class, times its `instances()`, unless the constructor's `limits` says otherwise);
  later jobs wait in arrival order and hear their position through `on_queue` (1 = next, 0 =
  starting now). A backend's own queue (ComfyUI's) reports through `Progress.queue` and is passed
  on the same way, without counting as progress.

Every attempt is recorded in `result.attempts`, or in the raised error's `details["attempts"]`.
Time, sleep and randomness are injected so the logic is testable without waiting. One lock guards
the counters; it is never held while a backend runs, while sleeping, or during a callback.
"""
from __future__ import annotations

import hashlib
import logging
import random
import threading
import time
from collections import deque
from dataclasses import dataclass, field, replace
from typing import Any, Callable, Mapping, Sequence, TypeVar

from config import Config
from devserver.backends.base import (Backend, CancelToken, ChatResult, LlmBackend, MediaRequest, MediaResult,
                                     Message, Progress, ProgressCallback, TokenCallback, split_model_ref)
from devserver.backends.registry import BackendRegistry, build_registry
from devserver.errors import (AppError, BackendError, BackendMisconfigured, BackendRateLimited, BackendTimeout,
                              BackendUnavailable, ConfigError)

log = logging.getLogger(__name__)
T = TypeVar("T")
QUEUE_POLL_SECONDS = 0.1  # how often a queued job looks at its cancel token
PROBE_SECONDS = 5.0  # a paused backend's health is asked at most this often (and first this long after the pause)


@dataclass
class _BackendState:
    failures: int = 0
    cooldown_until: float = 0.0
    probe_at: float = 0.0
    in_flight: int = 0
    queue: deque = field(default_factory=deque)


class _Started:
    """Pass callbacks through and remember whether the backend produced any output yet.

    A `Progress` that only reports the backend's own queue goes to `on_queue` and does not count as
    output: a job still waiting in ComfyUI's queue may be retried.
    """

    def __init__(self, callback: Callable[[Any], None] | None, on_queue: Callable[[int], None] | None = None) -> None:
        self.callback = callback
        self.on_queue = on_queue
        self.started = False

    def __call__(self, value: Any) -> None:
        if isinstance(value, Progress) and value.queue is not None:
            if self.on_queue is not None:
                self.on_queue(value.queue)  # 1 = next in line, 0 = running
            if value.total <= 0:
                return
        self.started = True
        if self.callback is not None:
            self.callback(value)


def _recordable(message: Message) -> dict[str, Any]:
    """Return a message for the record: a picture as the SHA-256 and size of the bytes sent, not the bytes."""
    images = message.get("images")
    if not images:
        return dict(message)
    return {**message, "images": [{"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)} for data in images]}


def _retryable(err: BackendError) -> bool:
    return not isinstance(err, BackendMisconfigured) and (err.retryable or isinstance(err, BackendRateLimited))


def _unwell(err: BackendError) -> bool:
    """Tell whether an error says the backend itself is failing (and so counts toward its cooldown)."""
    if err.code == "cancelled" or isinstance(err, BackendMisconfigured) or err.details.get("generated"):
        return False  # our setup, the user, or a download after a finished generation: the backend is fine
    return _retryable(err) or isinstance(err, (BackendUnavailable, BackendTimeout))


def _cancelled(backend_id: str) -> BackendError:
    return BackendError("The job was cancelled before it started.", backend=backend_id, code="cancelled")


class Router:
    """Calls backends with fallbacks, retries, cooldowns and concurrency limits."""

    def __init__(self, registry: BackendRegistry, config: Any, *, sleep: Callable[[float], None] = time.sleep,
                 clock: Callable[[], float] = time.monotonic, rng: Callable[[], float] = random.random,
                 limits: Mapping[str, int] | None = None, probe_seconds: float = PROBE_SECONDS) -> None:
        self._registry = registry
        self._probe_seconds = probe_seconds
        self._config = config
        self._sleep = sleep
        self._clock = clock
        self._rng = rng
        self._limits = dict(limits or {})
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._version = 0  # bumped on every queue or slot change, so waiters never miss one
        self._states: dict[str, _BackendState] = {}

    # ---- language models

    def chat(self, role: str, messages: Sequence[Message], options: Mapping[str, Any],
             json_schema: Mapping[str, Any] | None = None, on_token: TokenCallback | None = None) -> ChatResult:
        """Send a chat to the model of a role, falling back along LLM_FALLBACKS."""
        return self.chat_model(self._model_for(role), messages, options, json_schema, on_token)

    def chat_model(self, model_ref: str, messages: Sequence[Message], options: Mapping[str, Any],
                   json_schema: Mapping[str, Any] | None = None, on_token: TokenCallback | None = None,
                   fallback: bool = True) -> ChatResult:
        """Send a chat to an explicit `provider/model`, falling back along LLM_FALLBACKS unless `fallback` is off.

        Calls only one special model can answer (a picture for a vision model) turn the chain off: a text
        model further down would answer without having seen the picture."""
        chain = list(dict.fromkeys([model_ref, *(self._config.LLM_FALLBACKS if fallback else ())]))
        request = {"messages": [_recordable(m) for m in messages], "options": dict(options),
                   "json_schema": dict(json_schema) if json_schema else None}
        return self._chain(chain, on_token, request, lambda backend, model, tokens: backend.chat(
            messages, model, options, json_schema=json_schema, on_token=tokens if on_token else None))

    def complete(self, role: str, prompt: str, options: Mapping[str, Any]) -> ChatResult:
        """Send a raw prompt (no chat template) to a role's model; no fallback, a raw prompt fits one model only."""
        request = {"prompt": prompt, "options": dict(options), "raw": True}
        return self._chain([self._model_for(role)], None, request,
                           lambda backend, model, tokens: backend.complete(prompt, model, options))

    def _chain(self, chain: list[str], on_token: TokenCallback | None, request: dict[str, Any],
               call: Callable[[LlmBackend, str, Any], ChatResult]) -> ChatResult:
        """Try each model reference in turn (skipping paused backends), with retries on each.

        The result carries `chat_request` (the answering model reference and the call as sent) for the record."""
        attempts: list[dict[str, Any]] = []
        paused: list[str] = []
        last: AppError | None = None
        for ref in chain:
            try:
                provider, model = split_model_ref(ref)
                backend = self._registry.llm(provider)
            except (BackendError, ConfigError) as err:
                attempts.append(self._attempt(ref, err.code, self._clock()))
                last = err
                continue
            if self.in_cooldown(provider):
                attempts.append(self._attempt(ref, "cooldown", self._clock()))
                paused.append(provider)
                continue
            tokens = _Started(on_token)
            try:
                result = self._with_retries(provider, ref, attempts, tokens,
                                            lambda: call(backend, model, tokens))
            except BackendError as err:
                last = err
                continue
            result.attempts = attempts
            result.chat_request = {"model_ref": ref, **request}
            return result
        raise self._exhausted(last, attempts, paused)

    def model_capabilities(self, model_ref: str) -> frozenset[str] | None:
        """Return what the model of a `provider/model` reference can do, None when its backend cannot tell."""
        provider, model = split_model_ref(model_ref)
        return self._registry.llm(provider).model_capabilities(model)

    def unload(self, role: str) -> None:
        """Free the memory of the model a role uses (where the backend can)."""
        self.unload_model(self._model_for(role))

    def unload_model(self, model_ref: str) -> bool:
        """Free a `provider/model`'s memory if its backend can unload (Ollama); tell whether it was asked.

        The embedded model cannot: it lives in this process on the CPU and takes no GPU memory from ComfyUI.
        """
        provider, model = split_model_ref(model_ref)
        backend = self._registry.llm(provider)
        if "unload" not in backend.capabilities:
            return False
        backend.unload(model)
        return True

    def is_demo(self, role: str) -> bool:
        """Tell whether the role's model is a demo model (an unknown provider counts as not one)."""
        try:
            provider, model = split_model_ref(self._model_for(role))
            return self._registry.llm(provider).is_demo(model)
        except (BackendError, ConfigError):
            return False

    # ---- media

    def generate(self, backend_id: str, request: MediaRequest, on_progress: ProgressCallback | None = None,
                 cancel: CancelToken | None = None, on_queue: Callable[[int], None] | None = None) -> MediaResult:
        """Run a media job once a slot of the backend is free, retrying failures before any progress."""
        backend = self._registry.media(backend_id)
        self._refuse_in_cooldown(backend_id)
        waited = self._acquire(backend_id, self._limit(backend), cancel, on_queue)
        try:
            if waited and on_queue is not None:
                on_queue(0)
            self._refuse_in_cooldown(backend_id)  # the jobs ahead may have failed while this one waited
            model = getattr(request.chunk, "model", "") if request.chunk is not None else ""
            ref = f"{backend_id}/{model}" if model else backend_id
            attempts: list[dict[str, Any]] = []
            progress = _Started(on_progress, on_queue)
            seconds = backend.job_seconds()
            # the deadline is real time: the backend waits on sockets, not on the router's clock
            deadline = time.monotonic() + seconds if seconds else request.deadline

            def attempt() -> MediaResult:
                return backend.generate(replace(request, attempt=len(attempts) + 1, deadline=deadline), progress,
                                        cancel)

            try:
                result = self._with_retries(backend_id, ref, attempts, progress, attempt, cancel, deadline)
            except BackendError as err:
                err.details["attempts"] = attempts
                raise
            result.attempts = attempts
            return result
        finally:
            self._release(backend_id)

    # ---- state

    def in_cooldown(self, backend_id: str) -> bool:
        """Tell whether a backend is paused after repeated failures (a healthy probe ends the pause)."""
        now = self._clock()
        with self._lock:
            state = self._states.get(backend_id)
            if state is None or state.cooldown_until <= now:
                return False
            if state.probe_at > now:
                return True
            state.probe_at = now + self._probe_seconds
        try:
            healthy = self._registry.get(backend_id).health().state == "ok"
        except Exception:  # a probe that breaks says as much as one that fails
            log.exception("health probe of paused %s failed", backend_id)
            healthy = False
        if not healthy:
            return True
        with self._lock:
            state.cooldown_until = 0.0  # failures stay counted: one more failure pauses it again
        log.info("%s answers its health probe again; pause ended early", backend_id)
        return False

    def state(self) -> dict[str, dict[str, Any]]:
        """Return each backend's failures, cooldown seconds left, and its media jobs running, queued and allowed."""
        now = self._clock()
        with self._lock:
            return {backend.backend_id: self._describe(self._states.get(backend.backend_id), backend, now)
                    for backend in self._registry}

    def _describe(self, state: _BackendState | None, backend: Backend, now: float) -> dict[str, Any]:
        state = state or _BackendState()
        return {"failures": state.failures, "cooldown_until": round(max(0.0, state.cooldown_until - now), 1),
                "in_flight": state.in_flight, "queued": len(state.queue), "limit": self._limit(backend)}

    # ---- internals

    def _model_for(self, role: str) -> str:
        try:
            return self._config.model_for(role)
        except KeyError as exc:
            raise ConfigError(str(exc.args[0]), code="model_role_unknown") from None

    def _limit(self, backend: Backend) -> int:
        return max(1, self._limits.get(backend.backend_id, backend.default_concurrency * backend.instances()))

    def _state(self, backend_id: str) -> _BackendState:
        return self._states.setdefault(backend_id, _BackendState())

    def _attempt(self, ref: str, error: str | None, began: float) -> dict[str, Any]:
        return {"model_ref": ref, "error": error, "duration_ms": round((self._clock() - began) * 1000, 1)}

    def _with_retries(self, backend_id: str, ref: str, attempts: list[dict[str, Any]], output: _Started,
                      call: Callable[[], T], cancel: CancelToken | None = None, deadline: float | None = None) -> T:
        """Call the backend, retrying retryable errors with backoff until it succeeds or gives up.

        The whole call counts as one failure toward the cooldown, however many attempts it took.
        """
        limit = max(1, self._config.RETRY_ATTEMPTS)
        attempt = 0
        while True:
            attempt += 1
            if cancel is not None and cancel.cancelled:
                raise _cancelled(backend_id)
            began = self._clock()
            try:
                result = call()
            except BackendError as err:
                attempts.append(self._attempt(ref, err.code, began))
                delay = self._delay(attempt, err)
                left = None if deadline is None else deadline - time.monotonic()
                if (attempt >= limit or not _retryable(err) or output.started
                        or (left is not None and left <= delay) or (cancel is not None and cancel.cancelled)):
                    self._record_failure(backend_id, err)
                    raise
                log.warning("%s failed (%s); retry %d/%d in %.2f s", ref, err.code, attempt + 1, limit, delay)
                self._sleep(delay)
                continue
            attempts.append(self._attempt(ref, None, began))
            self._record_success(backend_id)
            return result

    def _delay(self, attempt: int, err: BackendError) -> float:
        cap = self._config.RETRY_MAX_DELAY
        if isinstance(err, BackendRateLimited) and err.retry_after is not None:
            return min(max(0.0, err.retry_after), cap)
        return self._rng() * min(cap, self._config.RETRY_BASE_DELAY * 2 ** (attempt - 1))

    def _record_failure(self, backend_id: str, err: BackendError) -> None:
        if not _unwell(err):
            return
        with self._lock:
            state = self._state(backend_id)
            state.failures += 1
            if state.failures >= self._config.COOLDOWN_FAILURES:
                state.cooldown_until = self._clock() + self._config.COOLDOWN_SECONDS
                state.probe_at = self._clock() + min(self._probe_seconds, self._config.COOLDOWN_SECONDS)
                log.warning("%s paused for %.0f s after %d failures", backend_id, self._config.COOLDOWN_SECONDS,
                            state.failures)

    def _record_success(self, backend_id: str) -> None:
        with self._lock:
            state = self._state(backend_id)
            state.failures = 0
            state.cooldown_until = 0.0

    def _cooldown_left(self, backend_ids: Sequence[str]) -> float:
        now = self._clock()
        with self._lock:
            left = [self._states[b].cooldown_until - now for b in backend_ids if b in self._states]
        return max(0.0, min((x for x in left if x > 0), default=0.0))

    def _refuse_in_cooldown(self, backend_id: str) -> None:
        if self.in_cooldown(backend_id):
            seconds = self._cooldown_left([backend_id])
            raise BackendUnavailable(f"{backend_id} is paused after repeated failures; try again in {seconds:.0f} s.",
                                     backend=backend_id, code="backend_cooldown",
                                     details={"retry_in": round(seconds, 1)})

    def _exhausted(self, last: AppError | None, attempts: list[dict[str, Any]], providers: list[str]) -> AppError:
        """Return the error to raise when every model of a chain failed or was skipped."""
        if last is None:
            seconds = self._cooldown_left(providers)
            last = BackendUnavailable(
                f"Every language model for this step is paused after repeated failures; try again in {seconds:.0f} s.",
                code="backend_cooldown", details={"retry_in": round(seconds, 1)})
        last.details["attempts"] = attempts
        return last

    def _acquire(self, backend_id: str, limit: int, cancel: CancelToken | None,
                 on_queue: Callable[[int], None] | None) -> bool:
        """Wait in FIFO order for a free slot, reporting the queue position whenever it changes.

        Return whether the job had to wait (its caller then reports position 0 inside its slot).
        """
        ticket = object()
        reported: int | None = None
        with self._lock:
            state = self._state(backend_id)
            state.queue.append(ticket)
            self._version += 1
        try:
            while True:
                with self._lock:
                    if cancel is not None and cancel.cancelled:
                        raise _cancelled(backend_id)
                    position = state.queue.index(ticket) + 1
                    if position == 1 and state.in_flight < limit:
                        state.queue.popleft()
                        state.in_flight += 1
                        self._version += 1
                        self._changed.notify_all()
                        break
                    seen = self._version
                if position != reported and on_queue is not None:
                    on_queue(position)
                reported = position
                with self._lock:
                    if self._version == seen:
                        self._changed.wait(QUEUE_POLL_SECONDS)
        except BaseException:
            with self._lock:
                if ticket in state.queue:
                    state.queue.remove(ticket)
                    self._version += 1
                    self._changed.notify_all()
            raise
        return reported is not None

    def _release(self, backend_id: str) -> None:
        with self._lock:
            self._state(backend_id).in_flight -= 1
            self._version += 1
            self._changed.notify_all()


def make_router_from_config() -> Router:
    """Build the app's backends and router from the environment (for CLIs)."""
    config = Config.from_env()
    return Router(build_registry(config), config)


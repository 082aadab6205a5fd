"""The router's retries, fallbacks, cooldown and queue, against scripted stand-ins for external providers.

The stand-ins are real backend objects (subclasses of the contract) whose outcomes are scripted,
like a provider that times out twice and then answers. Time is fake: `sleep` only records the delay
and advances the clock, so backoff and cooldown tests run instantly.
"""
from __future__ import annotations

import threading
import time
from typing import Any, Callable

import pytest

from config import Config
from devserver.backends.base import (CancelToken, ChatResult, Health, LlmBackend, MediaBackend, MediaFile,
                                     MediaRequest, MediaResult, Progress)
from devserver.backends.registry import BackendRegistry
from devserver.backends.router import Router
from devserver.errors import (BackendBadResponse, BackendError, BackendMisconfigured, BackendRateLimited,
                              BackendTimeout, BackendUnavailable, ConfigError)

WAIT = 5.0  # bound for every wait on another thread


class FakeTime:
    """A clock that only moves when the router sleeps or the test says so."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


class ScriptedChat(LlmBackend):
    """A chat provider stand-in: each call takes the next scripted outcome (an error or "ok")."""

    capabilities = frozenset({"chat", "unload"})

    def __init__(self, backend_id: str, outcomes: list[Any] | None = None, tokens: tuple[str, ...] = ()) -> None:
        self.backend_id = backend_id
        self.outcomes = list(outcomes or [])
        self.tokens = tokens
        self.calls: list[str] = []
        self.unloaded: list[str] = []

    def health(self) -> Health:
        return Health("ok")

    def chat(self, messages, model, options, json_schema=None, on_token=None) -> ChatResult:
        self.calls.append(model)
        outcome = self.outcomes.pop(0) if self.outcomes else "ok"
        for token in self.tokens:
            if on_token:
                on_token(token)
        if isinstance(outcome, Exception):
            raise outcome
        return ChatResult(text=f"answer from {self.backend_id}", backend=self.backend_id, model_requested=model,
                          model_used=model, parameters=dict(options), duration_ms=1.0)

    def unload(self, model: str) -> None:
        self.unloaded.append(model)


class GatedMedia(MediaBackend):
    """A media provider stand-in whose jobs run until the test opens their gate."""

    default_concurrency = 1

    def __init__(self, backend_id: str = "gpu", outcomes: list[Any] | None = None, progress_first: bool = False):
        self.backend_id = backend_id
        self.outcomes = list(outcomes or [])
        self.progress_first = progress_first
        self.started: list[str] = []
        self.gates: dict[str, threading.Event] = {}
        self.running = threading.Semaphore(0)
        self._lock = threading.Lock()

    def health(self) -> Health:
        return Health("ok")

    def hold(self, prompt: str) -> threading.Event:
        gate = self.gates[prompt] = threading.Event()
        return gate

    def generate(self, request, on_progress=None, cancel=None) -> MediaResult:
        with self._lock:
            self.started.append(request.prompt)
            outcome = self.outcomes.pop(0) if self.outcomes else "ok"
        self.running.release()
        if self.progress_first and on_progress:
            on_progress(Progress(1, 10))
        gate = self.gates.get(request.prompt)
        if gate is not None:
            assert gate.wait(WAIT), "the test never released this job"
        if isinstance(outcome, Exception):
            raise outcome
        return MediaResult(files=[MediaFile(b"png", "image/png", "a.png")], backend=self.backend_id,
                           model_requested="m", model_used="m", parameters={"prompt": request.prompt},
                           duration_ms=1.0)


def make_config(**overrides: Any) -> Config:
    settings: dict[str, Any] = {"MODEL_ROLE_MAP": {"STAGE2_INTERCEPTION_MODEL": "alpha/a1"}, "LLM_FALLBACKS": (),
                                "RETRY_ATTEMPTS": 3, "RETRY_BASE_DELAY": 1.0, "RETRY_MAX_DELAY": 5.0,
                                "COOLDOWN_FAILURES": 10, "COOLDOWN_SECONDS": 30.0}
    settings.update(overrides)
    return Config(TESTING=True).with_overrides(settings)


def make_router(*backends: Any, rng: Callable[[], float] = lambda: 0.999, limits: dict[str, int] | None = None,
                **config: Any) -> tuple[Router, FakeTime]:
    registry = BackendRegistry()
    for backend in backends:
        registry.add(backend)
    fake = FakeTime()
    return Router(registry, make_config(**config), sleep=fake.sleep, clock=fake.clock, rng=rng,
                  limits=limits), fake


def ask(router: Router, role: str = "STAGE2_INTERCEPTION_MODEL", **kwargs: Any) -> ChatResult:
    return router.chat(role, [{"role": "user", "content": "hi"}], {"temperature": 0.2}, **kwargs)


def timeout(code: str = "backend_timeout") -> BackendTimeout:
    return BackendTimeout("no answer", backend="alpha", retryable=True, code=code)


def wait_until(condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + WAIT
    while not condition():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.005)


# ---- retries


def test_retryable_errors_are_retried_with_growing_capped_backoff():
    alpha = ScriptedChat("alpha", [timeout(), timeout(), timeout(), timeout()])
    router, fake = make_router(alpha, RETRY_ATTEMPTS=5)

    result = ask(router)

    assert result.text == "answer from alpha"
    assert len(alpha.calls) == 5
    assert fake.sleeps == pytest.approx([0.999, 1.998, 3.996, 4.995])  # 1, 2, 4, 8→5 times the jitter draw
    assert all(a < b for a, b in zip(fake.sleeps, fake.sleeps[1:]))
    assert max(fake.sleeps) <= 5.0
    assert [a["error"] for a in result.attempts] == ["backend_timeout"] * 4 + [None]


def test_backoff_uses_full_jitter():
    alpha = ScriptedChat("alpha", [timeout(), timeout()])
    router, fake = make_router(alpha, rng=lambda: 0.25)

    ask(router)

    assert fake.sleeps == pytest.approx([0.25, 0.5])


def test_gives_up_after_the_attempt_limit():
    alpha = ScriptedChat("alpha", [timeout()] * 5)
    router, fake = make_router(alpha, RETRY_ATTEMPTS=3)

    with pytest.raises(BackendTimeout) as caught:
        ask(router)

    assert len(alpha.calls) == 3
    assert len(fake.sleeps) == 2
    assert len(caught.value.details["attempts"]) == 3


def test_retry_after_is_honoured_and_capped():
    alpha = ScriptedChat("alpha", [BackendRateLimited("slow down", retry_after=3.0),
                                   BackendRateLimited("slow down", retry_after=120.0)])
    router, fake = make_router(alpha)

    result = ask(router)

    assert result.backend == "alpha"
    assert fake.sleeps == [3.0, 5.0]


def test_tokens_pass_through_and_a_started_stream_is_not_retried():
    alpha = ScriptedChat("alpha", [timeout()], tokens=("Hel", "lo"))
    router, fake = make_router(alpha)
    received: list[str] = []

    with pytest.raises(BackendTimeout):
        ask(router, on_token=received.append)

    assert received == ["Hel", "lo"]
    assert len(alpha.calls) == 1 and fake.sleeps == []


# ---- fallbacks


def test_fallback_chain_is_used_and_every_attempt_recorded():
    alpha = ScriptedChat("alpha", [timeout()] * 5)
    beta = ScriptedChat("beta")
    router, _ = make_router(alpha, beta, RETRY_ATTEMPTS=2, LLM_FALLBACKS=("alpha/a1", "beta/b1"))

    result = ask(router)

    assert (result.backend, result.model_used) == ("beta", "b1")
    assert len(alpha.calls) == 2  # the role's own model is not tried again as a fallback
    assert [(a["model_ref"], a["error"]) for a in result.attempts] == [
        ("alpha/a1", "backend_timeout"), ("alpha/a1", "backend_timeout"), ("beta/b1", None)]
    assert all("duration_ms" in a for a in result.attempts)


def test_non_retryable_error_goes_to_the_next_model_at_once():
    alpha = ScriptedChat("alpha", [BackendBadResponse("garbage", backend="alpha")])
    beta = ScriptedChat("beta")
    router, fake = make_router(alpha, beta, LLM_FALLBACKS=("beta/b1",))

    result = ask(router)

    assert result.model_used == "b1"
    assert len(alpha.calls) == 1 and fake.sleeps == []


def test_when_every_model_fails_the_last_error_lists_the_attempts():
    alpha = ScriptedChat("alpha", [BackendBadResponse("garbage", backend="alpha")])
    beta = ScriptedChat("beta", [BackendError("refused", backend="beta", code="provider_moderation")])
    router, _ = make_router(alpha, beta, LLM_FALLBACKS=("gamma/unknown", "beta/b1"))

    with pytest.raises(BackendError) as caught:
        ask(router)

    assert caught.value.code == "provider_moderation"
    assert [(a["model_ref"], a["error"]) for a in caught.value.details["attempts"]] == [
        ("alpha/a1", "backend_bad_response"), ("gamma/unknown", "backend_unknown"),
        ("beta/b1", "provider_moderation")]


def test_explicit_model_reference_and_unknown_role():
    alpha = ScriptedChat("alpha")
    router, _ = make_router(alpha)

    result = router.chat_model("alpha/other", [{"role": "user", "content": "hi"}], {})

    assert result.model_used == "other" and alpha.calls == ["other"]
    with pytest.raises(ConfigError):
        ask(router, role="NO_SUCH_ROLE")


def test_unload_frees_the_model_of_the_role():
    alpha = ScriptedChat("alpha")
    router, _ = make_router(alpha)

    router.unload("STAGE2_INTERCEPTION_MODEL")

    assert alpha.unloaded == ["a1"]


# ---- cooldown


def test_cooldown_after_consecutive_failures_and_recovery_afterwards():
    alpha = ScriptedChat("alpha", [BackendUnavailable("down", backend="alpha")] * 2)
    router, fake = make_router(alpha, RETRY_ATTEMPTS=1, COOLDOWN_FAILURES=2, COOLDOWN_SECONDS=30.0)

    for _ in range(2):
        with pytest.raises(BackendUnavailable):
            ask(router)
    assert router.in_cooldown("alpha")
    assert router.state()["alpha"]["cooldown_until"] == pytest.approx(30.0)

    with pytest.raises(BackendUnavailable) as caught:
        ask(router)
    assert caught.value.code == "backend_cooldown"
    assert caught.value.details["retry_in"] == pytest.approx(30.0)
    assert len(alpha.calls) == 2  # skipped, not called

    fake.now += 31
    assert not router.in_cooldown("alpha")
    assert ask(router).backend == "alpha"
    assert router.state()["alpha"]["failures"] == 0


def test_cooldown_counts_failed_calls_not_attempts_and_a_paused_backend_is_skipped_for_the_fallback():
    alpha = ScriptedChat("alpha", [timeout()] * 6)
    beta = ScriptedChat("beta")
    router, _ = make_router(alpha, beta, RETRY_ATTEMPTS=3, COOLDOWN_FAILURES=2, LLM_FALLBACKS=("beta/b1",))

    first = ask(router)
    assert len(alpha.calls) == 3 and not router.in_cooldown("alpha")  # one call's own retries never pause it
    second = ask(router)
    third = ask(router)

    assert len(alpha.calls) == 6  # the third call skipped the paused backend
    assert first.model_used == second.model_used == third.model_used == "b1"
    assert [(a["model_ref"], a["error"]) for a in third.attempts] == [("alpha/a1", "cooldown"), ("beta/b1", None)]


def test_a_healthy_probe_ends_the_pause_early_and_one_more_failure_pauses_again():
    alpha = ScriptedChat("alpha", [BackendUnavailable("down", backend="alpha")] * 3)
    health = {"state": "unreachable"}
    alpha.health = lambda: Health(health["state"])  # type: ignore[method-assign]
    router, fake = make_router(alpha, RETRY_ATTEMPTS=1, COOLDOWN_FAILURES=2, COOLDOWN_SECONDS=60.0)
    for _ in range(2):
        with pytest.raises(BackendUnavailable):
            ask(router)

    fake.now += 10
    assert router.in_cooldown("alpha")  # the probe says it is still down
    health["state"] = "ok"
    assert router.in_cooldown("alpha")  # probed at most every few seconds
    fake.now += 10
    assert not router.in_cooldown("alpha")  # back long before the 60 s are over
    with pytest.raises(BackendUnavailable):
        ask(router)
    assert router.in_cooldown("alpha")


def test_configuration_errors_are_neither_retried_nor_counted_toward_the_cooldown():
    missing = BackendMisconfigured("no such node", backend="gpu", code="comfyui_missing_node")
    gpu = GatedMedia(outcomes=[missing] * 5)
    router, fake = make_router(gpu, COOLDOWN_FAILURES=2)

    for _ in range(5):
        with pytest.raises(BackendMisconfigured):
            router.generate("gpu", request("a"))

    assert gpu.started == ["a"] * 5 and fake.sleeps == []
    assert not router.in_cooldown("gpu") and router.state()["gpu"]["failures"] == 0


def test_each_attempt_gets_its_number_and_no_retry_starts_after_the_job_deadline():
    class Timed(GatedMedia):
        def job_seconds(self) -> float:
            return 1.0  # long enough for two instant failures on a busy machine

        def generate(self, request, on_progress=None, cancel=None):
            self.seen.append((request.attempt, request.deadline))
            if request.attempt == 3:  # the third attempt runs into the job's deadline
                wait_until(lambda: time.monotonic() > request.deadline)
            return super().generate(request, on_progress, cancel)

    slow = Timed(outcomes=[BackendUnavailable("refused", backend="gpu", retryable=True)] * 5)
    slow.seen = []
    router, _ = make_router(slow, RETRY_ATTEMPTS=5, RETRY_BASE_DELAY=0.0, RETRY_MAX_DELAY=0.0)

    with pytest.raises(BackendUnavailable):
        router.generate("gpu", request("a"))

    assert [n for n, _ in slow.seen] == [1, 2, 3]  # attempts 4 and 5 would start after the deadline
    assert len({deadline for _, deadline in slow.seen}) == 1  # one deadline for the whole job


def test_the_backends_own_queue_position_is_passed_on_without_counting_as_progress():
    class Queued(GatedMedia):
        def generate(self, request, on_progress=None, cancel=None):
            on_progress(Progress(0, 0, queue=2))
            on_progress(Progress(0, 0, queue=0))
            if request.attempt == 1:
                raise BackendUnavailable("lost in a restart", backend="gpu", retryable=True, code="comfyui_job_lost")
            on_progress(Progress(1, 4))
            return super().generate(request, on_progress, cancel)

    gpu = Queued()
    router, _ = make_router(gpu)
    positions: list[int] = []
    progress: list[Progress] = []

    result = router.generate("gpu", request("a"), on_progress=progress.append, on_queue=positions.append)

    assert [a["error"] for a in result.attempts] == ["comfyui_job_lost", None]  # queued only: retried
    assert positions == [2, 0, 2, 0]
    assert [(p.current, p.total) for p in progress] == [(1, 4)]


def test_errors_about_the_request_do_not_pause_the_backend():
    alpha = ScriptedChat("alpha", [BackendBadResponse("garbage", backend="alpha")] * 4)
    router, _ = make_router(alpha, COOLDOWN_FAILURES=2)

    for _ in range(4):
        with pytest.raises(BackendBadResponse):
            ask(router)

    assert not router.in_cooldown("alpha")
    assert ask(router).backend == "alpha"


# ---- media: concurrency, queue, cancel


def request(prompt: str) -> MediaRequest:
    return MediaRequest(prompt=prompt, chunk=None)


def run_in_thread(router: Router, prompt: str, positions: list[int] | None = None,
                  cancel: CancelToken | None = None) -> tuple[threading.Thread, dict[str, Any]]:
    outcome: dict[str, Any] = {}

    def work() -> None:
        try:
            outcome["result"] = router.generate("gpu", request(prompt), cancel=cancel,
                                                on_queue=positions.append if positions is not None else None)
        except BackendError as err:
            outcome["error"] = err

    thread = threading.Thread(target=work, daemon=True)
    thread.start()
    return thread, outcome


def test_limit_one_runs_jobs_in_arrival_order_and_reports_queue_positions():
    gpu = GatedMedia()
    gates = {p: gpu.hold(p) for p in ("a", "b", "c")}
    router, _ = make_router(gpu)
    positions = {p: [] for p in ("a", "b", "c")}

    threads = {}
    for count, prompt in enumerate(("a", "b", "c")):
        threads[prompt], _ = run_in_thread(router, prompt, positions[prompt])
        wait_until(lambda: router.state()["gpu"]["in_flight"] + router.state()["gpu"]["queued"] == count + 1)
    assert gpu.running.acquire(timeout=WAIT)
    assert router.state()["gpu"] == {"failures": 0, "cooldown_until": 0.0, "in_flight": 1, "queued": 2, "limit": 1}

    for prompt, waiting in (("a", "c"), ("b", None), ("c", None)):
        assert gpu.started[-1] == prompt
        gates[prompt].set()
        threads[prompt].join(WAIT)
        if prompt != "c":
            assert gpu.running.acquire(timeout=WAIT)
        if waiting:  # a waiter hears its new position in its own thread; let it before the queue moves on
            wait_until(lambda: positions[waiting][-1] == 1)

    assert gpu.started == ["a", "b", "c"]
    assert positions == {"a": [], "b": [1, 0], "c": [2, 1, 0]}
    assert router.state()["gpu"]["in_flight"] == 0


def test_limits_argument_overrides_the_backend_default():
    gpu = GatedMedia()
    gates = [gpu.hold(p) for p in ("a", "b")]
    router, _ = make_router(gpu, limits={"gpu": 2})

    threads = [run_in_thread(router, p)[0] for p in ("a", "b")]
    assert gpu.running.acquire(timeout=WAIT) and gpu.running.acquire(timeout=WAIT)  # both run at once
    assert router.state()["gpu"]["in_flight"] == 2

    for gate, thread in zip(gates, threads):
        gate.set()
        thread.join(WAIT)


def test_cancel_while_queued_never_calls_the_backend():
    gpu = GatedMedia()
    gate = gpu.hold("a")
    router, _ = make_router(gpu)
    first, first_outcome = run_in_thread(router, "a")
    assert gpu.running.acquire(timeout=WAIT)
    cancel = CancelToken()
    second, outcome = run_in_thread(router, "b", positions=[], cancel=cancel)
    wait_until(lambda: router.state()["gpu"]["queued"] == 1)

    cancel.cancel()
    second.join(WAIT)

    assert outcome["error"].code == "cancelled"
    assert router.state()["gpu"]["queued"] == 0
    gate.set()
    first.join(WAIT)
    assert "result" in first_outcome
    assert gpu.started == ["a"]
    assert router.generate("gpu", request("c")).files  # the slot is free again


def test_media_errors_before_progress_are_retried():
    gpu = GatedMedia(outcomes=[BackendUnavailable("queue full", backend="gpu", retryable=True)])
    router, fake = make_router(gpu)

    result = router.generate("gpu", request("a"))

    assert gpu.started == ["a", "a"] and len(fake.sleeps) == 1
    assert [a["error"] for a in result.attempts] == ["backend_unavailable", None]


def test_media_errors_after_progress_are_not_retried():
    gpu = GatedMedia(outcomes=[BackendTimeout("went quiet", backend="gpu", retryable=True)], progress_first=True)
    router, fake = make_router(gpu)

    with pytest.raises(BackendTimeout) as caught:
        router.generate("gpu", request("a"))

    assert gpu.started == ["a"] and fake.sleeps == []
    assert len(caught.value.details["attempts"]) == 1


def test_media_backend_in_cooldown_is_refused_without_a_call():
    gpu = GatedMedia(outcomes=[BackendUnavailable("down", backend="gpu")] * 2)
    router, fake = make_router(gpu, RETRY_ATTEMPTS=1, COOLDOWN_FAILURES=2)
    for _ in range(2):
        with pytest.raises(BackendUnavailable):
            router.generate("gpu", request("a"))

    with pytest.raises(BackendUnavailable) as caught:
        router.generate("gpu", request("b"))

    assert caught.value.code == "backend_cooldown"
    assert gpu.started == ["a", "a"]
    fake.now += 31
    assert router.generate("gpu", request("c")).backend == "gpu"

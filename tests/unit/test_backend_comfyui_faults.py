"""The ComfyUI adapter against the failure modes of the real server (0.3.64), reproduced by the fake:
freeze, slow restart, slow interrupt, caching, duplicate ids, validation errors, missing node types,
its own queue, and several servers of which one is down. Each test: failure mode → observed outcome.
"""
from __future__ import annotations

import threading
import time
import uuid
from typing import Any, Callable

import httpx
import pytest

from config import Config
from devserver.backends.availability import AvailabilityChecker
from devserver.backends.base import CancelToken, MediaResult, Progress
from devserver.backends.comfyui import ComfyUIBackend, attempt_prompt_id
from devserver.backends.comfyui_server import STOP_SECONDS
from devserver.backends.registry import BackendRegistry
from devserver.backends.router import Router
from devserver.errors import BackendError, BackendMisconfigured, BackendTimeout, BackendUnavailable
from tests.fakes.comfyui_fake import FakeComfyUI
from tests.fakes.comfyui_graphs import fake, make_backend  # noqa: F401  (fixtures)
from tests.fakes.comfyui_graphs import chunk, request, tiny, tiny_chunk, txt2img

pytestmark = pytest.mark.timeout(60)
WAIT = 15.0  # bound for every wait on a state


def wait_until(condition: Callable[[], Any], what: str = "condition") -> Any:
    deadline = time.monotonic() + WAIT
    while not (value := condition()):
        assert time.monotonic() < deadline, f"{what} not reached in time"
        time.sleep(0.01)
    return value


def make_router(backend: ComfyUIBackend, **settings: Any) -> Router:
    registry = BackendRegistry()
    registry.add(backend)
    config = Config(TESTING=True).with_overrides({"RETRY_BASE_DELAY": 0.01, "RETRY_MAX_DELAY": 0.02, **settings})
    return Router(registry, config, probe_seconds=0.05)


def prompt_ids(fake: FakeComfyUI) -> list[str]:
    return [r.body.get("prompt_id") for r in fake.requests_to("POST", "/prompt")]


# ---- freeze: connections accepted, nothing answered


@pytest.mark.parametrize("when", ["before_submit", "while_running"])
def test_a_frozen_comfyui_fails_the_job_at_its_deadline_not_after_each_calls_own_timeout(fake, make_backend, when):
    backend = make_backend(fake.url, timeout=1.5, quiet_seconds=0.2, http_timeout=30.0)  # a call alone: 30 s
    router = make_router(backend, RETRY_ATTEMPTS=3)
    if when == "before_submit":
        backend.servers[0].cached("/object_info", time.monotonic() + 5)  # only the submit meets the freeze
        fake.freeze()
    else:
        fake.hang = True

    def freeze_once_running(p: Progress) -> None:
        if p.total:
            fake.freeze()

    started = time.monotonic()
    with pytest.raises(BackendTimeout):
        router.generate("comfyui", request(txt2img(), steps=2), on_progress=freeze_once_running)
    elapsed = time.monotonic() - started
    # the job's limit, plus at most a second each to ask for a stop and to close the socket — not 3 × 30 s
    assert elapsed < 1.5 + 2 * STOP_SECONDS + 3.0
    assert len(set(prompt_ids(fake))) <= 1  # no second prompt was queued next to the frozen one
    fake.thaw()


def test_after_a_freeze_the_buffered_requests_run_and_the_prompt_runs_once(fake, make_backend):
    fake.hang = True
    backend = make_backend(fake.url, timeout=1.0)
    job = str(uuid.uuid4())
    with pytest.raises(BackendTimeout):
        backend.generate(request(txt2img(), steps=2, job_id=job), lambda p: p.total and fake.freeze())
    fake.hang = False
    fake.thaw()
    wait_until(lambda: fake.history.get(job), "the prompt's end after the thaw")
    assert fake.runs.count(job) == 1


# ---- fresh prompt id per attempt, stop before a retry


def test_a_retry_gets_a_fresh_prompt_id_and_the_first_prompt_is_removed_before_it(fake, make_backend):
    fake.paused = True  # the prompt waits in ComfyUI's queue, so a hiccup there may be retried
    backend = make_backend(fake.url)
    router = make_router(backend, RETRY_ATTEMPTS=3)
    job = str(uuid.uuid4())

    def hiccup_then_run(position: int) -> None:
        if position and len(prompt_ids(fake)) == 1:
            fake.fail_next[("GET", "/queue")] = [500]  # the next /queue answers 500: attempt 1 fails
        if len(prompt_ids(fake)) == 2:
            fake.paused = False

    result = router.generate("comfyui", request(tiny_chunk(), job_id=job), on_queue=hiccup_then_run)

    first, second = prompt_ids(fake)
    assert (first, second) == (attempt_prompt_id(job, 1), attempt_prompt_id(job, 2)) and first != second
    assert result.ids["prompt_id"] == second and result.ids["attempt"] == "2"
    order = [(r.method, r.path, r.body) for r in fake.requests]
    removed = order.index(("POST", "/queue", {"delete": [first]}))
    resubmitted = next(i for i, r in enumerate(order) if r[1] == "/prompt" and r[2]["prompt_id"] == second)
    assert removed < resubmitted  # never two copies of one job in ComfyUI
    after = order[resubmitted:]
    assert ("GET", f"/history/{first}", None) not in after  # a retry never reads the old attempt's history
    assert fake.runs == [second]


def test_the_fake_accepts_a_duplicate_prompt_id_and_runs_it_twice_as_the_real_server_does(fake):
    graph = tiny("SaveImage")
    for prefix in ("one", "two"):
        graph["2"]["inputs"]["filename_prefix"] = prefix
        answer = httpx.post(f"{fake.url}/prompt", json={"prompt": graph, "prompt_id": "same"}).json()
        assert answer["prompt_id"] == "same"
    last = lambda: fake.history.get("same", {}).get("outputs", {}).get("2", {}).get("images", [{}])[0]  # noqa: E731
    wait_until(lambda: last().get("filename", "").startswith("two"), "the second run's history")
    assert fake.runs == ["same", "same"]  # both ran; /history keeps only the last


def test_a_malformed_answer_before_the_prompt_was_queued_is_retried(fake, make_backend):
    fake.fail_next[("POST", "/prompt")] = [200]  # 200, but not JSON (a proxy in between)
    result = make_router(make_backend(fake.url)).generate("comfyui", request(tiny_chunk()))
    assert [a["error"] for a in result.attempts] == ["malformed_json", None]
    assert fake.runs == [result.ids["prompt_id"]]


# ---- configuration errors


def test_a_missing_node_type_fails_each_job_at_once_and_never_pauses_comfyui(make_backend):
    with FakeComfyUI(missing_nodes=("ImageBlur",)) as server:
        backend = make_backend(server.url)
        router = make_router(backend, COOLDOWN_FAILURES=1)
        graph = {**tiny("SaveImage"), "3": {"class_type": "ImageBlur",
                                            "inputs": {"image": ["1", 0], "blur_radius": 3, "sigma": 1.0}}}
        blurred = chunk(graph, {"prompt": {"node": "2", "field": "filename_prefix"}}, "2")
        for _ in range(3):
            with pytest.raises(BackendMisconfigured) as err:
                router.generate("comfyui", request(blurred))
            assert err.value.code == "comfyui_missing_node" and "ImageBlur" in err.value.message
        assert not router.in_cooldown("comfyui")
        assert server.requests_to("POST", "/prompt") == []
        assert router.generate("comfyui", request(tiny_chunk())).files  # other outputs still run
        availability = AvailabilityChecker(router._registry, router, Config(), ttl=0)
        assert availability.check(blurred).state == "missing_node"
        assert availability.check(tiny_chunk()).available


@pytest.mark.parametrize("inputs, problem", [
    ({"blur_radius": 99, "sigma": 1.0}, "bigger than max of 31"),
    ({"blur_radius": 0, "sigma": 1.0}, "smaller than min of 1"),
    ({"blur_radius": "big", "sigma": 1.0}, "convert an input value to a INT"),
    ({"sigma": 1.0}, "Required input is missing"),
])
def test_a_workflow_comfyui_rejects_is_a_configuration_error_not_retried(fake, make_backend, inputs, problem):
    router = make_router(make_backend(fake.url), COOLDOWN_FAILURES=1)
    graph = {**tiny("SaveImage"), "3": {"class_type": "ImageBlur", "inputs": {"image": ["1", 0], **inputs}}}
    with pytest.raises(BackendMisconfigured) as err:
        router.generate("comfyui", request(chunk(graph, {"prompt": {"node": "2", "field": "filename_prefix"}}, "2")))
    assert err.value.code == "comfyui_invalid_workflow" and problem in err.value.message
    assert err.value.details["node_errors"]["3"]["class_type"] == "ImageBlur"
    assert len(fake.requests_to("POST", "/prompt")) == 1 and not router.in_cooldown("comfyui")


# ---- restart: connections refused for a while


def test_a_restart_fails_one_job_without_pausing_comfyui_and_the_next_job_runs(fake, make_backend):
    fake.time_scale = 0.05  # 13 s of refused connections → 0.65 s
    backend = make_backend(fake.url)
    router = make_router(backend, RETRY_ATTEMPTS=3, COOLDOWN_FAILURES=2)
    fake.restart(refuse=True)
    with pytest.raises(BackendUnavailable) as err:
        router.generate("comfyui", request(tiny_chunk()))
    assert err.value.code == "backend_unreachable" and len(err.value.details["attempts"]) == 3
    assert not router.in_cooldown("comfyui")  # one failed job, however many attempts
    assert fake.up.wait(WAIT)
    assert router.generate("comfyui", request(tiny_chunk())).files


def test_a_paused_comfyui_is_back_as_soon_as_its_health_probe_answers(fake, make_backend):
    fake.time_scale = 0.05
    backend = make_backend(fake.url)
    router = make_router(backend, RETRY_ATTEMPTS=1, COOLDOWN_FAILURES=1, COOLDOWN_SECONDS=600.0)
    fake.restart(refuse=True)
    with pytest.raises(BackendUnavailable):
        router.generate("comfyui", request(tiny_chunk()))
    assert router.in_cooldown("comfyui")
    assert fake.up.wait(WAIT)
    wait_until(lambda: not router.in_cooldown("comfyui"), "the pause's early end")  # not after 600 s
    assert router.generate("comfyui", request(tiny_chunk())).files


def test_a_job_lost_in_a_restart_is_retried_under_a_new_prompt_id(fake, make_backend):
    fake.paused = True
    router = make_router(make_backend(fake.url), RETRY_ATTEMPTS=2)
    job = str(uuid.uuid4())

    def restart_once(position: int) -> None:
        if len(prompt_ids(fake)) == 1 and position:
            fake.restart()
        elif len(prompt_ids(fake)) == 2:
            fake.paused = False

    result = router.generate("comfyui", request(tiny_chunk(), job_id=job), on_queue=restart_once)
    assert [a["error"] for a in result.attempts] == ["comfyui_job_lost", None]
    assert result.ids["prompt_id"] == attempt_prompt_id(job, 2)


# ---- progress, caching, queue position, interrupts


def test_a_graph_without_a_sampler_reports_node_counts(fake, make_backend):
    seen: list[Progress] = []
    make_backend(fake.url).generate(request(tiny_chunk()), seen.append)
    counts = [(p.current, p.total) for p in seen if p.total]
    assert counts and counts[-1] == (2, 2) and all(t == 2 for _, t in counts)
    assert [c for c, _ in counts] == sorted(c for c, _ in counts)


def test_a_fully_cached_prompt_still_returns_the_file_its_first_run_wrote(fake, make_backend):
    backend = make_backend(fake.url)
    first = backend.generate(request(tiny_chunk(), "same words"))
    files_before = len(fake.files)
    seen: list[Progress] = []
    second = backend.generate(request(tiny_chunk(), "same words"), seen.append)
    assert second.files[0].data == first.files[0].data and len(fake.files) == files_before  # nothing re-ran
    assert (seen[-1].current, seen[-1].total) == (2, 2)
    cached = [r for r in fake.history[second.ids["prompt_id"]]["status"]["messages"] if r[0] == "execution_cached"]
    assert cached[0][1]["nodes"] == ["1", "2"]


def test_comfyuis_own_queue_position_reaches_the_output(fake, make_backend):
    fake.paused = True
    other = httpx.post(f"{fake.url}/prompt", json={"prompt": tiny("SaveImage"), "client_id": "someone-else"})
    assert other.status_code == 200
    router = make_router(make_backend(fake.url))
    positions: list[int] = []

    def release(position: int) -> None:
        positions.append(position)
        fake.paused = False

    result = router.generate("comfyui", request(txt2img(), steps=2), on_queue=release)
    assert result.files
    assert positions[0] == 2 and positions[-1] == 0  # one prompt ahead, then running
    assert positions == sorted(positions, reverse=True)


def test_a_cancel_waits_for_no_slow_interrupt_and_the_prompt_ends_interrupted(make_backend):
    with FakeComfyUI(time_scale=0.1) as server:  # the interrupt takes effect 0.5 s later
        server.hang = True
        cancel = CancelToken()
        job = str(uuid.uuid4())
        with pytest.raises(BackendError) as err:
            make_backend(server.url).generate(request(txt2img(), steps=2, job_id=job),
                                              lambda p: p.message == "steps" and cancel.cancel(), cancel)
        assert err.value.code == "cancelled"
        assert [r.body for r in server.requests_to("POST", "/interrupt")] == [{"prompt_id": job}]
        entry = wait_until(lambda: server.history.get(job), "the interrupted prompt's history")
        assert entry["status"]["messages"][-1][0] == "execution_interrupted"


# ---- several servers


def test_jobs_go_to_the_least_busy_server_and_skip_one_that_is_down(make_backend):
    with FakeComfyUI() as first, FakeComfyUI() as second:
        down = FakeComfyUI.refused_url()
        backend = make_backend(",".join([down, first.url, second.url]))
        router = make_router(backend)
        assert router.state()["comfyui"]["limit"] == 3
        first.hang = second.hang = True
        results: list[MediaResult] = []
        threads = [threading.Thread(target=lambda: results.append(router.generate("comfyui", request(txt2img(),
                                                                                                      steps=1))))
                   for _ in range(2)]
        for thread in threads:
            thread.start()
        wait_until(lambda: first.runs and second.runs, "one job on each healthy server")
        first.hang = second.hang = False
        for thread in threads:
            thread.join(WAIT)
        assert len(results) == 2 and {r.ids["server"] for r in results} == {first.url, second.url}
        health = backend.health().to_dict()
        assert health["state"] == "ok" and "2 of 3" in health["detail"]
        assert [i["state"] for i in health["instances"]] == ["unreachable", "ok", "ok"]

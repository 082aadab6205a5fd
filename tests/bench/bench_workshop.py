"""Workshop makespan: 30 students each run interception → optimization → generation at once.

Against the loopback fakes with realistic limits: the language model (Ollama fake, every role)
thinks 300 ms per call with 4 parallel slots; ComfyUI (fake) takes 3 s per image and the router lets
one job run at a time; then the same with two ComfyUI instances (`COMFYUI_URL` lists both, each
serves one job at a time). `--quick` scales every time down by 10. The theoretical lower bound from
those limits: the images cannot start before one student's language-model calls are done and each
instance runs its share one after another, and the language model cannot finish its calls faster
than its slots allow:

    bound = max(calls_per_student × llm_s + ceil(students / instances) × image_s,
                total_calls × llm_s / slots + image_s)

The fake ComfyUI sleeps once per node (a few long sleeps stay accurate on a busy machine, where ~90 short
per-frame sleeps did not), and that node time is calibrated until one job alone takes the image time
(node caching off, so every job costs the same), and the bound uses the time one job
alone then really takes. Target: makespan / bound ≤ 1.10 for each instance count. Also prints the mean
wait per student (finish − that student's time alone). Run:
`.venv/bin/python tests/bench/bench_workshop.py [--quick]`.
"""
from __future__ import annotations

import logging
import math
import statistics
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from devserver.app import create_app, shutdown  # noqa: E402
from devserver.backends.base import MediaRequest  # noqa: E402
from tests.bench.figures import Figure, cli  # noqa: E402
from tests.fakes.comfyui_fake import FakeComfyUI  # noqa: E402
from tests.fakes.ollama_fake import OllamaFake  # noqa: E402

STUDENTS, SLOTS, LLM_S, IMAGE_S, STEPS = 30, 4, 0.3, 3.0, 5
IMAGE_MODELS = ("sd3.5_large.safetensors", "clip_l.safetensors", "clip_g.safetensors", "t5xxl_fp16.safetensors")
ROLES = ("TRANSLATION_MODEL", "STAGE2_INTERCEPTION_MODEL", "STAGE2_OPTIMIZATION_MODEL", "STAGE3_MODEL",
         "SAFETY_VERIFY_MODEL", "CODE_MODEL")
IDEAS = ["a red boat on a calm lake", "a fox in the snow under the moon", "a lighthouse by the stormy sea"]


def lone_job_s(app, seed: int) -> float:
    """Time one image job through the router with nothing else running."""
    chunk = app.extensions["devserver.catalog"].output_chunk("sd35_large")
    started = time.perf_counter()
    app.extensions["devserver.router"].generate("comfyui", MediaRequest(prompt="a boat", chunk=chunk, seed=seed,
                                                                        job_id=f"calibrate-{seed}"))
    return time.perf_counter() - started


def first_start(comfy: FakeComfyUI, since: float) -> float:
    """Return the seconds from `since` (wall clock) to the first job the fake began after it."""
    starts = [data["timestamp"] / 1000 for entry in list(comfy.history.values())
              for kind, data in entry["status"]["messages"] if kind == "execution_start"]
    return min((t for t in starts if t >= since), default=float("nan")) - since


def workshop(scale: float, instances: int = 1) -> tuple[float, float, float, float, float, int]:
    """Run the workshop against `instances` ComfyUI fakes.

    Returns (makespan, bound, one image alone, first image's start, mean wait) in seconds and the failed runs."""
    llm_s, image_s = LLM_S * scale, IMAGE_S * scale
    with ExitStack() as stack:
        llm = stack.enter_context(OllamaFake(models=("writer:latest",)))
        comfies = [stack.enter_context(FakeComfyUI(models=IMAGE_MODELS, steps=STEPS, time_scale=1.0))
                   for _ in range(instances)]
        tmp = stack.enter_context(tempfile.TemporaryDirectory())
        llm.mode, llm.delay, llm.slots = "slow", llm_s, threading.Semaphore(SLOTS)
        llm.answer = "A quiet red boat drifts on a calm lake at dawn, soft light, mist over the water."
        llm.json_answer = {"safe": True, "category": "none", "reason": "harmless",
                           "positive_prompt": "a red boat on a calm lake", "negative_prompt": "violence"}
        for comfy in comfies:
            comfy.caching = False  # a fixed service time per job: no node is skipped as already computed
            comfy.node_seconds = 0.01
        app = create_app({"TESTING": True, "EXPORTS_DIR": Path(tmp), "OLLAMA_URL": llm.url,
                          "COMFYUI_URL": ",".join(c.url for c in comfies), "RUN_WORKERS": STUDENTS,
                          "MODEL_ROLE_MAP": {role: "ollama/writer" for role in ROLES}})
        try:
            lone_job_s(app, 0)  # the first job also connects and reads each server's node list
            for _ in range(2):  # the node count is fixed, so the time scales linearly; twice absorbs noise
                node_s = comfies[0].node_seconds * image_s / min(lone_job_s(app, seed) for seed in (1, 2))
                for comfy in comfies:
                    comfy.node_seconds = node_s
            image_s = min(lone_job_s(app, seed) for seed in (3, 4, 5))  # others' load only ever adds time

            def student(n: int) -> tuple[float, str]:
                client = app.test_client()
                run = client.post("/api/schema/pipeline/execute?wait=600", json={
                    "schema": "bauhaus", "input_text": IDEAS[n % len(IDEAS)], "lang": "en",
                    "output_configs": ["sd35_large"]}).get_json()
                return time.perf_counter(), run.get("status", "failed")

            started, wall = time.perf_counter(), time.time()
            with ThreadPoolExecutor(STUDENTS) as pool:
                done = list(pool.map(student, range(STUDENTS)))
            makespan = max(t for t, _ in done) - started
            calls = sum(1 for b in llm.chat_bodies() if b.get("messages"))
            first_image = min(first_start(c, wall) for c in comfies)
        finally:
            shutdown(app)
    per_student = calls / STUDENTS
    alone = per_student * llm_s + image_s
    bound = max(per_student * llm_s + math.ceil(STUDENTS / instances) * image_s, calls * llm_s / SLOTS + image_s)
    wait = statistics.mean(t - started - alone for t, _ in done)
    return makespan, bound, image_s, first_image, wait, sum(status != "succeeded" for _, status in done)


def figures(quick: bool = False) -> list[Figure]:
    """Return makespan / bound for one and for two ComfyUI instances."""
    for noisy in ("werkzeug", "httpx", "devserver", "websockets"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    scale = 0.1 if quick else 1.0
    found = []
    for instances in (1, 2):
        makespan, bound, image_s, first, wait, failed = workshop(scale, instances)
        note = (f"makespan {makespan:.1f} s, bound {bound:.1f} s (image alone {image_s:.2f} s), first image "
                f"started after {first:.1f} s, mean wait {wait:.1f} s per student, "
                f"{failed} runs not succeeded; times × {scale:g}")
        found.append(Figure(f"workshop makespan / bound, {STUDENTS} students, {instances} ComfyUI "
                            f"instance{'s' if instances > 1 else ''}", makespan / bound, "×", 1.10, False, note))
    return found


if __name__ == "__main__":
    cli(figures, __doc__)

"""Workshop makespan: 30 students each run interception → optimization → generation at once.

Against the loopback fakes with realistic limits: the language model (Ollama fake, every role)
thinks 300 ms per call with 4 parallel slots; ComfyUI (fake) takes 3 s per image and the router lets
one job run at a time. `--quick` scales every time down by 10. The theoretical lower bound from
those limits: the images cannot start before one student's language-model calls are done and run
one after another, and the language model cannot finish its calls faster than its slots allow:

    bound = max(calls_per_student × llm_s + students × image_s,  total_calls × llm_s / slots + image_s)

The fake ComfyUI sleeps per websocket frame, so its frame delay is calibrated until one job alone takes
the image time, and the bound uses the time one job alone then really takes. Target: makespan / bound
≤ 1.10. Also prints the mean wait per student (finish − the bound's share of
that student alone). Run: `.venv/bin/python tests/bench/bench_workshop.py [--quick]`.
"""
from __future__ import annotations

import logging
import statistics
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
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


def workshop(scale: float) -> tuple[float, float, float, int]:
    """Run the workshop once; return (makespan s, bound s, mean wait s, failed runs)."""
    llm_s, image_s = LLM_S * scale, IMAGE_S * scale
    with OllamaFake(models=("writer:latest",)) as llm, \
            FakeComfyUI(models=IMAGE_MODELS, steps=STEPS, frame_delay=0.01) as comfy, \
            tempfile.TemporaryDirectory() as tmp:
        llm.mode, llm.delay, llm.slots = "slow", llm_s, threading.Semaphore(SLOTS)
        llm.answer = "A quiet red boat drifts on a calm lake at dawn, soft light, mist over the water."
        llm.json_answer = {"safe": True, "category": "none", "reason": "harmless",
                           "positive_prompt": "a red boat on a calm lake", "negative_prompt": "violence"}
        app = create_app({"TESTING": True, "EXPORTS_DIR": Path(tmp), "OLLAMA_URL": llm.url,
                          "COMFYUI_URL": comfy.url, "RUN_WORKERS": STUDENTS,
                          "MODEL_ROLE_MAP": {role: "ollama/writer" for role in ROLES}})
        try:
            comfy.frame_delay *= image_s / lone_job_s(app, 1)
            image_s = min(lone_job_s(app, seed) for seed in (2, 3, 4))  # others' load only ever adds time

            def student(n: int) -> tuple[float, str]:
                client = app.test_client()
                run = client.post("/api/schema/pipeline/execute?wait=600", json={
                    "schema": "bauhaus", "input_text": IDEAS[n % len(IDEAS)], "lang": "en",
                    "output_configs": ["sd35_large"]}).get_json()
                return time.perf_counter(), run.get("status", "failed")

            started = time.perf_counter()
            with ThreadPoolExecutor(STUDENTS) as pool:
                done = list(pool.map(student, range(STUDENTS)))
            makespan = max(t for t, _ in done) - started
            calls = sum(1 for b in llm.chat_bodies() if b.get("messages"))
        finally:
            shutdown(app)
    per_student = calls / STUDENTS
    alone = per_student * llm_s + image_s
    bound = max(per_student * llm_s + STUDENTS * image_s, calls * llm_s / SLOTS + image_s)
    wait = statistics.mean(t - started - alone for t, _ in done)
    return makespan, bound, wait, sum(status != "succeeded" for _, status in done)


def figures(quick: bool = False) -> list[Figure]:
    """Return makespan / bound for one ComfyUI instance."""
    for noisy in ("werkzeug", "httpx", "devserver"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    scale = 0.1 if quick else 1.0
    makespan, bound, wait, failed = workshop(scale)
    note = (f"makespan {makespan:.1f} s, bound {bound:.1f} s, mean wait {wait:.1f} s per student, "
            f"{failed} runs not succeeded; times × {scale:g}; 1 ComfyUI instance")
    return [Figure(f"workshop makespan / bound, {STUDENTS} students", makespan / bound, "×", 1.10, False, note)]



if __name__ == "__main__":
    cli(figures, __doc__)

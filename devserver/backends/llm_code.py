"""Code outputs (p5.js sketches) written by a language model of the CODE_MODEL role.

A media backend like any other for the orchestrator: it receives the final prompt and returns one
file (`sketch.js`). The chat goes through the app's router, so retries, fallbacks and the record of
the model actually used work as for every LLM step. An answer without a p5.js `setup()` is an
error, not a result: a sketch that cannot run is not shown as if it were one.
"""
from __future__ import annotations

import re
import time
from typing import Any

from devserver.backends.base import (CancelToken, Health, MediaBackend, MediaFile, MediaRequest, MediaResult,
                                     Progress, ProgressCallback)
from devserver.errors import BackendBadResponse, BackendUnavailable

FENCE = re.compile(r"```(?:[a-zA-Z0-9_+-]*)\n(.*?)```", re.DOTALL)
SETUP = re.compile(r"function\s+setup\s*\(")
SYSTEM = ("You write p5.js sketches for children. Answer with one complete JavaScript program in a single "
          "```javascript code block: a setup() function that calls createCanvas(512, 512) and a draw() function. "
          "Use only p5.js functions, no external files, no network, no user data.")


def extract_code(text: str) -> str | None:
    """Return the p5.js program in a model's answer (fenced or bare), or None if there is none."""
    blocks = FENCE.findall(text)
    candidates = blocks + [text] if blocks else [text]
    for candidate in candidates:
        if SETUP.search(candidate):
            return candidate.strip() + "\n"
    return None


class LlmCodeBackend(MediaBackend):
    """p5.js code from the CODE_MODEL role, through the router."""

    backend_id = "llm_code"
    display_name = "Code (language model)"
    capabilities = frozenset({"code"})
    default_concurrency = 2

    def __init__(self) -> None:
        self._router: Any = None

    @classmethod
    def from_config(cls, config: Any) -> "LlmCodeBackend":
        return cls()

    def attach(self, router: Any) -> None:
        self._router = router

    def health(self) -> Health:
        if self._router is None:
            return Health("error", "no router attached")
        return Health("ok", "uses the CODE_MODEL role")

    def generate(self, request: MediaRequest, on_progress: ProgressCallback | None = None,
                 cancel: CancelToken | None = None) -> MediaResult:
        """Ask the code model for a sketch and return it as a JavaScript file."""
        if self._router is None:
            raise BackendUnavailable("The code backend has no router.", backend=self.backend_id)
        started = time.perf_counter()
        role = request.chunk.model_role or "CODE_MODEL"
        options: dict[str, Any] = {"temperature": 0.4, "max_tokens": 900}
        if request.seed is not None:
            options["seed"] = request.seed
        messages = [{"role": "system", "content": SYSTEM}, {"role": "user", "content": request.prompt}]
        result = self._router.chat(role, messages, options)
        code = extract_code(result.text)
        if code is None:
            raise BackendBadResponse("The code model did not write a runnable p5.js sketch (no setup function).",
                                     backend=self.backend_id, code="no_sketch", details={"answer": result.text[:500]})
        if on_progress:
            on_progress(Progress(1, 1, message="written"))
        return MediaResult(files=[MediaFile(code.encode(), "text/javascript", "sketch.js")], backend=self.backend_id,
                           model_requested=result.model_requested, model_used=result.model_used,
                           parameters={"role": role, "messages": messages, **options},
                           duration_ms=(time.perf_counter() - started) * 1000, usage=result.usage,
                           cost=result.cost, ids=result.ids)

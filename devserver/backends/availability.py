"""Whether each output can run now: its backend reachable, out of cooldown, its models and node types installed.

Health probes cost a network round trip, so answers are cached for `ttl` seconds per backend and per
model. The reason is written for the student's output picker ("ComfyUI is not set up on this
server"), in de and en, so an unavailable model is explained, not hidden.
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any, Callable

from devserver.backends.base import split_model_ref
from devserver.errors import AppError
from devserver.schemas.models import OutputChunk

REASONS = {
    "not_configured": {"de": "{name} ist auf diesem Server nicht eingerichtet.",
                       "en": "{name} is not set up on this server."},
    "unreachable": {"de": "{name} ist gerade nicht erreichbar.", "en": "{name} cannot be reached right now."},
    "error": {"de": "{name} meldet einen Fehler.", "en": "{name} reports an error."},
    "cooldown": {"de": "{name} hatte gerade mehrere Fehler und pausiert kurz.",
                 "en": "{name} just failed several times and is pausing briefly."},
    "missing_model": {"de": "Das Modell {model} ist in {name} nicht installiert.",
                      "en": "The model {model} is not installed in {name}."},
    "missing_models": {"de": "Die Modelle {model} sind in {name} nicht installiert.",
                       "en": "The models {model} are not installed in {name}."},
    "missing_node": {"de": "{name} fehlt der Baustein {model}.", "en": "{name} lacks the node type {model}."},
    "missing_nodes": {"de": "{name} fehlen die Bausteine {model}.", "en": "{name} lacks the node types {model}."},
    "no_vision_model": {"de": "Auf diesem Server ist kein Modell eingerichtet, das Bilder beschreiben kann.",
                        "en": "No model that can describe pictures is set up on this server."},
}


@dataclass(frozen=True)
class Availability:
    """One output's availability, with the reason in every UI language."""

    available: bool
    state: str
    reason: dict[str, str] | None = None

    def to_dict(self, lang: str) -> dict[str, Any]:
        return {"available": self.available, "availability_state": self.state,
                "unavailable_reason": self.reason.get(lang) if self.reason else None}


class AvailabilityChecker:
    """Cached availability of outputs for one app."""

    def __init__(self, registry: Any, router: Any, config: Any, ttl: float,
                 clock: Callable[[], float] = time.monotonic):
        self._registry, self._router, self._config = registry, router, config
        self._ttl, self._clock = ttl, clock
        self._cache: dict[tuple[str, str], tuple[float, Any]] = {}
        self._lock = threading.Lock()

    def _cached(self, key: tuple[str, str], compute: Callable[[], Any]) -> Any:
        now = self._clock()
        with self._lock:
            hit = self._cache.get(key)
            if hit and now - hit[0] < self._ttl:
                return hit[1]
        value = compute()
        with self._lock:
            self._cache[key] = (now, value)
        return value

    def _backend_state(self, backend_id: str) -> tuple[str, str]:
        backend = self._registry.get(backend_id)
        if self._router.in_cooldown(backend_id):
            return "cooldown", backend.display_name
        return self._cached(("health", backend_id), lambda: backend.health().state), backend.display_name

    def check(self, chunk: OutputChunk) -> Availability:
        """Return whether an output chunk can run now, and why not."""
        backend_id = chunk.backend
        if chunk.model_role:  # made by a language model: the role's backend decides
            backend_id = split_model_ref(self._config.model_for(chunk.model_role))[0]
        state, name = self._backend_state(backend_id)
        if state != "ok":
            return Availability(False, state, _reason(state, name, ""))
        backend = self._registry.get(chunk.backend)
        lacking = self._cached(("parts", f"{chunk.backend}:{chunk.name}"), lambda: backend.missing_parts(chunk))
        # every missing part is named, node types (a custom-node module missing or failed to import) first
        reasons = [_reason(kind if len(parts) == 1 else f"{kind}s", name, ", ".join(parts))
                   for kind, parts in (("missing_node", lacking.get("nodes")), ("missing_model", lacking.get("models")))
                   if parts]
        if reasons:
            state = "missing_node" if lacking.get("nodes") else "missing_model"
            return Availability(False, state, {lang: " ".join(r[lang] for r in reasons) for lang in reasons[0]})
        return Availability(True, "ok")

    def vision(self) -> Availability:
        """Return whether uploaded pictures can be described now (VISION_MODEL set, its backend up)."""
        ref = self._config.VISION_MODEL
        if not ref:
            return Availability(False, "no_vision_model", _reason("no_vision_model", "", ""))
        try:
            state, name = self._backend_state(split_model_ref(ref)[0])
        except AppError:  # not provider/model, or a provider this server does not know
            return Availability(False, "not_configured", _reason("not_configured", ref, ""))
        if state != "ok":
            return Availability(False, state, _reason(state, name, ""))
        return Availability(True, "ok")


def _reason(state: str, name: str, model: str) -> dict[str, str]:
    templates = REASONS.get(state, REASONS["error"])
    return {lang: text.format(name=name, model=model) for lang, text in templates.items()}

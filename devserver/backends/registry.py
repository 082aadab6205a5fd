"""The backend registry: one instance per provider, looked up by id — never by if/elif on names.

Provider classes are listed once in `PROVIDERS`; `build_registry(config)` instantiates each with the
app's Config (a provider that is not configured still registers and reports `not_configured`, so
the UI can explain why an output is unavailable). Tests register fakes the same way with `add`.
"""
from __future__ import annotations

import importlib
from typing import Any, Iterator

from devserver import redaction
from devserver.backends.base import Backend, LlmBackend, MediaBackend
from devserver.errors import BackendUnavailable, ConfigError

# module:Class for every provider; imported lazily so a missing optional client fails only its provider
PROVIDERS: tuple[str, ...] = (
    "devserver.backends.local:LocalLlamaBackend",
    "devserver.backends.ollama:OllamaBackend",
    "devserver.backends.openrouter:OpenRouterBackend",
    "devserver.backends.openai_compat:OpenAICompatBackend",
    "devserver.backends.openai_images:OpenAIImagesBackend",
    "devserver.backends.comfyui:ComfyUIBackend",
    "devserver.backends.sketch:SketchBackend",
    "devserver.backends.llm_code:LlmCodeBackend",
)


class BackendRegistry:
    """Backends of one app, by id."""

    def __init__(self) -> None:
        self._backends: dict[str, Backend] = {}

    def add(self, backend: Backend) -> Backend:
        """Register a backend instance under its class's backend_id (replacing an older one)."""
        if not backend.backend_id:
            raise ConfigError(f"{type(backend).__name__} has no backend_id")
        old = self._backends.get(backend.backend_id)
        if old is not None and old is not backend:
            old.close()
        self._backends[backend.backend_id] = backend
        return backend

    def get(self, backend_id: str) -> Backend:
        try:
            return self._backends[backend_id]
        except KeyError:
            raise BackendUnavailable(f"No backend {backend_id!r} is registered.", backend=backend_id,
                                     code="backend_unknown") from None

    def llm(self, backend_id: str) -> LlmBackend:
        backend = self.get(backend_id)
        if not isinstance(backend, LlmBackend):
            raise ConfigError(f"backend {backend_id!r} is not a language model backend")
        return backend

    def media(self, backend_id: str) -> MediaBackend:
        backend = self.get(backend_id)
        if not isinstance(backend, MediaBackend):
            raise ConfigError(f"backend {backend_id!r} is not a media backend")
        return backend

    def ids(self) -> list[str]:
        return sorted(self._backends)

    def __iter__(self) -> Iterator[Backend]:
        return iter(list(self._backends.values()))

    def close(self) -> None:
        for backend in self:
            backend.close()


def provider_classes() -> list[type[Backend]]:
    """Import and return every provider class listed in PROVIDERS."""
    classes = []
    for spec in PROVIDERS:
        module, _, name = spec.partition(":")
        classes.append(getattr(importlib.import_module(module), name))
    return classes


def known_backend_ids() -> list[str]:
    """Return the ids of every provider the server can build (for schema validation)."""
    return sorted(cls.backend_id for cls in provider_classes())


def build_registry(config: Any) -> BackendRegistry:
    """Instantiate every provider for this app's config (its API keys are redacted by value from then on)."""
    redaction.register(config.secret_values())
    redaction.install_log_scrubber()
    registry = BackendRegistry()
    for cls in provider_classes():
        registry.add(cls.from_config(config))  # type: ignore[attr-defined]
    return registry

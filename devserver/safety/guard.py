"""Dedicated guard models as verifiers: the conversation each expects, its answer format, our categories.

A guard model is a safety classifier (not a chat model): it answers in its own format, not in our
JSON, and it cannot rewrite a prompt. The format is chosen by the model's family, looked up in
`FORMATS` by the longest registered name prefix (`ollama/llama-guard3:8b` → Llama Guard), never by
if/elif on names. Any model not registered here is an ordinary chat model and gets our JSON schema.

* **Llama Guard 3/4** — the text goes as the user turn of an ordinary chat; the model's chat
  template (Ollama ships it) builds the classification prompt with the MLCommons hazard list. The
  answer is `safe`, or `unsafe` and a line of codes (`S1,S10`). Each code maps to one of our
  categories; at adult/research only the codes in `ALWAYS_BLOCK` block (the others are recorded).
* **ShieldGemma** — the text goes as the user turn; Ollama's chat template wraps it as the "Human
  Question" and adds the model's four policies (dangerous content, harassment, hate, sexually
  explicit), so one call checks all four and a "Yes" names none of them (category `other`). The
  verdict is P(Yes) from the first token's log-probabilities where the server returns them
  (threshold `YES_THRESHOLD`), else the first word.

An answer in neither shape is garbage: `parse` raises `GuardGarbage`, and the checkpoint fails
closed at kids/youth like for any unusable verdict.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any, ClassVar

from devserver.backends.base import ChatResult
from devserver.safety.levels import fails_closed
from devserver.safety.result import CATEGORY_PRIORITY

YES_THRESHOLD = 0.5


class GuardGarbage(ValueError):
    """The guard's answer is not in its format."""


@dataclass(frozen=True)
class GuardVerdict:
    """A guard's answer in our terms."""

    safe: bool
    category: str  # one of ours; "none" when safe
    reason: str


def _rank(category: str) -> int:
    return CATEGORY_PRIORITY.index(category) if category in CATEGORY_PRIORITY else len(CATEGORY_PRIORITY)


class GuardFormat:
    """How to talk to one guard family and how to read its answer."""

    name: ClassVar[str] = ""
    families: ClassVar[tuple[str, ...]] = ()
    options: ClassVar[dict[str, Any]] = {}

    def messages(self, text: str) -> list[dict[str, str]]:
        """Return the conversation the guard classifies: the text as the user's turn (the template does the rest)."""
        return [{"role": "user", "content": text}]

    def parse(self, result: ChatResult, level: str) -> GuardVerdict:
        """Read the guard's answer at a level; raise GuardGarbage when it is not in the guard's format."""
        raise NotImplementedError


# Llama Guard 3 hazard codes (MLCommons) → our category; names for the teacher's record.
LLAMA_GUARD_CODES: dict[str, tuple[str, str]] = {
    "S1": ("violence_graphic", "Violent Crimes"), "S2": ("other", "Non-Violent Crimes"),
    "S3": ("sexual", "Sex-Related Crimes"), "S4": ("sexual", "Child Sexual Exploitation"),
    "S5": ("other", "Defamation"), "S6": ("other", "Specialized Advice"), "S7": ("other", "Privacy"),
    "S8": ("other", "Intellectual Property"), "S9": ("weapons", "Indiscriminate Weapons"),
    "S10": ("hate", "Hate"), "S11": ("self_harm", "Suicide & Self-Harm"), "S12": ("sexual", "Sexual Content"),
    "S13": ("other", "Elections"), "S14": ("other", "Code Interpreter Abuse"),
}
# Codes that block at adult/research too; the others are recorded there (adults discuss such topics).
ALWAYS_BLOCK = frozenset({"S1", "S3", "S4", "S9", "S10"})
_CODES = re.compile(r"S\d{1,2}")


class LlamaGuard(GuardFormat):
    """Llama Guard 3 / 4: `safe`, or `unsafe` and a line of hazard codes."""

    name = "llama-guard"
    families = ("llama-guard3", "llama-guard-3", "llama-guard4", "llama-guard-4", "llama-guard")
    options = {"temperature": 0, "max_tokens": 20}

    def parse(self, result: ChatResult, level: str) -> GuardVerdict:
        lines = [line.strip() for line in result.text.strip().splitlines() if line.strip()]
        head = lines[0].lower() if lines else ""
        if head == "safe" and len(lines) == 1:
            return GuardVerdict(True, "none", "Llama Guard: safe")
        if head != "unsafe" or len(lines) != 2:
            raise GuardGarbage(f"Llama Guard answered {result.text[:60]!r}, not 'safe' or 'unsafe' + codes")
        codes = [c.strip() for c in lines[1].split(",")]
        if not codes or any(not _CODES.fullmatch(c) or c not in LLAMA_GUARD_CODES for c in codes):
            raise GuardGarbage(f"Llama Guard named unknown hazard codes: {lines[1][:60]!r}")
        named = ", ".join(f"{c} {LLAMA_GUARD_CODES[c][1]}" for c in codes)
        category = min((LLAMA_GUARD_CODES[c][0] for c in codes), key=_rank)
        if not fails_closed(level) and not ALWAYS_BLOCK.intersection(codes):
            return GuardVerdict(True, "none", f"Llama Guard: unsafe ({named}); allowed at {level}")
        return GuardVerdict(False, category, f"Llama Guard: unsafe ({named})")


def _yes_probability(logprobs: list[dict[str, Any]] | None) -> float | None:
    """Return P(Yes) against No from the first token's alternatives, None when they do not say."""
    if not logprobs:
        return None
    first = logprobs[0]
    options = {str(alt.get("token", "")).strip(): alt.get("logprob") for alt in first.get("top_logprobs") or ()}
    options.setdefault(str(first.get("token", "")).strip(), first.get("logprob"))
    yes, no = options.get("Yes"), options.get("No")
    if not isinstance(yes, (int, float)) or not isinstance(no, (int, float)):
        return None
    return math.exp(yes) / (math.exp(yes) + math.exp(no))  # softmax over the two, as the model card reads it


class ShieldGemma(GuardFormat):
    """ShieldGemma: `Yes` (violates a policy) or `No`, read as P(Yes) where log-probabilities exist."""

    name = "shieldgemma"
    families = ("shieldgemma",)
    options = {"temperature": 0, "max_tokens": 3, "logprobs": True, "top_logprobs": 5}

    def parse(self, result: ChatResult, level: str) -> GuardVerdict:
        probability = _yes_probability(result.logprobs)
        if probability is None:
            words = re.findall(r"[A-Za-z]+", result.text)
            first = words[0].capitalize() if words else ""
            if first not in ("Yes", "No"):
                raise GuardGarbage(f"ShieldGemma answered {result.text[:60]!r}, not Yes or No")
            probability, how = (1.0 if first == "Yes" else 0.0), f"first word {first}"
        else:
            how = f"P(Yes) = {probability:.2f}"
        if probability >= YES_THRESHOLD:
            return GuardVerdict(False, "other", f"ShieldGemma: violates its policies ({how})")
        return GuardVerdict(True, "none", f"ShieldGemma: no violation ({how})")


FORMATS: dict[str, type[GuardFormat]] = {family: cls for cls in (LlamaGuard, ShieldGemma) for family in cls.families}


def guard_format(model_ref: str) -> GuardFormat | None:
    """Return the guard format for a `provider/model` reference, or None for an ordinary chat model."""
    base = model_ref.rsplit("/", 1)[-1].split(":", 1)[0].lower()
    family = max((f for f in FORMATS if base.startswith(f)), key=len, default=None)
    return FORMATS[family]() if family else None

"""Dedicated guard models as verifiers: the conversation each expects, its answer format, our categories.

A guard model is a safety classifier (not a chat model): it answers in its own format, not in our
JSON, and it cannot rewrite a prompt. The format is chosen by the model's family, looked up in
`FORMATS` by the longest registered name prefix (`ollama/llama-guard3:8b` → Llama Guard), never by
if/elif on names. Any model not registered here is an ordinary chat model and gets our JSON schema.

* **Llama Guard 3/4** — the text goes as the user turn of an ordinary chat; the model's chat
  template (Ollama ships it) builds the classification prompt with the MLCommons hazard list. The
  answer is `safe`, or `unsafe` and a line of codes (`S1,S10`). Each code maps to one of our
  categories; at adult/research only the codes in `ALWAYS_BLOCK` block (the others are recorded).
* **ShieldGemma** — one raw prompt per policy (the model's documented format: "Human Question",
  one principle, "Your answer must start with 'Yes' or 'No'"), sent past the chat template
  (`complete`, Ollama `/api/generate` with `raw: true`), because Ollama's chat template fixes four
  policies and a "Yes" there could not say which. The policies are ours, one per category, chosen
  by level (`LEVEL_POLICIES`). Each verdict is P(Yes) from the first token's log-probabilities
  where the server returns them (threshold `YES_THRESHOLD`), else the first word; the most serious
  violated policy names the category.

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
class GuardRequest:
    """One call to a guard: a chat (`messages`) or a raw prompt, and the category it asks about."""

    messages: list[dict[str, str]] | None = None
    prompt: str | None = None
    category: str = "other"


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

    families: ClassVar[tuple[str, ...]] = ()
    options: ClassVar[dict[str, Any]] = {}
    sees_images: ClassVar[bool] = False  # whether a picture can be its user turn (the image check)

    def requests(self, text: str, level: str) -> list[GuardRequest]:
        """Return the calls that classify a text at a level (default: the text as the only user turn)."""
        return [GuardRequest(messages=[{"role": "user", "content": text}])]

    def parse(self, answers: list[tuple[GuardRequest, ChatResult]], level: str) -> GuardVerdict:
        """Read the guard's answers at a level; raise GuardGarbage when one is not in the guard's format."""
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


class LlamaGuard(GuardFormat):
    """Llama Guard 3 / 4: `safe`, or `unsafe` and a line of hazard codes."""

    families = ("llama-guard3", "llama-guard-3", "llama-guard4", "llama-guard-4", "llama-guard")
    options = {"temperature": 0, "max_tokens": 20}
    sees_images = True  # Llama Guard 3 Vision and 4; a text-only Llama Guard refuses pictures (→ unchecked)

    def parse(self, answers: list[tuple[GuardRequest, ChatResult]], level: str) -> GuardVerdict:
        result = answers[0][1]
        lines = [line.strip() for line in result.text.strip().splitlines() if line.strip()]
        head = lines[0].lower() if lines else ""
        if head == "safe" and len(lines) == 1:
            return GuardVerdict(True, "none", "Llama Guard: safe")
        if head != "unsafe" or len(lines) != 2:
            raise GuardGarbage(f"Llama Guard answered {result.text[:60]!r}, not 'safe' or 'unsafe' + codes")
        codes = [c.strip() for c in lines[1].split(",")]
        if any(c not in LLAMA_GUARD_CODES for c in codes):
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


# Our policies, one per category, in the form ShieldGemma was trained on: a quoted name and a principle.
SHIELD_POLICIES: dict[str, str] = {
    "p86a": '"No Nazi Symbols or Propaganda": The prompt shall not ask for symbols, slogans, greetings, uniforms or '
            'organisations of National Socialism, or for content that glorifies them (e.g. swastikas, SS runes, '
            'the Hitler salute).',
    "sexual": '"No Sexually Explicit Information": The prompt shall not ask for sexual acts, nudity or other lewd '
              'content (e.g. graphic descriptions, content meant to arouse).',
    "violence_graphic": '"No Graphic Violence": The prompt shall not ask for gore, torture, killing shown in detail, '
                        'or cruelty to people or animals.',
    "self_harm": '"No Self-Harm": The prompt shall not ask for suicide, self-injury or eating disorders, or show '
                 'them as desirable.',
    "weapons": '"No Dangerous Content": The prompt shall not ask for harming oneself or others (e.g. building or '
               'using firearms and explosives, promoting terrorism).',
    "hate": '"No Hate Speech": The prompt shall not attack or demean people for their race, ethnicity, religion, '
            'disability, age, nationality, sexual orientation, gender or another protected attribute.',
    "other": '"No Harassment": The prompt shall not ask for content that threatens, bullies or humiliates a real '
             'person.',
}
_ALL = tuple(SHIELD_POLICIES)
LEVEL_POLICIES: dict[str, tuple[str, ...]] = {"kids": _ALL, "youth": _ALL, "adult": ("p86a", "weapons", "hate"),
                                              "research": ("p86a", "weapons", "hate")}
SHIELD_PROMPT = ("<start_of_turn>user\nYou are a policy expert trying to help determine whether a user prompt is "
                 "in violation of the defined safety policies.\n\n<start_of_turn>\nHuman Question: {text}\n"
                 "<end_of_turn>\n\nOur safety principle is defined in the below:\n\n* {policy}\n\n"
                 "Does the human question violate the above principle? Your answer must start with 'Yes' or 'No'. "
                 "And then walk through step by step to be sure we answer correctly.\n<end_of_turn>\n"
                 "<start_of_turn>model\n")
_TURN_MARKERS = re.compile(r"<\s*/?\s*(?:start_of_turn|end_of_turn|bos|eos)\s*>", re.IGNORECASE)


class ShieldGemma(GuardFormat):
    """ShieldGemma: one raw prompt per policy; `Yes` (violates) or `No`, read as P(Yes) where logprobs exist."""

    families = ("shieldgemma",)
    options = {"temperature": 0, "max_tokens": 1, "logprobs": True, "top_logprobs": 5}

    def requests(self, text: str, level: str) -> list[GuardRequest]:
        # the student's text must not be able to close the question and write its own turns
        question = _TURN_MARKERS.sub(" ", text)
        return [GuardRequest(prompt=SHIELD_PROMPT.format(text=question, policy=SHIELD_POLICIES[category]),
                             category=category) for category in LEVEL_POLICIES[level]]

    def parse(self, answers: list[tuple[GuardRequest, ChatResult]], level: str) -> GuardVerdict:
        violated: list[tuple[str, str]] = []
        for request, result in answers:
            probability, how = self._yes(result)
            if probability >= YES_THRESHOLD:
                violated.append((request.category, f"{SHIELD_POLICIES[request.category].split(':')[0]} {how}"))
        if not violated:
            return GuardVerdict(True, "none", f"ShieldGemma: none of {len(answers)} policies violated")
        category = min((c for c, _ in violated), key=_rank)
        return GuardVerdict(False, category, "ShieldGemma: violates " + "; ".join(r for _, r in violated))

    @staticmethod
    def _yes(result: ChatResult) -> tuple[float, str]:
        """Return P(Yes) and how it was read; raise GuardGarbage for an answer that is neither Yes nor No."""
        probability = _yes_probability(result.logprobs)
        if probability is not None:
            return probability, f"(P(Yes) = {probability:.2f})"
        words = re.findall(r"[A-Za-z]+", result.text)
        first = words[0].capitalize() if words else ""
        if first not in ("Yes", "No"):
            raise GuardGarbage(f"ShieldGemma answered {result.text[:60]!r}, not Yes or No")
        return (1.0 if first == "Yes" else 0.0), f"(first word {first})"


FORMATS: dict[str, type[GuardFormat]] = {family: cls for cls in (LlamaGuard, ShieldGemma) for family in cls.families}


def guard_format(model_ref: str) -> GuardFormat | None:
    """Return the guard format for a `provider/model` reference, or None for an ordinary chat model."""
    base = model_ref.rsplit("/", 1)[-1].split(":", 1)[0].lower()
    family = max((f for f in FORMATS if base.startswith(f)), key=len, default=None)
    return FORMATS[family]() if family else None

"""The checkpoints the orchestrator calls; each returns a typed verdict for the record.

Decision order for a text at a level:

1. fast filter: `block` → blocked (method `fast_filter`); no hit → allowed (`fast_filter`);
2. an ambiguous hit (`verify`):
   * conservative verifier at kids/youth → blocked without asking the model (`conservative`);
   * otherwise the verify model decides (`llm`);
   * the model fails or answers garbage → kids/youth: blocked, category `unchecked_blocked`;
     adult/research: allowed and recorded as `unchecked`.

Stage 3 additionally produces the generator's positive and negative prompts (see `check_stage3`).
Pure functions: the policy and the chat callable come in through the `Verifier`.
"""
from __future__ import annotations

import time
from dataclasses import asdict, dataclass, fields
from typing import Any

from devserver.safety.code import read_js
from devserver.safety.levels import check_level, fails_closed
from devserver.safety.result import FilterResult, decide
from devserver.safety.verifier import Judgement, Unchecked, Verifier

UNCHECKED_BLOCKED = "unchecked_blocked"


@dataclass(frozen=True)
class Verdict:
    """What one checkpoint decided, and how (kept in the run record)."""

    checkpoint: str
    level: str
    decision: str  # allow | block
    method: str  # fast_filter | llm | conservative | unchecked
    category: str  # "none" when nothing harmful was found
    matched_terms: tuple[str, ...]
    latency_ms: float
    model: str | None
    teacher_reason: str
    calls: tuple[dict[str, Any], ...] = ()  # every model call behind the verdict: model, parameters, timings

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON-safe record."""
        out = asdict(self)
        out["matched_terms"] = list(self.matched_terms)
        out["calls"] = list(self.calls)
        out["latency_ms"] = round(self.latency_ms, 2)
        return out


@dataclass(frozen=True)
class Stage3Verdict(Verdict):
    """A Stage 3 verdict with the prompts that go to the generator."""

    positive_prompt: str = ""
    negative_prompt: str = ""


def _verdict(name: str, level: str, started: float, found: FilterResult, decision: str, method: str,
             category: str, reason: str, model: str | None = None, calls: tuple[dict[str, Any], ...] = ()) -> Verdict:
    return Verdict(checkpoint=name, level=level, decision=decision, method=method, category=category,
                   matched_terms=found.matched_terms, latency_ms=(time.perf_counter() - started) * 1000,
                   model=model, teacher_reason=reason, calls=calls)


def _from_filter(name: str, text: str, level: str, verifier: Verifier, found: FilterResult,
                 started: float) -> Verdict:
    """Decide a text from its fast-filter result, asking the verify model where that is needed."""
    hits = found.describe()
    if found.outcome == "allow":
        return _verdict(name, level, started, found, "allow", "fast_filter", "none", hits)
    if found.outcome == "block":
        return _verdict(name, level, started, found, "block", "fast_filter", found.category, f"term list: {hits}")
    if verifier.conservative and fails_closed(level):
        return _verdict(name, level, started, found, "block", "conservative", found.category,
                        f"ambiguous term at {level}; the verify model is not trusted to clear it "
                        f"(conservative mode): {hits}")
    try:
        judged = verifier.judge(text, level, found)
    except Unchecked as exc:
        return _unchecked(name, level, started, found, exc)
    if judged.safe:
        return _verdict(name, level, started, found, "allow", "llm", "none",
                        f"model cleared: {judged.reason} | {hits}", judged.model, judged.calls)
    return _verdict(name, level, started, found, "block", "llm", _category(judged, found),
                    f"model: {judged.reason} | {hits}", judged.model, judged.calls)


def _unchecked(name: str, level: str, started: float, found: FilterResult, exc: Unchecked) -> Verdict:
    if fails_closed(level):
        return _verdict(name, level, started, found, "block", "unchecked", UNCHECKED_BLOCKED,
                        f"could not be checked, blocked at {level} (fail-closed): {exc.reason} | {found.describe()}",
                        exc.model, exc.calls)
    return _verdict(name, level, started, found, "allow", "unchecked", found.category,
                    f"could not be checked, allowed at {level}: {exc.reason} | {found.describe()}", exc.model,
                    exc.calls)


def _category(judged: Judgement, found: FilterResult) -> str:
    if judged.category != "none":
        return judged.category
    return found.category if found.category != "none" else "other"


def check_text(name: str, text: str, level: str, verifier: Verifier) -> Verdict:
    """Check any text at a named checkpoint."""
    started = time.perf_counter()
    check_level(level)
    return _from_filter(name, text, level, verifier, verifier.policy.filter.assess(text, level), started)


def check_input(text: str, level: str, verifier: Verifier, checkpoint: str = "input") -> Verdict:
    """Check the student's idea (or, with checkpoint="rules", the student's own rules text)."""
    return check_text(checkpoint, text, level, verifier)


def check_translation(text: str, level: str, verifier: Verifier) -> Verdict:
    """Check the English translation (terms hidden in another language surface here)."""
    return check_text("translation", text, level, verifier)


def check_interception(text: str, level: str, verifier: Verifier) -> Verdict:
    """Check one interception output (model-written text is checked like student text)."""
    return check_text("interception", text, level, verifier)


def check_code(code: str, level: str, verifier: Verifier) -> Verdict:
    """Check generated code: §86a terms anywhere, everything else in its folded strings and comments.

    Identifiers such as `ss` or `shoot()` are ordinary code; what a viewer reads sits in string values,
    which are read after constant folding (`"Haken" + "kreuz"`, `atob`, `fromCharCode`, escapes; see
    `code.py`). A sketch that would load anything from outside itself is refused."""
    started = time.perf_counter()
    check_level(level)
    filt = verifier.policy.filter
    reading = read_js(code)
    if reading.remote:
        return _verdict("code", level, started, FilterResult(level, "block"), "block", "fast_filter", "other",
                        f"the sketch loads from outside itself: {'; '.join(reading.remote[:5])}")
    readable = "\n".join(reading.texts)
    strong = [h for h in filt.scan(code) if h.term.category == "p86a" and h.term.action(level) == "block"]
    literal_hits = filt.scan(readable)
    found = decide(strong + [h for h in literal_hits if h.term not in {s.term for s in strong}], level)
    return _from_filter("code", readable, level, verifier, found, started)


def _has_letters(text: str) -> bool:
    return any(ch.isalpha() for ch in text)


def check_stage3(text: str, level: str, verifier: Verifier, always_verify: bool = False) -> Stage3Verdict:
    """Check the exact text for one generator and produce its positive and negative prompts.

    Hybrid: a text without any hit needs no model call (the text itself becomes the prompt, with the
    level's default negative prompt) unless `always_verify` (STAGE3_ALWAYS_VERIFY) asks the model for
    every output. A flagged text goes to the Stage 3 model, which judges and writes the prompts; its
    positive prompt passes the fast filter again, and an empty prompt (or one without letters) falls
    back to the original text. Conservative mode: flagged texts block at kids/youth whatever a model
    says, and the model's rewrite is never used. Where the model is asked and cannot answer, kids and
    youth are blocked (fail-closed)."""
    started = time.perf_counter()
    check_level(level)
    found = verifier.policy.filter.assess(text, level)
    default_negative = verifier.policy.negative_prompt(level)

    def done(base: Verdict, positive: str = "", negative: str = "") -> Stage3Verdict:
        if base.decision == "allow":  # a prompt without a single letter ("1") is no prompt
            positive = positive if _has_letters(positive) else text
            # The model's negative prompt reaches the generator too: it is filtered like any text, and it
            # only ever adds to the level's default (a model cannot remove what the level excludes).
            if not _has_letters(negative) or verifier.policy.filter.assess(negative, level).outcome != "allow":
                negative = ""
            negative = f"{default_negative}, {negative}" if negative else default_negative
        return Stage3Verdict(**{f.name: getattr(base, f.name) for f in fields(Verdict)},
                             positive_prompt=positive, negative_prompt=negative)

    if found.outcome == "block" or (verifier.conservative and found.outcome == "verify" and fails_closed(level)):
        return done(_from_filter("stage3", text, level, verifier, found, started))
    if found.outcome == "allow" and not always_verify:
        return done(_verdict("stage3", level, started, found, "allow", "fast_filter", "none",
                             "no term matched: the text is the prompt, no Stage 3 model call "
                             "(hybrid; STAGE3_ALWAYS_VERIFY=true asks the model for every output)"))
    try:
        judged = verifier.stage3(text, level, found)
    except Unchecked as exc:
        return done(_unchecked("stage3", level, started, found, exc))
    if not judged.safe:
        return done(_verdict("stage3", level, started, found, "block", "llm", _category(judged, found),
                             f"model: {judged.reason} | {found.describe()}", judged.model, judged.calls))
    positive, note = judged.positive_prompt.strip(), ""
    if verifier.conservative:  # a tiny model's judgement may stand, its rewrite does not
        positive, note = "", "; conservative mode: original text kept as prompt"
    elif positive and verifier.policy.filter.assess(positive, level).outcome != "allow":
        positive, note = "", "; the model's prompt tripped the term filter, original text kept"
    return done(_verdict("stage3", level, started, found, "allow", "llm", "none",
                         f"model cleared: {judged.reason}{note} | {found.describe()}", judged.model, judged.calls),
                positive, "" if verifier.conservative else judged.negative_prompt.strip())

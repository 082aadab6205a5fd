"""Checkpoints: fail-closed at kids/youth, unchecked at adult, conservative mode, Stage 3 prompts, code."""
from __future__ import annotations

import json

import pytest

from devserver.backends.base import ChatResult
from devserver.errors import BackendTimeout, BackendUnavailable
from devserver.safety.checkpoint import check_code, check_input, check_stage3
from devserver.safety.policy import load_policy
from devserver.safety.verifier import STAGE3_ROLE, VERIFY_ROLE, Verifier

AMBIGUOUS = "Ein T-Shirt mit einer großen 88"  # a number code: the filter asks the model
PLAIN = "Ein Fuchs im Schnee"


@pytest.fixture(scope="module")
def policy():
    return load_policy()


class Backend:
    """Stands in for the router's chat: answers with fixed text or raises, and records the calls."""

    def __init__(self, answer: str | Exception):
        self.answer = answer
        self.calls: list[dict] = []

    def __call__(self, role, messages, options, json_schema=None):
        self.calls.append({"role": role, "messages": messages, "options": options, "schema": json_schema})
        if isinstance(self.answer, Exception):
            raise self.answer
        return ChatResult(text=self.answer, backend="fake", model_requested="fake/judge", model_used="fake/judge-1",
                          parameters=dict(options), duration_ms=1.0)


def answer(**fields) -> str:
    return json.dumps(fields)


SAFE = answer(safe=True, category="none", reason="a number on a shirt")
UNSAFE = answer(safe=False, category="p86a", reason="88 as a Nazi code")


@pytest.mark.parametrize("level", ["kids", "youth"])
@pytest.mark.parametrize("failure", [BackendUnavailable("down", backend="ollama"),
                                     BackendTimeout("slow", backend="ollama"),
                                     "Sure! This text is totally safe.",
                                     answer(safe=True, category="none", reason="ok", extra="x"),
                                     answer(safe="yes", category="none", reason="ok"),
                                     answer(safe=True, category="nice", reason="ok")])
def test_fail_closed_at_kids_and_youth(policy, level, failure):
    verdict = check_input(AMBIGUOUS, level, Verifier(policy, Backend(failure), conservative=False))
    assert verdict.decision == "block"
    assert verdict.method == "unchecked"
    assert verdict.category == "unchecked_blocked"


@pytest.mark.parametrize("level", ["adult", "research"])
def test_unchecked_is_recorded_and_allowed_at_adult(policy, level):
    verdict = check_input(AMBIGUOUS, level, Verifier(policy, Backend(BackendUnavailable("down")), False))
    assert verdict.decision == "allow"
    assert verdict.method == "unchecked"
    assert "88" in verdict.matched_terms


def test_no_model_configured_fails_closed(policy):
    assert check_input(AMBIGUOUS, "kids", Verifier(policy, None, conservative=False)).decision == "block"


def test_model_decides_ambiguous_hits(policy):
    backend = Backend(SAFE)
    allowed = check_input(AMBIGUOUS, "youth", Verifier(policy, backend, conservative=False))
    assert (allowed.decision, allowed.method, allowed.model) == ("allow", "llm", "fake/judge-1")
    call = backend.calls[0]
    assert call["role"] == VERIFY_ROLE and call["options"]["temperature"] == 0
    assert set(call["schema"]["required"]) == {"safe", "category", "reason"}
    assert "86a" in call["messages"][0]["content"] and AMBIGUOUS in call["messages"][1]["content"]
    blocked = check_input(AMBIGUOUS, "youth", Verifier(policy, Backend(UNSAFE), conservative=False))
    assert (blocked.decision, blocked.method, blocked.category) == ("block", "llm", "p86a")


@pytest.mark.parametrize("level", ["kids", "youth"])
def test_conservative_mode_blocks_ambiguous_without_asking(policy, level):
    backend = Backend(SAFE)
    verdict = check_input(AMBIGUOUS, level, Verifier(policy, backend, conservative=True))
    assert (verdict.decision, verdict.method) == ("block", "conservative")
    assert backend.calls == []


def test_conservative_mode_still_asks_at_adult(policy):
    backend = Backend(SAFE)
    verdict = check_input(AMBIGUOUS, "adult", Verifier(policy, backend, conservative=True))
    assert verdict.decision == "allow" and len(backend.calls) == 1


def test_fast_filter_needs_no_model(policy):
    backend = Backend(BackendUnavailable("down"))
    verifier = Verifier(policy, backend, conservative=False)
    assert check_input("Sieg Heil", "research", verifier).decision == "block"
    assert check_input(PLAIN, "kids", verifier).decision == "allow"
    assert backend.calls == []


@pytest.mark.parametrize("conservative", [True, False])
def test_stage3_hybrid_sends_a_clean_text_without_a_model_call(policy, conservative):
    backend = Backend(SAFE)
    verdict = check_stage3(PLAIN, "kids", Verifier(policy, backend, conservative=conservative))
    assert verdict.decision == "allow" and verdict.method == "fast_filter"
    assert verdict.positive_prompt == PLAIN
    assert verdict.negative_prompt == policy.negative_prompt("kids")
    assert backend.calls == []


def test_stage3_hybrid_still_asks_the_model_about_a_flagged_text(policy):
    backend = Backend(UNSAFE)
    verdict = check_stage3(AMBIGUOUS, "adult", Verifier(policy, backend, conservative=False))
    assert (verdict.decision, verdict.method) == ("block", "llm")
    assert [c["role"] for c in backend.calls] == [STAGE3_ROLE]


@pytest.mark.parametrize("level", ["kids", "youth"])
def test_stage3_always_verify_fails_closed_when_the_model_is_down(policy, level):
    down = Backend(BackendUnavailable("down"))
    verdict = check_stage3(PLAIN, level, Verifier(policy, down, conservative=False), always_verify=True)
    assert (verdict.decision, verdict.category) == ("block", "unchecked_blocked")
    assert len(down.calls) == 1


def test_stage3_conservative_distrusts_safe_for_flagged_text(policy):
    backend = Backend(SAFE)
    verdict = check_stage3(AMBIGUOUS, "kids", Verifier(policy, backend, conservative=True))
    assert verdict.decision == "block" and verdict.positive_prompt == ""


def test_stage3_takes_the_models_prompts(policy):
    backend = Backend(answer(safe=True, category="none", reason="fine", positive_prompt="a fox in deep snow, ink",
                             negative_prompt="blurry"))
    verdict = check_stage3(PLAIN, "youth", Verifier(policy, backend, conservative=False), always_verify=True)
    assert (verdict.decision, verdict.method) == ("allow", "llm")
    assert verdict.positive_prompt == "a fox in deep snow, ink"
    # the model's negative prompt adds to the level's default, never replaces it
    assert verdict.negative_prompt == f"{policy.negative_prompt('youth')}, blurry"
    assert backend.calls[0]["role"] == STAGE3_ROLE
    assert {"positive_prompt", "negative_prompt"} <= set(backend.calls[0]["schema"]["required"])


def test_stage3_drops_a_harmful_negative_prompt(policy):
    backend = Backend(answer(safe=True, category="none", reason="fine", positive_prompt="a fox in deep snow",
                             negative_prompt="Hakenkreuz, swastika"))
    verdict = check_stage3(PLAIN, "kids", Verifier(policy, backend, conservative=False), always_verify=True)
    assert verdict.negative_prompt == policy.negative_prompt("kids")


def test_stage3_falls_back_to_the_text(policy):
    empty = Backend(answer(safe=True, category="none", reason="fine", positive_prompt=" 1 ", negative_prompt=""))
    verdict = check_stage3(PLAIN, "youth", Verifier(policy, empty, conservative=False), always_verify=True)
    assert verdict.positive_prompt == PLAIN and verdict.negative_prompt == policy.negative_prompt("youth")
    sneaky = Backend(answer(safe=True, category="none", reason="fine", positive_prompt="a fox with a swastika",
                            negative_prompt=""))
    assert check_stage3(PLAIN, "adult", Verifier(policy, sneaky, conservative=False),
                        always_verify=True).positive_prompt == PLAIN


def test_stage3_fail_closed_and_unchecked(policy):
    down = Backend(BackendUnavailable("down"))
    assert check_stage3(PLAIN, "kids", Verifier(policy, down, False), True).category == "unchecked_blocked"
    adult = check_stage3(PLAIN, "adult", Verifier(policy, down, False), True)
    assert (adult.decision, adult.method, adult.positive_prompt) == ("allow", "unchecked", PLAIN)


def test_stage3_model_can_block(policy):
    verdict = check_stage3(PLAIN, "adult", Verifier(policy, Backend(UNSAFE), conservative=False), always_verify=True)
    assert verdict.decision == "block" and verdict.category == "p86a"


def test_code_checks_strings_not_identifiers(policy):
    verifier = Verifier(policy, Backend(BackendUnavailable("down")), conservative=True)
    harmless = "let ss = 18;\nfunction shoot(x) { return ss + x; }\n// draws a flower\n"
    assert check_code(harmless, "kids", verifier).decision == "allow"
    assert check_code('text("Sieg Heil", 10, 10);', "kids", verifier).decision == "block"
    assert check_code("function drawSwastika() {}", "adult", verifier).decision == "block"


def test_verdict_record_is_complete(policy):
    verdict = check_input("Hakenkreuz", "kids", Verifier(policy, None, conservative=True))
    record = verdict.to_dict()
    assert {"checkpoint", "level", "decision", "method", "category", "matched_terms", "latency_ms", "model",
            "teacher_reason"} <= set(record)
    assert record["matched_terms"] == ["Hakenkreuz"] and record["method"] == "fast_filter"
    json.dumps(record)

"""Every category the filter or the verifier can produce has a child-friendly message in de and en."""
from __future__ import annotations

import json

import pytest

from devserver.errors import ConfigError
from devserver.safety.checkpoint import UNCHECKED_BLOCKED, Verdict
from devserver.safety.messages import load_messages, message_for
from devserver.safety.policy import DEFAULT_DIR, load_policy
from devserver.safety.verifier import ANSWER_CATEGORIES


def verdict(category: str, decision: str = "block") -> Verdict:
    return Verdict(checkpoint="input", level="kids", decision=decision, method="fast_filter", category=category,
                   matched_terms=(), latency_ms=0.1, model=None, teacher_reason="")


def producible_categories() -> set[str]:
    from_lists = {term.category for term in load_policy().filter.terms}
    from_model = set(ANSWER_CATEGORIES) - {"none"}
    return from_lists | from_model | {UNCHECKED_BLOCKED, "p86a"}


@pytest.mark.parametrize("category", sorted(producible_categories()))
@pytest.mark.parametrize("lang", ["de", "en"])
def test_every_category_has_a_message(category, lang):
    catalog = load_messages()
    assert category in catalog.root, category
    message = message_for(verdict(category), lang, catalog)
    assert set(message) == {"title", "what", "why", "try_instead"}
    assert all(isinstance(v, str) and len(v) > 10 for v in message.values())


def test_languages_differ_and_allowed_has_no_message():
    de = message_for(verdict("p86a"), "de")
    en = message_for(verdict("p86a"), "en")
    assert de["title"] != en["title"]
    assert message_for(verdict("none", decision="allow"), "de") is None


def test_could_not_be_checked_is_honest():
    message = message_for(verdict(UNCHECKED_BLOCKED), "en")
    assert "check" in message["title"].lower()


def test_missing_language_is_a_config_error(tmp_path):
    data = json.loads((DEFAULT_DIR / "messages.json").read_text(encoding="utf-8"))
    del data["drugs"]["en"]
    (tmp_path / "messages.json").write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(ConfigError, match="drugs/en"):
        load_messages(tmp_path)

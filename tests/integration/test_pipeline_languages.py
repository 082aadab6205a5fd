"""Texts in other languages are checked in English too: the student's rules, and every Stille Post pass,
which a student sees only after its back-translation passed.

"The model" is the Ollama protocol fake, scripted by what it is asked: a translation request gets the
translation from a table, an interception pass gets the text for the pass's language. The harmful
words appear only in a translation, so only the translation check can stop them.
"""
from __future__ import annotations

import json
import re
from typing import Iterator

import pytest

from tests.fakes.ollama_fake import OllamaFake
from tests.waiting import phase_done

PASSES = {"fr": "Un drapeau rouge au soleil", "ja": "赤い旗と太陽", "sw": "Bendera nyekundu na jua",
          "pt": "Uma bandeira vermelha ao sol", "fi": "Suuri lippu aukiolla", "en": "A red flag in the sun"}
TRANSLATIONS = {"Un drapeau rouge": "A red flag in the sun", "赤い旗": "A red flag and the sun",
                "Bendera nyekundu": "A red flag and the sun", "Uma bandeira": "A red flag in the sun",
                "Suuri lippu": "A big Hakenkreuz flag over the square",
                "Piirrä aina lippu": "Always draw a Hakenkreuz on the flag"}


class ScriptedOllama(OllamaFake):
    """An Ollama fake that answers translations from a table and each Stille Post pass by its language."""

    def chat(self, request, reply):
        body = request.json()
        prompt = "\n".join(str(m.get("content", "")) for m in body.get("messages") or [])
        self.answer = self.pick(prompt)
        super().chat(request, reply)

    @staticmethod
    def pick(prompt: str) -> str:
        if "Target language" in prompt:
            return next((english for text, english in TRANSLATIONS.items() if text in prompt), "A quiet picture")
        language = re.search(r"Language of this pass: .*?\((\w+)\)", prompt)
        return PASSES.get(language.group(1), "A red flag") if language else "A red flag in the sun"


@pytest.fixture
def ollama() -> Iterator[ScriptedOllama]:
    with ScriptedOllama(models=("writer:latest",)) as fake:
        yield fake


@pytest.fixture
def app(make_app, ollama):
    roles = {role: "ollama/writer:latest" for role in ("TRANSLATION_MODEL", "STAGE2_INTERCEPTION_MODEL",
                                                       "STAGE2_OPTIMIZATION_MODEL")}
    return make_app(OLLAMA_URL=ollama.url, MODEL_ROLE_MAP=roles, RETRY_ATTEMPTS=1, DEFAULT_SAFETY_LEVEL="kids")


@pytest.fixture
def client(app):
    return app.test_client()


def test_a_stille_post_pass_is_shown_only_after_its_back_translation_passed(app, client):
    run = phase_done(client, "/api/schema/pipeline/stage2", json={
        "schema": "stillepost", "input_text": "a red flag in the sun", "lang": "en"}).get_json()
    assert run["status"] == "blocked" and run["block"]["checkpoint"] == "back_translation", run
    shown = run["interception"]["iterations"]
    assert [p["language"] for p in shown] == ["fr", "ja", "sw", "pt"]  # the Finnish pass is withheld
    assert all(p["back_translation"] for p in shown)  # each shown pass was checked in English too
    assert shown[0]["text"] == PASSES["fr"] and shown[0]["back_translation"] == TRANSLATIONS["Un drapeau rouge"]
    for path in ("status", "entities", "journey", "events"):
        body = client.get(f"/api/pipeline/{run['run_id']}/{path}").get_data(as_text=True)
        assert PASSES["fi"] not in body and "Hakenkreuz" not in body, path
    log = app.extensions["devserver.recorder"].runs_dir / run["run_id"] / "events.jsonl"
    record = [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines()]
    withheld = [e for e in record if e["metadata"].get("withheld")]
    assert {e["item_type"] for e in withheld} == {"interception_iteration", "translation_result"}
    assert PASSES["fi"] in json.dumps(record, ensure_ascii=False)  # teachers see what was stopped


def test_rules_in_another_language_are_checked_in_their_translation(client, ollama):
    run = phase_done(client, "/api/schema/pipeline/stage2", json={
        "schema": "user_defined", "input_text": "a flag in the wind", "context_prompt": "Piirrä aina lippu",
        "lang": "en"}).get_json()
    assert run["status"] == "blocked" and run["block"]["checkpoint"] == "rules_translation", run
    asked = [b["messages"][-1]["content"] for b in ollama.chat_bodies() if b.get("messages")]
    assert any("Piirrä aina lippu" in m and "Target language" in m for m in asked)
    assert not any("Piirrä" in m and "Target language" not in m for m in asked)  # never reached interception

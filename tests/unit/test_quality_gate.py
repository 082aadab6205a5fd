"""The quality gate on model texts: recorded bad answers are caught, good answers pass untouched."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from config import MODEL_ROLES, Config
from devserver.backends.base import ChatResult
from devserver.engine import quality, stages
from devserver.schemas.catalog import Catalog
from devserver.schemas.models import LlmChunk

CHUNKS = Path(__file__).resolve().parents[2] / "schemas" / "chunks"
TRANSLATE = LlmChunk.model_validate(json.loads((CHUNKS / "translate.json").read_text()))
MANIPULATE = LlmChunk.model_validate(json.loads((CHUNKS / "manipulate.json").read_text()))
OPTIMIZE = LlmChunk.model_validate(json.loads((CHUNKS / "optimize.json").read_text()))
FOX = "Ein Fuchs im Schnee unter dem Vollmond"

# Answers the embedded SmolLM2-135M really gave (issue 13 and our own probes).
BAD_TRANSLATIONS = {
    "meta_commentary": [
        "In this translation, I've made a few changes to ensure that the input is accurately represented in the "
        "target language. I've added a \"and\" to the input to indicate that the input is also a noun.",
        "In this context, the INPUT is translated into the language of English.",
        "In German, the translation of the input \"Ein Leuchtturm am stürmischen Meer\" is:\n\nEnglish:\n\n"
        "In this translation, the original input \"Ein Leuchtturm am stürmischen Meer\" is translated into",
        "Here is the translation of the text into English.",
    ],
    "repetition": ["I've added a and. I've added a and. I've added a and. I've added a and. I've added a and."],
    "wrong_language": [FOX, "Ich habe ein Fuchs im Schnee unter dem Vollmond."],
    "length": ["Alektronik.\n\nAlektronik is a German word that means metal or metalwork. It is used to describe "
               "a type of metalwork, particularly in the north of the country, where smiths worked for ages."],
    "template_echo": ["Translate the INPUT into the language named in the CONTEXT. A fox in the snow"],
}
GOOD = [
    ("translation", FOX, "A fox in the snow under the full moon"),
    ("translation", "Eine Katze schläft auf dem warmen Dach", "A cat sleeps on the warm roof"),
    ("interception", "a red house by the lake",
     "A red house, folded from paper, leans over a lake of blue tissue; its windows are cut-out squares and "
     "the wind bends the paper reeds. Everything glows softly, as if lit from behind by a paper lantern."),
    ("optimization", "a paper lighthouse", "paper lighthouse on a cliff, origami, folded blue waves, soft light, "
                                           "high detail, studio photograph"),
]


@pytest.mark.parametrize("problem,answer", [(p, a) for p, answers in BAD_TRANSLATIONS.items() for a in answers])
def test_recorded_bad_translations_are_caught(problem, answer):
    found = quality.review(answer, FOX, "translation", instruction=TRANSLATE.task_instruction, target="en")
    assert not found.ok and problem in found.problems, found


@pytest.mark.parametrize("kind,source,answer", GOOD)
def test_good_answers_pass_untouched(kind, source, answer):
    found = quality.review(answer, source, kind, instruction=MANIPULATE.task_instruction,
                           target="en" if kind == "translation" else None)
    assert found.ok and found.text == answer, found


@pytest.mark.parametrize("answer", ["INPUT:\n\nA red balloon over the city", "Output: A red balloon over the city",
                                    "**Result:** A red balloon over the city",
                                    "Here is the rewritten text:\n\nA red balloon over the city"])
def test_template_labels_and_prefaces_are_stripped(answer):
    found = quality.review(answer, "a red balloon over the city", "optimization")
    assert found.ok and found.text == "A red balloon over the city", found


def test_the_token_budget_grows_with_the_input_within_bounds():
    short, long = (quality.proportional_max_tokens(t, 2.0, 16, 200) for t in ("Katze", " ".join(["Wort"] * 80)))
    assert 16 < short < long == 200


class Recorded:
    """A chat function answering from a list, remembering what it was sent (the stage's backend)."""

    def __init__(self, *answers: str):
        self.answers, self.calls = list(answers), []

    def __call__(self, role, messages, options, json_schema=None, on_token=None):
        self.calls.append({"role": role, "messages": messages, "options": options})
        return ChatResult(self.answers.pop(0), "fake", "fake/m", "m", dict(options), 1.0)


def test_a_bad_translation_is_retried_strictly_and_a_good_retry_is_used():
    chat = Recorded(BAD_TRANSLATIONS["meta_commentary"][1], "INPUT:\n\nA fox in the snow under the full moon")
    step = stages.translate(chat, TRANSLATE, FOX)
    assert step.text == "A fox in the snow under the full moon" and step.fallback is None
    first, retry = chat.calls
    assert retry["options"]["temperature"] == 0 and retry["options"]["repeat_penalty"] > 1
    assert retry["options"]["max_tokens"] < first["options"]["max_tokens"]
    assert quality.STRICT_NOTE in retry["messages"][0]["content"]
    assert first["options"]["max_tokens"] < TRANSLATE.parameters.max_tokens  # proportional to the short input
    assert step.record()["quality"]["problems"] == ["meta_commentary"]
    assert step.record()["quality"]["first_duration_ms"] == 1.0  # the rejected attempt's cost is kept


def test_two_bad_translations_keep_the_original_marked_not_translated():
    chat = Recorded(BAD_TRANSLATIONS["meta_commentary"][0], BAD_TRANSLATIONS["repetition"][0])
    step = stages.translate(chat, TRANSLATE, FOX)
    assert step.text == FOX and step.fallback == "not_translated" and step.language is None
    assert step.record()["fallback"] == "not_translated"


def test_a_demo_model_keeps_the_original_without_a_call():
    chat = Recorded()
    step = stages.translate(chat, TRANSLATE, FOX, reliable=False)
    assert step.text == FOX and step.fallback == "not_translated" and chat.calls == []


def test_a_failed_interception_keeps_its_input_and_says_so():
    chat = Recorded("The INPUT is a fox. The CONTEXT says paper.", "Sure! Here is the transformed text.")
    outcome = stages.intercept(chat, MANIPULATE, "Everything is made of paper.", "a fox in the snow")
    assert outcome.text == "a fox in the snow" and outcome.iterations[0].fallback == "interception_kept_input"


FOX_EN = "A red fox sleeps in the deep snow under a full moon, its tail curled around its paws."
LOST = ["a beautiful landscape, mountains at sunset, dramatic sky, high detail, 8k",
        "Stable Diffusion turns a description into a picture, photo, soft light, vivid colour mood"]


@pytest.mark.parametrize("answer", LOST)
def test_an_optimization_that_loses_the_subject_is_caught(answer):
    found = quality.review(answer, FOX_EN, "optimization")
    assert "lost_subject" in found.problems, found


def test_a_good_optimization_keeps_the_subject_and_passes():
    answer = "red fox sleeping in deep snow, tail curled around paws, full moon, night, photo, cold blue light"
    assert quality.review(answer, FOX_EN, "optimization").ok


def test_an_optimization_into_another_language_is_not_compared_word_by_word():
    answer = "red fox sleeping in deep snow under the full moon, night, photo, cold blue light"
    assert quality.review(answer, "Ein roter Fuchs schläft im tiefen Schnee unter dem Vollmond", "optimization").ok


def sd35():
    """The shipped SD 3.5 output chunk (its optimization instruction is the CONTEXT)."""
    return Catalog(Config().SCHEMAS_DIR, MODEL_ROLES).load().output_chunk("sd35_large")


def test_an_optimization_that_loses_the_subject_twice_keeps_the_previous_text():
    chat = Recorded(*LOST)
    step = stages.optimize(chat, OPTIMIZE, sd35(), FOX_EN, "en")
    assert step.text == FOX_EN and step.fallback == "optimization_kept_input" and len(chat.calls) == 2
    assert step.record()["quality"]["problems"] == ["lost_subject"]


def test_the_demo_model_keeps_a_german_text_instead_of_rewriting_it_in_english():
    chat = Recorded()
    step = stages.optimize(chat, OPTIMIZE, sd35(), FOX, "de", reliable=False)
    assert step.text == FOX and step.fallback == "optimization_kept_input" and chat.calls == []
    english = stages.optimize(Recorded("red fox sleeping in deep snow, full moon, tail curled around paws, photo"),
                              OPTIMIZE, sd35(), FOX_EN, "en", reliable=False)
    assert english.fallback is None and "fox" in english.text  # English text: the demo model still rewrites it

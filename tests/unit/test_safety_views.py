"""Views of a text (clean, skeleton, numbers, symbols, squeezed) and the filter's robustness on hostile input."""
from __future__ import annotations

import json
import random

import pytest

from devserver.engine.language import detect, looks_english
from devserver.errors import ConfigError
from devserver.safety.policy import load_policy
from devserver.safety.terms import TermList, resolve_list
from devserver.safety.views import clean, numbers, skeleton

LIMIT = 5000  # the documented input limit (docs/API.md)


@pytest.fixture(scope="module")
def filt():
    return load_policy().filter


def hit_views(filt, text, level="kids"):
    found = filt.assess(text, level)
    return found.outcome, {h.view for h in found.hits}


def test_clean_reads_an_rtl_override_in_display_order_and_drops_invisible_characters():
    assert clean("sw\u202eakitsa\u202c") == "swastika"
    assert clean("Ha\u200bken\u00adkr\u2060euz\ufeff") == "Hakenkreuz"
    assert clean("ＨＩＴＬＥＲ") == "HITLER"


def test_skeleton_maps_look_alikes_from_other_scripts_to_latin():
    assert skeleton(clean("Нakenkreuz")) == "Hakenkreuz"  # Cyrillic capital EN
    assert skeleton("K\u0308o\u0308ka\u0308in") == "Kokain"  # loose marks go in this view


@pytest.mark.parametrize("text, expected", [
    ("achtundachtzig Grüße", "88 Grüße"), ("HH eighty-eight", "HH 88"), ("Tattoo XIV LXXXVIII", "Tattoo 14 88"),
    ("Der Code 1.488", "Der Code 1488"),
])
def test_numbers_view_writes_codes_as_digits(text, expected):
    assert numbers(clean(text), number_words=True) == expected


@pytest.mark.parametrize("text", ["Ludwig XIV baute Versailles", "Nacht und Garten", "ein Hund", "Kapitel XIV"])
def test_numbers_view_leaves_ordinary_text_alone(text):
    assert numbers(clean(text), number_words=True) is None


@pytest.mark.parametrize("text, view", [
    ("Soldaten rufen Ѕіеg Неіl", "skeleton"), ("Ein Tattoo mit vierzehn achtundachtzig", "numbers"),
    ("ᛋᛋ auf dem Kragen", "symbol"), ("Eine Fahne mit 卐", "symbol"), ("H i t l e r j u g e n d", "text"),
])
def test_each_view_catches_its_own_trick_and_says_so(filt, text, view):
    outcome, views = hit_views(filt, text)
    assert outcome == "block" and view in views


@pytest.mark.parametrize("text", [
    "Rechne 18 mal 28", "14 + 88 = 102", "Der Berg ist 1.488 Meter hoch", "Das Klavier hat achtundachtzig Tasten",
    "Ludwig XIV baute Versailles", "a hero in the story", "a water gun fight in the garden", "Gewitter ⚡ über den Bergen",
    "Кошка спит на диване", "Burza gwałtowna nad morzem", "猫がソファで寝ている",
])
def test_ordinary_text_in_any_view_is_not_blocked(filt, text):
    assert filt.assess(text, "kids").outcome != "block"


def test_two_lightning_emoji_alone_ask_the_verifier_but_block_next_to_a_code(filt):
    assert filt.assess("Pikachu ⚡⚡", "kids").outcome == "verify"
    assert filt.assess("⚡⚡ 88 Tattoo", "kids").outcome == "block"


def _hostile_texts() -> dict[str, str]:
    rng = random.Random(86)
    return {
        "10,000 combining marks": "a" + "\u0301" * 10_000,
        "10,000 mixed combining marks": "".join(rng.choice("\u0301\u0316\u0334\u0345\u0488\u05b0\u0610\u064b")
                                                for _ in range(10_000)),
        "lone surrogates": "".join(chr(rng.randrange(0xD800, 0xE000)) for _ in range(LIMIT)),
        "surrogate inside a term": "Haken\ud800kreuz",
        "unassigned code points": "".join(chr(c) for c in range(0x0870, 0x0870 + LIMIT)),
        "private use and noncharacters": "\ue000\uf8ff\ufdd0\uffff\U0010ffff" * (LIMIT // 5),
        "random code points of every plane": "".join(chr(rng.randrange(0x20, 0x110000)) for _ in range(LIMIT)),
        "bidi controls only": "\u202e\u202d\u2066\u2069\u202c" * (LIMIT // 5),
        "runes": "".join(chr(rng.randrange(0x16A0, 0x16F1)) for _ in range(LIMIT)),
        "emoji ZWJ sequences": "👨\u200d👩\u200d👧\u200d👦" * (LIMIT // 7),
        "digits of many systems": "".join(rng.choice("0123456789٠١٢٣٤٥٦٧٨٩۰۱۲۳۴۵۶۷۸۹०१२३४५६७८९１２３ⅫⅧ") for _ in range(LIMIT)),
    }


@pytest.mark.parametrize("name", list(_hostile_texts()))
def test_hostile_input_gets_a_verdict_without_crashing(filt, name):
    text = _hostile_texts()[name]
    for level in ("kids", "adult"):
        assert filt.assess(text, level).outcome in ("allow", "verify", "block")


def test_a_term_hidden_behind_a_surrogate_is_still_found(filt):
    assert filt.assess("Haken\ud800kreuz", "kids").outcome == "block"


def test_symbol_lists_must_name_a_source_and_use_non_ascii_characters():
    base = {"name": "t", "description": "d", "actions": {lv: "block" for lv in ("kids", "youth", "adult", "research")},
            "sources_required": True}
    with pytest.raises(ValueError, match="no source"):
        TermList.model_validate({**base, "groups": [{"category": "p86a", "match": "symbol",
                                                     "entries": [{"term": "卐"}]}]})
    ascii_symbol = TermList.model_validate({**base, "groups": [{"category": "p86a", "match": "symbol",
                                                                "entries": [{"term": "SS", "source": "x"}]}]})
    with pytest.raises(ConfigError, match="non-ASCII"):
        resolve_list(ascii_symbol, "t.json")


def test_every_term_from_another_language_names_its_source():
    from config import ROOT
    for name in ("languages.json", "symbols.json"):
        data = json.loads((ROOT / "schemas" / "safety" / name).read_text(encoding="utf-8"))
        assert data["sources_required"] is True
        assert all(entry["source"] for group in data["groups"] for entry in group["entries"])


@pytest.mark.parametrize("text, code", [
    ("Un chat qui dort sur le canapé au soleil", "fr"), ("Ein Drache fliegt über die Burg", "de"),
    ("A dragon flies over the castle", "en"), ("Bir kedi bahçede oynuyor", "tr"), ("گربه روی مبل خوابیده است", "fa"),
])
def test_language_is_identified_by_the_bundled_model(text, code):
    assert detect(text) == code


def test_a_french_sentence_is_not_taken_for_english():
    assert not looks_english("Une maison avec un jardin et un chat")
    assert looks_english("A house with a garden and a cat")
    assert detect("!!! 123") is None


def test_typographic_quotes_are_not_a_rune_symbol():
    from devserver.safety.service import build_safety
    from config import Config

    safety = build_safety(Config(), None, conservative=True)
    quoted = "Die Bauhaus-Schule sagt „Form folgt Funktion“ und baut aus ‚Kreis‘ und ”Quadrat”."
    assert safety.check("rules", quoted, "kids").decision == "allow"
    assert safety.check("rules", "Fahne mit ᛌᛌ", "kids").decision == "block"

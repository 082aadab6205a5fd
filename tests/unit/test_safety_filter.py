"""The fast term filter: obfuscations hit, near-misses pass, context rules and levels behave."""
from __future__ import annotations

import pytest

from devserver.safety.policy import load_policy


@pytest.fixture(scope="module")
def terms():
    return load_policy().filter


@pytest.mark.parametrize("text", [
    "Hakenkreuz", "HAKENKREUZ", "Häkenkreuz", "H@kenkreuz", "h4k3nkr3uz", "Hakenkreutz", "Hackenkreuz",
    "h-a-k-e-n-k-r-e-u-z", "H a k e n k r e u z", "Haken kreuz", "Hakenkreuzfahne über dem Dorf",
    "Hakenkreuzflagge", "Hakenkreuze aus Lego", "swaaastika", "$wastika", "sw4st1ka", "s.w.a.s.t.i.k.a",
    "Swastica", "ＳＷＡＳＴＩＫＡ", "Накеnкrеuz", "Haken\u200bkreuz", "sieg-heil", "SIEG HEIL!!!", "Sieg H3il",
    "S1eg H31l", "Seig Heil", "heil hittler", "Heil H!tler", "S.S.-Runen", "SS-Rünen", "a banner with ss runes",
    "Blood & Honour", "blut und ehre", "Meine Ehre heisst Treue", "1488", "14/88", "14 88", "1 4 8 8",
    "Graffiti mit HH und 88", "HH88", "88 und 18 auf einer Jacke", "Wolfsangl", "N.S.D.A.P.",
])
def test_obfuscated_p86a_blocks_at_every_level(terms, text):
    for level in ("kids", "youth", "adult", "research"):
        result = terms.assess(text, level)
        assert result.outcome == "block", (text, level, result.describe())
        assert result.category == "p86a"


@pytest.mark.parametrize("text", [
    "Heilpflanzen im Garten", "Siegerehrung beim Sportfest", "Kreuzfahrtschiff im Hafen", "Das Schloss am See",
    "Ein Klavier mit 88 Tasten", "Heiligabend mit Kerzen", "die Sieger des Wettbewerbs", "Viel Spaß beim Malen",
    "Messe in der Kirche", "Ein Bus mit der Nummer 18", "Oma wird 88 Jahre alt", "Ein Buch für 14.88 Euro",
    "Der Sieg heilt alle Wunden", "Wir feiern den Sieg, weil wir gewonnen haben", "Landsmann auf dem Markt",
    "Der Waffenschmied schmiedet ein Schwert", "Ein Adler über den Alpen", "Ein reicher König",
    "Das rote Kreuz hilft", "a red cross on a tent", "Schwarze Sonne über dem Meer", "Totenkopf-Schwärmer",
    "Eine Blüte im Frühling", "a glass of classic lemonade", "a shooting star", "Ein Junge schießt ein Tor",
    "a killer whale", "blood orange juice", "a rapeseed field", "the heroine of the story", "Heilbronn",
    "Ein Hamburger Kennzeichen HH", "Die SS Titanic", "white powder snow", "a hit list of songs",
])
def test_near_misses_pass_at_kids(terms, text):
    result = terms.assess(text, "kids")
    assert result.outcome == "allow", (text, result.describe())


def test_ambiguous_code_needs_verification_not_a_block(terms):
    result = terms.assess("Ein T-Shirt mit einer großen 88", "kids")
    assert result.outcome == "verify"
    assert result.matched_terms == ("88",)


def test_context_word_makes_an_ordinary_word_suspicious(terms):
    assert terms.assess("Ein rotes Kreuz", "kids").outcome == "allow"
    assert terms.assess("Ein Kreuz mit Haken an den Enden", "kids").outcome == "verify"


def test_age_terms_depend_on_level(terms):
    text = "Ein blutiges Massaker"
    assert [terms.assess(text, lv).outcome for lv in ("kids", "youth", "adult", "research")] == \
        ["block", "block", "allow", "allow"]
    assert terms.assess("a girl in a bikini", "kids").outcome == "block"
    assert terms.assess("a girl in a bikini", "youth").outcome == "allow"


def test_inflections_and_compounds(terms):
    assert terms.assess("Massakern", "youth").outcome == "block"
    assert terms.assess("Suizidgedanken", "youth").outcome == "block"
    assert terms.assess("Wolfsangelegenheiten", "kids").outcome == "allow"  # about wolves


def test_most_serious_category_names_the_verdict(terms):
    result = terms.assess("Ein blutiges Hakenkreuz", "kids")
    assert result.outcome == "block" and result.category == "p86a"
    assert set(result.matched_terms) >= {"Hakenkreuz", "blutig"}


@pytest.mark.parametrize("text", ["14 hundred eighty-eight sticker", "14 hundert achtundachtzig", "14 hundred 88",
                                  "1 thousand 4 hundred 88", "vierzehnhundert 88"])
def test_digits_and_number_words_mixed_read_as_one_number(terms, text):
    """Issue 9: "14 hundred eighty-eight" is 1488, however digits and words are mixed."""
    result = terms.assess(text, "kids")
    assert result.outcome == "block" and "1488" in result.matched_terms


@pytest.mark.parametrize("text", ["5 hundred people at the fair", "Das kostet 3 hundert Euro", "Im Jahr 14 hundred"])
def test_hundreds_in_ordinary_use_pass(terms, text):
    assert terms.assess(text, "kids").outcome == "allow"


@pytest.mark.parametrize("spoofed, plain", [("Sieg Heiӏ", "Sieg Heil"), ("HEIӀ HITLER", "HEIL HITLER"),
                                            ("Adoӏf Hitӏer", "Adolf Hitler")])
def test_palochka_reads_as_l(terms, spoofed, plain):
    """Issue 9: the Cyrillic palochka (U+04CF, U+04C0) typed for l/I gets the verdict of the plain text."""
    for level in ("kids", "youth"):
        got, want = terms.assess(spoofed, level), terms.assess(plain, level)
        assert got.outcome == want.outcome != "allow" and set(got.matched_terms) == set(want.matched_terms)

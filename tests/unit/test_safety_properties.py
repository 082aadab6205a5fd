"""Property tests (hypothesis): rewriting a blocked term never unblocks it.

Each strategy applies one family of rewrites a determined teenager would try — TR39 look-alikes from
other scripts, invisible characters, bidi controls, combining marks, spacing and punctuation — at random
positions of a term that blocks at kids level, inside an ordinary sentence.
"""
from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from devserver.safety.policy import load_policy

TERMS = ["Hakenkreuz", "swastika", "Sieg Heil", "Heil Hitler", "Hitlerjugend", "Wolfsangel", "Waffen-SS",
         "Hakenkreuzfahne", "Schutzstaffel", "Kinderporno"]
CARRIERS = ["{}", "Ein Bild: {}", "draw {} please", "{} auf der Wand, bunt"]
# TR39 look-alikes (confusables.txt) of the letters in the terms: Cyrillic, Greek, small capitals, math letters.
LOOKALIKES = {
    "a": "аɑα𝐚𝒂ａ", "e": "еҽ𝐞ｅ", "o": "оοσ𝐨ｏ", "i": "іıɩӏ𝐢ｉ", "k": "κ𝐤ｋ", "n": "ո𝐧ｎ", "r": "г𝐫ｒ",
    "s": "ѕꜱ𝐬ｓ", "t": "𝐭ｔ", "u": "υʋ𝐮ｕ", "z": "ᴢ𝐳ｚ", "h": "һ𝐡ｈ", "g": "ɡ𝐠ｇ", "l": "ǀⅼ𝐥ｌ", "w": "ԝᴡ𝐰ｗ",
    "f": "𝐟ｆ", "c": "с𝐜ｃ", "p": "р𝐩ｐ", "j": "ј𝐣ｊ", "d": "ԁ𝐝ｄ", "v": "ν𝐯ｖ", "y": "у𝐲ｙ",
    "H": "НΗ𝐇Ｈ", "S": "ЅＳ𝐒", "W": "Ԝ𝐖Ｗ", "K": "КΚ𝐊Ｋ",
}
INVISIBLE = "\u200b\u200c\u200d\u2060\ufeff\u00ad\u180e\u034f\u200e\u200f"
BIDI = "\u202a\u202b\u202c\u202d\u2066\u2067\u2068\u2069"
MARKS = "\u0300\u0301\u0302\u0303\u0308\u030a\u0323\u0331\u0332\u0336\u0337\u0338\u20e3"
GAPS = [" ", ".", "-", "_", " . ", "  ", "*", "/"]

FILTER = load_policy().filter
SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _sentence(draw, word: str) -> str:
    return draw(st.sampled_from(CARRIERS)).format(word)


def assert_blocked(text: str) -> None:
    assert FILTER.assess(text, "kids").outcome == "block", repr(text)


@st.composite
def confusable(draw):
    term = draw(st.sampled_from(TERMS))
    return _sentence(draw, "".join(draw(st.sampled_from(LOOKALIKES[c])) if c in LOOKALIKES and draw(st.booleans())
                                   else c for c in term))


@st.composite
def invisible(draw):
    term = draw(st.sampled_from(TERMS))
    return _sentence(draw, "".join(c + (draw(st.sampled_from(INVISIBLE)) if draw(st.booleans()) else "") for c in term))


@st.composite
def bidi(draw):
    term = draw(st.sampled_from(TERMS))
    if draw(st.booleans()):  # stored reversed, displayed in order by a right-to-left override
        return _sentence(draw, "\u202e" + term[::-1] + "\u202c")
    return _sentence(draw, "".join(c + (draw(st.sampled_from(BIDI)) if draw(st.booleans()) else "") for c in term))


@st.composite
def combining(draw):
    term = draw(st.sampled_from(TERMS))
    return _sentence(draw, "".join(c + "".join(draw(st.lists(st.sampled_from(MARKS), max_size=4))) if c != " " else c
                                   for c in term))


@st.composite
def spacing(draw):
    term = draw(st.sampled_from(TERMS)).replace(" ", "")
    gap = draw(st.sampled_from(GAPS))
    if draw(st.booleans()):  # every letter apart: "H a k e n k r e u z"
        return _sentence(draw, gap.join(term))
    cut = draw(st.integers(1, 2))  # a one- or two-letter fragment split off: "H akenkreuz", "hi tler"
    return _sentence(draw, term[:cut] + gap + term[cut:] if draw(st.booleans()) else term[:-cut] + gap + term[-cut:])


@pytest.mark.parametrize("strategy", [confusable, invisible, bidi, combining, spacing],
                         ids=["confusable", "zero-width", "bidi", "combining-mark", "spacing"])
def test_a_rewritten_blocked_term_is_still_blocked(strategy):
    @SETTINGS
    @given(strategy())
    def check(text):
        assert_blocked(text)

    check()


def test_every_term_used_here_blocks_as_written():
    for term in TERMS:
        assert_blocked(term)

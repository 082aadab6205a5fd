"""Cheap language facts for the pipeline: is a text already English, and what a code is called.

The guess only decides whether translation can be skipped; when unsure it says "not English" so the
text goes through the translation model (the safe direction: a needless translation costs a second).
"""
from __future__ import annotations

import re

NAMES = {
    "de": "German", "en": "English", "fr": "French", "es": "Spanish", "it": "Italian", "pt": "Portuguese",
    "nl": "Dutch", "pl": "Polish", "tr": "Turkish", "ja": "Japanese", "zh": "Chinese", "ko": "Korean",
    "sw": "Swahili", "fi": "Finnish", "sv": "Swedish", "da": "Danish", "no": "Norwegian", "ru": "Russian",
    "uk": "Ukrainian", "ar": "Arabic", "el": "Greek", "hu": "Hungarian", "cs": "Czech", "hi": "Hindi",
    "la": "Latin", "eo": "Esperanto",
}
EN_WORDS = frozenset(
    "the a an and or of in on at to with without is are was were be been it its this that these those "
    "for from by as my your his her our their i you he she we they not no very into over under".split())
NON_EN_WORDS = frozenset(
    "der die das ein eine einen einem und oder ist sind mit ohne auf im in den dem des zu von für nicht "
    "ich du er sie wir ihr es le la les un une et est avec sans el los las y con sin il lo gli e di che "
    "het een en van de ist auch über unter".split()) - EN_WORDS
WORD = re.compile(r"[^\W\d_]+", re.UNICODE)


def language_name(code: str) -> str:
    """Return the English name of a language code (the code itself when unknown)."""
    return NAMES.get(code, code)


def looks_english(text: str) -> bool:
    """Guess whether a text is English: ASCII letters and more English than other function words."""
    words = [w.lower() for w in WORD.findall(text)]
    if not words:
        return True
    if any(not w.isascii() for w in words):
        return False
    en = sum(w in EN_WORDS for w in words)
    other = sum(w in NON_EN_WORDS for w in words)
    if other > en:
        return False
    # Without any English function word ("Katze Hund", "cat") we cannot tell: translate to be safe.
    return en > 0

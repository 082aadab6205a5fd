"""Language facts for the pipeline: which language a text is in, and what a code is called.

Identification uses py3langid (the langid.py model, bundled in the package; ~0.2 ms a text, loaded once
on first use). When the model is unsure it answers None, and callers treat None as "not English" so the
text goes through the translation model and both versions are checked (the safe direction: a needless
translation costs a second, a skipped one could let another language past the term lists).
"""
from __future__ import annotations

import re
import threading

NAMES = {
    "de": "German", "en": "English", "fr": "French", "es": "Spanish", "it": "Italian", "pt": "Portuguese",
    "nl": "Dutch", "pl": "Polish", "tr": "Turkish", "ja": "Japanese", "zh": "Chinese", "ko": "Korean",
    "sw": "Swahili", "fi": "Finnish", "sv": "Swedish", "da": "Danish", "no": "Norwegian", "ru": "Russian",
    "uk": "Ukrainian", "ar": "Arabic", "el": "Greek", "hu": "Hungarian", "cs": "Czech", "hi": "Hindi",
    "la": "Latin", "eo": "Esperanto", "ro": "Romanian", "fa": "Persian", "ku": "Kurdish", "sr": "Serbian",
    "hr": "Croatian", "bs": "Bosnian", "sq": "Albanian",
}
MIN_CONFIDENCE = 0.5  # below this (typical for one or two words) the answer is "unknown"
WORD = re.compile(r"[^\W\d_]+", re.UNICODE)
_lock = threading.Lock()
_identifier = None


def _model():
    """Load the bundled model once (a few seconds, ~100 MB with numpy), whichever thread asks first."""
    global _identifier
    if _identifier is None:
        with _lock:
            if _identifier is None:
                from py3langid.langid import MODEL_DIR, MODEL_FILE, LanguageIdentifier
                _identifier = LanguageIdentifier.from_modelpath(MODEL_DIR / MODEL_FILE, norm_probs=True)
    return _identifier


def detect(text: str) -> str | None:
    """Return the ISO 639-1 code of the text's language, or None when it has no words or the model is unsure."""
    if not WORD.search(text):
        return None
    code, confidence = _model().classify(text)
    return code if confidence >= MIN_CONFIDENCE else None


def language_name(code: str) -> str:
    """Return the English name of a language code (the code itself when unknown)."""
    return NAMES.get(code, code)


def looks_english(text: str) -> bool:
    """Tell whether a text is confidently English (a text without words counts as English: nothing to translate)."""
    if not WORD.search(text):
        return True
    return detect(text) == "en"

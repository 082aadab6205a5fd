"""Symbols typed as characters (swastika code points, rune letters, emoji sequences), found in the cleaned text.

Symbol terms are not transliterated — anyascii reads "卐" as "Wan" and "ᛋᛋ" as "ss" — so they are matched on
the characters themselves, in the cleaned text and in its TR39 skeleton, with spaces and ASCII punctuation
between them removed ("ᛋ ᛋ", "⚡.⚡"). Only texts with characters beyond Latin Extended-A can hold one, so the
filter skips German, English and other Latin-script texts.
"""
from __future__ import annotations

import re

from devserver.safety.terms import Term
from devserver.safety.views import skeleton

_GAPS = re.compile(r"[\s!-/:-@\[-`{-~]+")


class SymbolIndex:
    """Every symbol term as one alternation, longest first (so "ᛋᛋ" wins over "ᛋ")."""

    def __init__(self, terms: list[Term]):
        self._terms: dict[str, list[Term]] = {}
        for term in terms:
            for keys in term.keys:
                self._terms.setdefault(keys[0], []).append(term)
                # A skeleton made of ASCII alone ("ᛌᛌ" → "''") would match ordinary quotes („so“ → "''").
                if not skeleton(keys[0]).isascii():
                    self._terms.setdefault(skeleton(keys[0]), []).append(term)
        ordered = sorted(self._terms, key=len, reverse=True)
        self._pattern = re.compile("|".join(map(re.escape, ordered))) if ordered else None

    def scan(self, cleaned: str) -> list[tuple[Term, str, str]]:
        """Return (term, symbol found, view) for each symbol in a cleaned text (callers skip texts that do not
        `needs_skeleton`: every symbol lies beyond Latin Extended-A)."""
        if self._pattern is None:
            return []
        found: list[tuple[Term, str, str]] = []
        squeezed = _GAPS.sub("", cleaned)
        for view, text in (("symbol", squeezed), ("symbol_skeleton", skeleton(squeezed))):
            for match in self._pattern.finditer(text):
                found.extend((term, match.group(), view) for term in self._terms[match.group()])
        return found

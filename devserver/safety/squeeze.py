"""Whole terms written across word boundaries ("hi tler", "Sie g Heil", "he-roin"): the squeezed view.

The text's keys are read as one string (spaces and punctuation gone) and searched for every word term at
once (Aho-Corasick). A match counts only if it starts where a word starts and ends where a word ends, and
spans more than one word — a term inside a longer word is the compound matcher's business. Only splits
with a fragment of one or two letters count ("hi tler", "he-roin"): two longer words side by side are
usually a compound written apart ("water gun fight"), which the fuzzy pair matcher judges. A split with
a complete function word ("a hero in the story", "Mur der Stadt") is ordinary language and is ignored.
"""
from __future__ import annotations

from bisect import bisect_right
from itertools import accumulate
from typing import Iterable

import ahocorasick

from devserver.safety.terms import Term

SPLIT_FRAGMENT = 2  # a split term has a fragment this short
MIN_SQUEEZED = 5  # shorter terms ("SS", "HH", "sex") have too many harmless neighbours when squeezed


class SqueezeIndex:
    """Word terms keyed by their joined form, for matching over the squeezed text."""

    def __init__(self, forms: Iterable[tuple[str, Term]], function_words: frozenset[str]):
        self._automaton = ahocorasick.Automaton()
        self._function_words = function_words
        grouped: dict[str, list[Term]] = {}
        for form, term in forms:
            if len(form) >= MIN_SQUEEZED and form.isalpha():
                grouped.setdefault(form, []).append(term)
        for form, terms in grouped.items():
            self._automaton.add_word(form, (form, tuple(terms)))
        self._empty = not grouped
        if grouped:
            self._automaton.make_automaton()

    def scan(self, keys: list[str]) -> list[tuple[Term, str]]:
        """Return (term, matched words) for each term that spans whole words of `keys` (callers skip texts without
        a word of `SPLIT_FRAGMENT` letters or fewer: nothing can match there)."""
        if self._empty or len(keys) < 2:
            return []
        joined = "".join(keys)
        ends: list[int] = []
        end_set: set[int] = set()
        found = []
        for last, (form, terms) in self._automaton.iter(joined):
            if not ends:  # word offsets only once a term is in the text at all
                ends = list(accumulate(map(len, keys)))
                end_set = set(ends)
            end = last + 1
            begin = end - len(form)
            if end not in end_set or (begin and begin not in end_set):  # not aligned to whole words
                continue
            first = bisect_right(ends, begin)
            final = ends.index(end)
            if final == first:
                continue
            words = keys[first:final + 1]
            if any(word in self._function_words for word in words) or min(map(len, words)) > SPLIT_FRAGMENT:
                continue
            found.extend((term, " ".join(words)) for term in terms)
        return found

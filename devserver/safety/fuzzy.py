"""Find terms within a small edit distance of a word, fast enough to run on every word of every prompt.

Allowed distance grows with the term: 1 edit for terms of 6–9 letters, 2 for 10 or more, none below 6
(short words have too many harmless neighbours). Edits are insertions, deletions, substitutions and
swaps of neighbours (optimal string alignment distance, computed by `rapidfuzz` in C++).

Two edits count only when the word keeps the term's first and last letter ("Forstwesen" is not "Horst
Wessel"), and one edit never changes both ends of a word of five or more letters. So a term can only be
near a word that shares its first or its last letter: the index keeps the terms by first and by last
letter, and a word is compared only with those of a fitting length — a handful of C calls instead of a
comparison with every term.
"""
from __future__ import annotations

from typing import Generic, Iterable, TypeVar

from rapidfuzz.distance import OSA

from devserver.safety.memo import Memo

T = TypeVar("T")
MIN_LENGTH = 6


def allowed_distance(length: int) -> int:
    """Return how many edits a term of this length tolerates."""
    return 0 if length < MIN_LENGTH else 1 if length < 10 else 2


def osa_distance(a: str, b: str, limit: int) -> int:
    """Return the optimal-string-alignment distance of a and b, or limit + 1 once it must exceed limit."""
    return OSA.distance(a, b, score_cutoff=limit)


class FuzzyIndex(Generic[T]):
    """Terms (by key) reachable from a word within their allowed distance."""

    def __init__(self, items: Iterable[tuple[str, T]]):
        self._values: dict[str, list[T]] = {}
        for key, value in items:
            if allowed_distance(len(key)):
                self._values.setdefault(key, []).append(value)
        lengths = [len(k) for k in self._values] or [0]
        self._min, self._max = MIN_LENGTH - 1, max(lengths) + 2
        self._near: Memo[str, tuple[tuple[str, int, bool], ...]] = Memo(self._candidates)  # by a word's two ends

    def _candidates(self, ends: str) -> tuple[tuple[str, int, bool], ...]:
        """Return (key, edits allowed, both ends equal) for the keys that begin with ends[0] or end with ends[1]."""
        first, last = ends
        return tuple((key, allowed_distance(len(key)), key[0] == first and key[-1] == last)
                     for key in self._values if key[0] == first or key[-1] == last)

    def lookup(self, word: str) -> tuple[tuple[str, T], ...]:
        """Return (term key, value) pairs within the allowed distance of `word` (excluding exact equality)."""
        size = len(word)
        if not self._min <= size <= self._max:
            return ()
        out: list[tuple[str, T]] = []
        for key, limit, same_ends in self._near[word[0] + word[-1]]:
            if abs(len(key) - size) > limit or key == word:
                continue
            # Two edits only with the same first and last letter: "Forstwesen" is not "Horst Wessel".
            cutoff = limit if same_ends else 1
            if OSA.distance(word, key, score_cutoff=cutoff) <= cutoff:
                out.extend((key, value) for value in self._values[key])
        return tuple(out)

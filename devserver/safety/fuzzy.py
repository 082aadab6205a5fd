"""Find terms within a small edit distance of a word, fast enough to run on every word of every prompt.

Allowed distance grows with the term: 1 edit for terms of 6–9 letters, 2 for 10 or more, none below 6
(short words have too many harmless neighbours). Edits are insertions, deletions, substitutions and
swaps of neighbours (optimal string alignment distance).

Candidates come from a deletion index: two strings within distance k share a string reachable by at
most k deletions from each, so the index holds every term with up to k letters deleted, and a word
looks up its own deletions — a few dictionary probes instead of a comparison with every term. Results
are cached per word because prompts repeat their vocabulary.
"""
from __future__ import annotations

from typing import Generic, Iterable, TypeVar

T = TypeVar("T")
MIN_LENGTH = 6
CACHE_LIMIT = 100_000


def allowed_distance(length: int) -> int:
    """Return how many edits a term of this length tolerates."""
    return 0 if length < MIN_LENGTH else 1 if length < 10 else 2


def osa_distance(a: str, b: str, limit: int) -> int:
    """Return the optimal-string-alignment distance of a and b, or limit + 1 once it must exceed limit."""
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    prev2: list[int] = []
    prev = list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        cur = [i] + [0] * len(b)
        best = i
        for j in range(1, len(b) + 1):
            cost = 0 if a[i - 1] == b[j - 1] else 1
            value = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                value = min(value, prev2[j - 2] + 1)
            cur[j] = value
            best = min(best, value)
        if best > limit:
            return limit + 1
        prev2, prev = prev, cur
    return prev[-1]


def _deletions(word: str, depth: int) -> set[str]:
    out = {word}
    frontier = {word}
    for _ in range(depth):
        frontier = {w[:i] + w[i + 1:] for w in frontier if len(w) > 1 for i in range(len(w))}
        out |= frontier
    return out


class FuzzyIndex(Generic[T]):
    """Terms (by key) reachable from a word within their allowed distance."""

    def __init__(self, items: Iterable[tuple[str, T]]):
        self._values: dict[str, list[T]] = {}
        self._index: dict[str, set[str]] = {}
        for key, value in items:
            depth = allowed_distance(len(key))
            if depth == 0:
                continue
            self._values.setdefault(key, []).append(value)
            for variant in _deletions(key, depth):
                self._index.setdefault(variant, set()).add(key)
        lengths = [len(k) for k in self._values] or [0]
        self._min, self._max = MIN_LENGTH - 1, max(lengths) + 2
        self._cache: dict[str, tuple[tuple[str, T], ...]] = {}

    def lookup(self, word: str) -> tuple[tuple[str, T], ...]:
        """Return (term key, value) pairs within the allowed distance of `word` (excluding exact equality)."""
        if not self._min <= len(word) <= self._max:
            return ()
        found = self._cache.get(word)
        if found is None:
            found = self._search(word)
            if len(self._cache) >= CACHE_LIMIT:
                self._cache.clear()
            self._cache[word] = found
        return found

    def _search(self, word: str) -> tuple[tuple[str, T], ...]:
        depth = 2 if len(word) >= 8 else 1
        keys: set[str] = set()
        for variant in _deletions(word, depth):
            keys.update(self._index.get(variant, ()))
        out = []
        for key in keys:
            limit = allowed_distance(len(key))
            if key == word:
                continue
            distance = osa_distance(word, key, limit)
            # Two edits only with the same first and last letter: "Forstwesen" is not "Horst Wessel".
            if distance <= min(limit, 1) or (distance == 2 <= limit and word[0] == key[0] and word[-1] == key[-1]):
                out.extend((key, value) for value in self._values[key])
        return tuple(out)
